import assert from "node:assert/strict";
import { test } from "node:test";

import { Drafts } from "../../messaging/static/messaging/js/drafts.js";
import { MemoryStorage } from "../../messaging/static/messaging/js/protocol/outbox.js";

test("a draft is kept per conversation and comes back from the same storage", () => {
  const storage = new MemoryStorage();
  new Drafts(storage, "alice").set({ id: 1 }, "half a thought");
  new Drafts(storage, "alice").set({ id: 2 }, "another");
  const again = new Drafts(storage, "alice");
  assert.equal(again.get({ id: 1 }), "half a thought");
  assert.equal(again.get({ id: 2 }), "another");
});

test("drafts of two users sharing a browser never mix", () => {
  const storage = new MemoryStorage();
  new Drafts(storage, "alice").set({ id: 1 }, "alice's words");
  assert.equal(new Drafts(storage, "bob").get({ id: 1 }), "");
});

test("clearing, or a draft of only whitespace, leaves no key behind", () => {
  const storage = new MemoryStorage();
  const drafts = new Drafts(storage, "alice");
  drafts.set({ id: 1 }, "hello");
  drafts.clear({ id: 1 });
  drafts.set({ id: 2 }, "  \n ");
  assert.equal(storage.items.size, 0);
});

test("a direct chat's draft follows it to its conversation once it has one", () => {
  const drafts = new Drafts(new MemoryStorage(), "alice");
  drafts.set({ peer: "bob" }, "hi bob");
  drafts.adopt("bob", 9);
  assert.equal(drafts.get({ id: 9 }), "hi bob");
  assert.equal(drafts.get({ peer: "bob" }), "");
});

test("a storage that refuses writes loses the draft but does not throw", () => {
  const refusing = { getItem: () => null, setItem: () => { throw new Error("QuotaExceededError"); }, removeItem() {} };
  const drafts = new Drafts(refusing, "alice");
  drafts.set({ id: 1 }, "text");
  assert.equal(drafts.get({ id: 1 }), "");
});
