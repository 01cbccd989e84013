import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryStorage, Outbox } from "../../messaging/static/messaging/js/protocol/outbox.js";

let n = 0;
const makeId = () => `id-${++n}`;

test("entries persist through the storage and come back in a new outbox", () => {
  const storage = new MemoryStorage();
  const outbox = new Outbox({ storage, key: "k", makeId });
  const entry = outbox.add({ conversation: 7 }, "hello");
  const again = new Outbox({ storage, key: "k", makeId });
  assert.deepEqual(again.all(), [entry]);
  assert.equal(again.get(entry.client_id).state, "pending");
});

test("the storage key is removed once the outbox is empty", () => {
  const storage = new MemoryStorage();
  const outbox = new Outbox({ storage, key: "k", makeId });
  const entry = outbox.add({ conversation: 7 }, "hello");
  outbox.remove(entry.client_id);
  assert.equal(storage.getItem("k"), null);
});

test("broken or foreign storage content gives an empty outbox", () => {
  const storage = new MemoryStorage();
  storage.setItem("k", "{not json");
  assert.deepEqual(new Outbox({ storage, key: "k", makeId }).all(), []);
  storage.setItem("k", JSON.stringify([{ client_id: 1 }, { client_id: "a", content: "x" }]));
  assert.deepEqual(new Outbox({ storage, key: "k", makeId }).all(), []);
});

test("a storage that throws does not break the outbox for this page", () => {
  const storage = { getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("quota"); }, removeItem() {} };
  const outbox = new Outbox({ storage, key: "k", makeId });
  outbox.add({ conversation: 1 }, "still here");
  assert.equal(outbox.pending().length, 1);
});

test("a message to someone with no conversation yet is addressed by username", () => {
  const outbox = new Outbox({ storage: new MemoryStorage(), key: "k", makeId });
  const entry = outbox.add({ to: "bob" }, "first words");
  assert.deepEqual(Outbox.frame(entry), { type: "message", content: "first words", client_id: entry.client_id, to: "bob" });
  assert.deepEqual(outbox.forConversation(null, "bob"), [entry]);
  assert.deepEqual(outbox.forConversation(3, "carol"), []);
});
