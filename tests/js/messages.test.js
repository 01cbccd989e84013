import assert from "node:assert/strict";
import { test } from "node:test";

import { MessageStates } from "../../messaging/static/messaging/js/protocol/messages.js";
import { event } from "./helpers.js";

const msg = (seq, fields = {}) => event(1, seq, { sender: "alice", content: `m${seq}`, as_of: seq, reactions: [], reply_to: null, deleted: false, edited_at: null, ...fields });
const act = (seq, kind, target, fields = {}) => event(1, seq, { kind, target_seq: target, content: "", data: {}, sender: "bob", ...fields });

test("an edit replaces the text and marks the message edited", () => {
  const states = new MessageStates();
  states.take(msg(1));
  states.take(act(2, "edited", 1, { content: "fixed", sender: "alice" }));
  const view = states.view(1);
  assert.equal(view.content, "fixed");
  assert.ok(view.edited_at);
});

test("an older edit that arrives after a newer one does not win", () => {
  const states = new MessageStates();
  states.take(msg(1));
  states.take(act(3, "edited", 1, { content: "v3" }));
  states.take(act(2, "edited", 1, { content: "v2" }));
  assert.equal(states.view(1).content, "v3");
});

test("actions folded into a newer state are not applied twice", () => {
  const states = new MessageStates();
  states.take(act(2, "reaction_added", 1, { data: { emoji: "👍" }, sender: "bob" }));
  states.take(msg(1, { as_of: 3, reactions: [{ emoji: "👍", count: 1, users: ["bob"] }] }));
  states.take(act(3, "reaction_removed", 1, { data: { emoji: "👍" }, sender: "bob" }));
  assert.deepEqual(states.view(1).reactions, [{ emoji: "👍", users: ["bob"], count: 1 }]);
  states.take(act(4, "reaction_removed", 1, { data: { emoji: "👍" }, sender: "bob" }));
  assert.deepEqual(states.view(1).reactions, []);
});

test("a deletion is final and scrubs every copy of the text", () => {
  const states = new MessageStates();
  states.take(msg(1, { content: "secret" }));
  const edit = act(2, "edited", 1, { content: "secret 2" });
  states.take(edit);
  states.take(act(3, "deleted", 1, { sender: "alice" }));
  states.take(msg(1, { content: "secret", as_of: 1 })); // an old copy arriving late
  const view = states.view(1);
  assert.equal(view.deleted, true);
  assert.equal(view.content, "");
  assert.equal(edit.content, "");
  assert.ok(!JSON.stringify([...states.bases.values()]).includes("secret"));
});

test("a reply quotes the original as it is now, deleted included", () => {
  const states = new MessageStates();
  states.take(msg(1, { content: "Lunch?" }));
  states.take(msg(2, { sender: "bob", content: "Yes", reply_to: { seq: 1, sender: "alice", preview: "Lunch?", deleted: false } }));
  assert.equal(states.view(2).reply_to.preview, "Lunch?");
  const changed = states.take(act(3, "deleted", 1, { sender: "alice" }));
  assert.ok(changed.includes(2));
  assert.deepEqual({ ...states.view(2).reply_to, held: undefined }, { seq: 1, sender: "alice", preview: "", deleted: true, held: undefined });
});

test("hidden, cleared and deleted messages do not count", () => {
  const states = new MessageStates();
  for (const seq of [1, 2, 3, 4]) states.take(msg(seq));
  states.take(act(5, "deleted", 4));
  states.hide([2]);
  states.clear(1);
  assert.deepEqual([1, 2, 3, 4].filter((s) => states.counts(s)), [3]);
  states.take({ ...msg(3), hidden: true });
  assert.equal(states.shown(3), false);
});

test("↑ edits my newest message that is still there", () => {
  const states = new MessageStates();
  states.take(msg(1));
  states.take(msg(2, { sender: "bob" }));
  states.take(msg(3));
  states.take(act(4, "deleted", 3, { sender: "alice" }));
  assert.equal(states.lastOf("alice"), 1);
});

// --- any order, any repeats: the same view (a property test with a seeded generator) ---

function random(seed) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x ^ (x >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return x / 2 ** 32;
  };
}

test("whatever order and however often the events arrive, the view is the same as in order", () => {
  for (let seed = 1; seed <= 200; seed += 1) {
    const rnd = random(seed);
    const events = [msg(1), msg(2, { sender: "bob", reply_to: { seq: 1, sender: "alice", preview: "m1", deleted: false } })];
    let seq = 2;
    for (let i = 0; i < 12; i += 1) {
      seq += 1;
      const who = rnd() < 0.5 ? "alice" : "bob";
      const target = rnd() < 0.5 ? 1 : 2;
      const r = rnd();
      if (r < 0.3) events.push(act(seq, "edited", target, { content: `v${seq}`, sender: who }));
      else if (r < 0.6) events.push(act(seq, "reaction_added", target, { data: { emoji: rnd() < 0.5 ? "👍" : "🎉" }, sender: who }));
      else if (r < 0.9) events.push(act(seq, "reaction_removed", target, { data: { emoji: rnd() < 0.5 ? "👍" : "🎉" }, sender: who }));
      else events.push(act(seq, "deleted", target, { sender: who }));
    }
    const inOrder = new MessageStates();
    for (const e of events) inOrder.take(structuredClone(e));
    const shuffled = new MessageStates();
    const copies = [...events, ...events.filter(() => rnd() < 0.3)].map((e) => structuredClone(e));
    copies.sort(() => rnd() - 0.5);
    for (const e of copies) shuffled.take(e);
    for (const s of [1, 2]) {
      const a = inOrder.view(s);
      const b = shuffled.view(s);
      const norm = (v) => ({ ...v, reactions: v.reactions.map((r) => ({ ...r, users: [...r.users].sort() })).sort((x, y) => (x.emoji < y.emoji ? -1 : 1)) });
      assert.deepEqual(norm(b), norm(a), `seed ${seed}, message ${s}`);
    }
  }
});
