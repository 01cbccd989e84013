import assert from "node:assert/strict";
import { test } from "node:test";

import { answer, makeState, settle, summary } from "./helpers.js";

// Issue 17: the `settings` push (docs/protocol.md) and `mute`, as the tab applies them.

async function withBob() {
  const setup = makeState();
  answer(setup.state, setup.socket, "conversations", { conversations: [summary(1, { last_seq: 3, delivered_seq: 3, read_seq: 3 })], has_more: false, next: null });
  await settle();
  setup.state.handle({ type: "receipts", conversation: 1, receipts: [{ user: "bob", delivered_seq: 3, read_seq: 2, at: "2026-11-30T10:00:00Z" }] });
  return setup;
}

function bob(state) {
  return state.get(1).members.list().find((m) => m.username === "bob");
}

test("turning read receipts off in another tab hides the read positions this tab holds, not the deliveries", async () => {
  const { state } = await withBob();
  assert.deepEqual([bob(state).delivered_seq, bob(state).read_seq], [3, 2]);
  state.handle({ type: "settings", settings: { read_receipts: false } });
  assert.equal(state.readReceipts, false);
  assert.deepEqual([bob(state).delivered_seq, bob(state).read_seq], [3, 0]);
});

test("turning read receipts back on syncs the conversation on screen to get the read positions back", async () => {
  const { state, socket } = await withBob();
  state.setView(1);
  state.handle({ type: "settings", settings: { read_receipts: false } });
  const before = socket.ofType("sync").length;
  state.handle({ type: "settings", settings: { read_receipts: true } });
  assert.equal(socket.ofType("sync").length, before + 1);
  state.handle({ type: "settings", settings: { read_receipts: true } });
  assert.equal(socket.ofType("sync").length, before + 1); // no change, no sync
});

test("a mute is asked for over the socket and its answer marks the conversation muted until then", async () => {
  const { state, socket } = await withBob();
  const until = new Date(Date.now() + 3600e3).toISOString();
  const muting = state.mute(1, until);
  assert.deepEqual({ ...socket.last("mute"), ref: undefined }, { type: "mute", conversation: 1, until, ref: undefined });
  answer(state, socket, "mute", { type: "muted", conversation: 1, muted_until: until });
  await muting;
  assert.equal(state.isMuted(1), true);
  state.handle({ type: "muted", conversation: 1, muted_until: new Date(Date.now() - 1000).toISOString() });
  assert.equal(state.isMuted(1), false); // a mute whose time passed is over
});
