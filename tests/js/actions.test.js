import assert from "node:assert/strict";
import { test } from "node:test";

import { answer, event, makeState, settle, summary } from "./helpers.js";

async function withChat(events, fields = {}) {
  const setup = makeState();
  const last = events.at(-1)?.seq ?? 0;
  answer(setup.state, setup.socket, "conversations", { conversations: [summary(1, { last_seq: last, delivered_seq: last, ...fields })], has_more: false, next: null });
  await settle();
  setup.state.setView(1);
  setup.state.open(1);
  answer(setup.state, setup.socket, "history", { conversation: 1, events: [...events].reverse(), has_more: false });
  await settle();
  return setup;
}

const msg = (seq, fields = {}) => event(1, seq, { as_of: seq, reactions: [], reply_to: null, deleted: false, edited_at: null, ...fields });

test("an edit is a request with a client_id, and its ack changes the message", async () => {
  const { state, socket } = await withChat([msg(1, { sender: "alice", content: "helo" })]);
  const done = state.edit(1, 1, "hello");
  const frame = socket.last("edit");
  assert.deepEqual({ ...frame, ref: undefined, client_id: undefined }, { type: "edit", conversation: 1, seq: 1, content: "hello", ref: undefined, client_id: undefined });
  assert.ok(frame.client_id);
  state.handle({ type: "ack", ref: frame.ref, client_id: frame.client_id, event: event(1, 2, { kind: "edited", target_seq: 1, content: "hello", sender: "alice" }) });
  await done;
  assert.equal(state.messageView(1, 1).content, "hello");
  assert.equal(state.get(1).log.cursor, 2);
});

test("a pushed deletion shows the message deleted, and it no longer counts as unread", async () => {
  const { state } = await withChat([msg(1, { content: "secret" })], { read_seq: 0, unread: 1 });
  assert.equal(state.unread(1), 1);
  state.handle({ type: "event", event: event(1, 2, { kind: "deleted", target_seq: 1, content: "", sender: "bob" }) });
  assert.equal(state.messageView(1, 1).deleted, true);
  assert.equal(state.unread(1), 0);
});

test("delete for me from another tab hides the message here too, and the preview moves back", async () => {
  const { state } = await withChat([msg(1, { content: "first" }), msg(2, { content: "second" })], { read_seq: 2 });
  state.get(1).last_message = msg(2, { content: "second" });
  state.handle({ type: "hidden", conversation: 1, seqs: [2], cleared_seq: 0 });
  assert.equal(state.messageView(1, 2), null);
  assert.equal(state.get(1).last_message.seq, 1);
});

test("a reply goes out with reply_to and keeps it in the outbox", async () => {
  const { state, socket } = await withChat([msg(1)]);
  state.sendMessage({ conversation: 1 }, "yes", { replyTo: 1 });
  assert.equal(socket.last("message").reply_to, 1);
  assert.equal(state.outbox.all()[0].reply_to, 1);
});

test("jumping to an original far back asks for an around page, and loading older joins it to the rest", async () => {
  const { state, socket } = await withChat([msg(90), msg(91)], {}, );
  state.get(1).log.hasOlder = true;
  const jump = state.jumpTo(1, 10);
  answer(state, socket, "history", { conversation: 1, events: [msg(12), msg(11), msg(10), msg(9)], has_more: true, has_newer: true });
  assert.equal(await jump, true);
  assert.ok(state.hasIslands(1));
  state.loadHistory(1);
  assert.equal(socket.last("history").before, 90);
  answer(state, socket, "history", { conversation: 1, events: [msg(89), msg(12)], has_more: true });
  await settle();
  assert.equal(state.hasIslands(1), false);
  assert.equal(state.get(1).log.floor, 9);
});

test("a toggle takes my reaction back when it is there", async () => {
  const { state, socket } = await withChat([msg(1, { reactions: [{ emoji: "👍", count: 1, users: ["alice"] }] })]);
  state.toggleReaction(1, 1, "👍");
  assert.equal(socket.last("unreact").emoji, "👍");
  state.toggleReaction(1, 1, "🎉");
  assert.equal(socket.last("react").emoji, "🎉");
});
