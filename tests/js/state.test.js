import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryStorage } from "../../messaging/static/messaging/js/protocol/outbox.js";
import { answer, event, group, makeState, settle, summary } from "./helpers.js";

/** A connected state whose inbox answer named ``conversations``. */
async function withInbox(conversations, options = {}) {
  const setup = makeState(options);
  answer(setup.state, setup.socket, "conversations", { conversations, has_more: false, next: null });
  await settle();
  return setup;
}

// --- connecting ------------------------------------------------------------------

test("connecting asks for the inbox and says which conversation the tab shows", () => {
  const { socket } = makeState();
  assert.equal(socket.ofType("conversations").length, 1);
  assert.deepEqual(socket.last("view"), { type: "view", conversation: null });
});

test("view frames follow the conversation on screen and the tab's visibility, once per change", () => {
  const { state, socket } = makeState();
  state.setView(4);
  state.setView(4);
  state.setView(4, { visible: false });
  state.setView(4, { visible: true });
  assert.deepEqual(socket.ofType("view").map((f) => f.conversation), [null, 4, null, 4]);
});

// --- gaps and sync -----------------------------------------------------------------

test("an event that is not the next one makes a sync from the cursor, and its answer fills the gap", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 3, delivered_seq: 3, read_seq: 3 })]);
  state.handle({ type: "event", event: event(1, 5) });
  const sync = socket.last("sync");
  assert.deepEqual({ conversation: sync.conversation, after: sync.after }, { conversation: 1, after: 3 });
  answer(state, socket, "sync", { conversation: 1, events: [event(1, 4), event(1, 5)], has_more: false, last_seq: 5, receipts: [] });
  await settle();
  assert.equal(state.get(1).log.cursor, 5);
  assert.equal(socket.ofType("sync").length, 1);
});

test("the next event moves the cursor without any sync", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 3, delivered_seq: 3 })]);
  state.handle({ type: "event", event: event(1, 4) });
  assert.equal(state.get(1).log.cursor, 4);
  assert.equal(socket.ofType("sync").length, 0);
});

test("only one sync per conversation is in flight; has_more asks for the next page", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 1, delivered_seq: 1 })]);
  state.handle({ type: "event", event: event(1, 300) });
  state.handle({ type: "event", event: event(1, 301) });
  assert.equal(socket.ofType("sync").length, 1);
  const page = Array.from({ length: 100 }, (_, i) => event(1, i + 2));
  answer(state, socket, "sync", { conversation: 1, events: page, has_more: true, last_seq: 301, receipts: [] });
  await settle();
  assert.equal(socket.ofType("sync").length, 2);
  assert.equal(socket.last("sync").after, 101);
});

test("a failed sync is retried after a backoff", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2 })]);
  state.handle({ type: "event", event: event(1, 4) });
  const first = socket.last("sync");
  state.handle({ type: "error", code: "server_error", detail: "db", ref: first.ref });
  await settle();
  assert.equal(socket.ofType("sync").length, 1);
  clock.advance(1000);
  assert.equal(socket.ofType("sync").length, 2);
});

test("a conversation push for a conversation ending my membership syncs to the removal", async () => {
  const { state, socket } = await withInbox([group(2, ["alice", "bob", "carol"], { last_seq: 5, delivered_seq: 5, read_seq: 5, role: "member" })]);
  const removed = [];
  state.on("removed", ({ id }) => removed.push(id));
  state.handle({ type: "conversation", conversation: group(2, [], { last_seq: 6, left_seq: 6, delivered_seq: 5, read_seq: 5, role: null }) });
  assert.deepEqual(removed, [2]);
  assert.equal(socket.last("sync").after, 5);
  answer(state, socket, "sync", {
    conversation: 2,
    events: [event(2, 6, { kind: "member_removed", sender: "bob", data: { user: "alice" }, content: "" })],
    has_more: false, last_seq: 6, receipts: [],
  });
  await settle();
  assert.equal(state.get(2).log.cursor, 6);
  assert.equal(state.can(2, "rename"), false);
});

test("a live event of a conversation this tab never heard of asks for its summary", async () => {
  const { state, socket } = await withInbox([]);
  state.handle({ type: "event", event: event(9, 1, { sender: "carol" }) });
  const resume = socket.last("resume");
  assert.deepEqual(resume.cursors, { 9: 0 });
  answer(state, socket, "resume", { conversations: [{ ...summary(9, { peer: { username: "carol", online: true }, last_seq: 1, unread: 1 }), events: [], has_more: false, receipts: [] }] });
  await settle();
  assert.equal(state.get(9).name, "carol");
  assert.equal(state.unread(9), 1);
});

test("after a reconnect every conversation is resumed from its cursor", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2 }), summary(2, { last_seq: 7, delivered_seq: 7, peer: { username: "carol" } })]);
  state.disconnected();
  socket.clear();
  state.handle({ type: "connected", user: { username: "alice" } });
  answer(state, socket, "conversations", {
    conversations: [summary(1, { last_seq: 4, delivered_seq: 2 }), summary(2, { last_seq: 7, delivered_seq: 7, peer: { username: "carol" } })],
    has_more: false, next: null,
  });
  await settle();
  assert.deepEqual(socket.last("resume").cursors, { 1: 2, 2: 7 });
});

// --- the outbox ----------------------------------------------------------------------

test("a message goes out at once with a client_id and leaves the outbox on its ack", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2 })]);
  const entry = state.sendMessage({ conversation: 1 }, "hi");
  const frame = socket.last("message");
  assert.deepEqual(frame, { type: "message", content: "hi", client_id: entry.client_id, conversation: 1 });
  state.handle({ type: "ack", client_id: entry.client_id, event: event(1, 3, { sender: "alice", client_id: entry.client_id, content: "hi" }) });
  assert.equal(state.outbox.all().length, 0);
  assert.equal(state.get(1).log.cursor, 3);
});

test("what was typed while offline is sent after the reconnect with the same client_id", async () => {
  const storage = new MemoryStorage();
  const { state, socket } = await withInbox([summary(1, { last_seq: 2 })], { storage });
  state.disconnected();
  const entry = state.sendMessage({ conversation: 1 }, "while away");
  assert.equal(socket.ofType("message").length, 0);
  state.handle({ type: "connected", user: { username: "alice" } });
  const resent = socket.last("message");
  assert.equal(resent.client_id, entry.client_id);
  assert.equal(resent.content, "while away");
});

test("the outbox of a signed-out tab is sent by the next page of the same user", () => {
  const storage = new MemoryStorage();
  const before = makeState({ storage, connected: false });
  const entry = before.state.sendMessage({ to: "bob" }, "kept for later");
  const after = makeState({ storage });
  assert.equal(after.socket.last("message").client_id, entry.client_id);
  assert.equal(after.socket.last("message").to, "bob");
  assert.equal(makeState({ me: "carol", storage }).socket.ofType("message").length, 0);
});

test("an error frame for a client_id marks that message failed; retry resends it", async () => {
  const { state, socket } = await withInbox([summary(1)]);
  const entry = state.sendMessage({ conversation: 1 }, "too long");
  state.handle({ type: "error", code: "too_large", detail: "over 4000", client_id: entry.client_id, limit: 4000 });
  assert.equal(state.outbox.get(entry.client_id).state, "failed");
  assert.equal(state.outbox.get(entry.client_id).error, "too_large");
  state.retry(entry.client_id);
  assert.equal(socket.ofType("message").length, 2);
  assert.equal(state.outbox.get(entry.client_id).state, "pending");
  state.discard(entry.client_id);
  assert.equal(state.outbox.all().length, 0);
});

test("rate_limited keeps the message pending and resends it, same client_id, once retry_after has passed", async () => {
  const { state, socket, clock } = await withInbox([summary(1)]);
  const entry = state.sendMessage({ conversation: 1 }, "too fast");
  socket.clear();
  state.handle({ type: "error", code: "rate_limited", detail: "slow", client_id: entry.client_id, retry_after: 2.5 });
  assert.equal(state.outbox.get(entry.client_id).state, "pending");
  clock.advance(2499);
  assert.equal(socket.ofType("message").length, 0);
  clock.advance(1);
  assert.deepEqual(socket.ofType("message").map((f) => f.client_id), [entry.client_id]);
});

test("rate_limited with a long wait or none marks the message failed, for the user to retry or delete", async () => {
  const { state, socket, clock } = await withInbox([summary(1)]);
  const long = state.sendMessage({ conversation: 1 }, "much too fast");
  const unsaid = state.sendMessage({ conversation: 1 }, "too fast, no wait given");
  socket.clear();
  state.handle({ type: "error", code: "rate_limited", detail: "slow", client_id: long.client_id, retry_after: 20 });
  state.handle({ type: "error", code: "rate_limited", detail: "slow", client_id: unsaid.client_id });
  assert.equal(state.outbox.get(long.client_id).state, "failed");
  assert.equal(state.outbox.get(unsaid.client_id).state, "failed");
  clock.advance(30000);
  assert.equal(socket.ofType("message").length, 0);
});

test("an outbox burst over the rate is delivered whole: the refused ones follow retry_after, none fails", async () => {
  const { state, socket, clock } = await withInbox([summary(1)]);
  const entries = Array.from({ length: 100 }, (_, i) => state.sendMessage({ conversation: 1 }, `m${i}`));
  // The server acks the first 60 and refuses the rest with the time until its bucket has room.
  for (const [i, e] of entries.entries()) {
    if (i < 60) state.handle({ type: "ack", client_id: e.client_id, event: event(1, i + 1, { sender: "alice", client_id: e.client_id }) });
    else state.handle({ type: "error", code: "rate_limited", detail: "slow", client_id: e.client_id, retry_after: (i - 59) * 0.167 });
  }
  assert.equal(state.outbox.all().length, 40);
  assert.ok(state.outbox.all().every((e) => e.state === "pending"));
  socket.clear();
  clock.advance(7000);
  assert.deepEqual(socket.ofType("message").map((f) => f.client_id), entries.slice(60).map((e) => e.client_id));
});

test("a sync refused with rate_limited is asked again after retry_after, not the backoff", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2 })]);
  state.handle({ type: "event", event: event(1, 5) });
  const first = socket.last("sync");
  state.handle({ type: "error", code: "rate_limited", detail: "slow", ref: first.ref, retry_after: 0.2 });
  await settle();
  socket.clear();
  clock.advance(200);
  assert.equal(socket.ofType("sync").length, 1);
});

test("a message refused with a code this client does not know but with retry_after is resent then, not failed", async () => {
  const { state, socket, clock } = await withInbox([summary(1)]);
  const entries = ["too_many_in_flight", "a_code_from_a_newer_server"].map((code) => [code, state.sendMessage({ conversation: 1 }, code)]);
  socket.clear();
  for (const [code, entry] of entries) state.handle({ type: "error", code, detail: "wait", client_id: entry.client_id, retry_after: 0.25 });
  assert.ok(entries.every(([, entry]) => state.outbox.get(entry.client_id).state === "pending"));
  clock.advance(250);
  assert.deepEqual(socket.ofType("message").map((f) => f.client_id), entries.map(([, entry]) => entry.client_id));
});

test("a sync refused with fetch_work_limited is asked again after retry_after, not the backoff", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2 })]);
  state.handle({ type: "event", event: event(1, 5) });
  const first = socket.last("sync");
  state.handle({ type: "error", code: "fetch_work_limited", detail: "wait", ref: first.ref, retry_after: 2.5, setting: "MESSAGING_FETCH_WORK_LIMIT" });
  await settle();
  socket.clear();
  clock.advance(2499);
  assert.equal(socket.ofType("sync").length, 0);
  clock.advance(1);
  assert.equal(socket.ofType("sync").length, 1);
});

test("a resume refused with retry_after after a reconnect is asked again then, with the same cursors", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2 })]);
  state.disconnected();
  socket.clear();
  state.handle({ type: "connected", user: { username: "alice" } });
  answer(state, socket, "conversations", { conversations: [summary(1, { last_seq: 4, delivered_seq: 2 })], has_more: false, next: null });
  await settle();
  const first = socket.last("resume");
  state.handle({ type: "error", code: "fetch_rate_limited", detail: "wait", ref: first.ref, retry_after: 1, setting: "MESSAGING_FETCH_RATE_LIMIT" });
  await settle();
  socket.clear();
  clock.advance(1000);
  await settle();
  assert.deepEqual(socket.ofType("resume").map((f) => f.cursors), [{ 1: 2 }]);
});

test("conversations a resume answer had no room for are resumed again", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2 }), summary(2, { last_seq: 7, delivered_seq: 7, peer: { username: "carol" } })]);
  state.disconnected();
  socket.clear();
  state.handle({ type: "connected", user: { username: "alice" } });
  answer(state, socket, "conversations", {
    conversations: [summary(1, { last_seq: 2, delivered_seq: 2 }), summary(2, { last_seq: 7, delivered_seq: 7, peer: { username: "carol" } })],
    has_more: false, next: null,
  });
  await settle();
  answer(state, socket, "resume", { conversations: [{ ...summary(1, { last_seq: 2 }), events: [], has_more: false, receipts: [] }], unanswered: [2] });
  await settle();
  assert.deepEqual(socket.last("resume").cursors, { 2: 7 });
});

test("my own event pushed by the server also clears the outbox (the ack may be lost)", async () => {
  const { state } = await withInbox([summary(1)]);
  const entry = state.sendMessage({ conversation: 1 }, "hello");
  state.handle({ type: "event", event: event(1, 1, { sender: "alice", client_id: entry.client_id }) });
  assert.equal(state.outbox.all().length, 0);
});

// --- statuses ---------------------------------------------------------------------------

test("ticks of my message follow the members' receipts", async () => {
  const { state, socket } = await withInbox([group(3, ["alice", "bob", "carol"], { last_seq: 1, delivered_seq: 1, read_seq: 1 })]);
  state.setView(3);
  state.open(3);
  answer(state, socket, "members", {
    conversation: 3,
    members: [
      { username: "alice", role: "owner", joined_seq: 0, delivered_seq: 1, read_seq: 1, online: true },
      { username: "bob", role: "member", joined_seq: 0, delivered_seq: 1, read_seq: 1, online: true },
      { username: "carol", role: "member", joined_seq: 0, delivered_seq: 1, read_seq: 1, online: false },
    ],
  });
  await settle();
  const mine = event(3, 2, { sender: "alice" });
  state.handle({ type: "event", event: mine });
  assert.equal(state.statusOf(3, mine).status, "sent");
  state.handle({ type: "receipts", conversation: 3, receipts: [{ user: "bob", delivered_seq: 2, read_seq: 2 }] });
  assert.deepEqual(state.statusOf(3, mine).readBy, ["bob"]);
  state.handle({ type: "receipts", conversation: 3, receipts: [{ user: "carol", delivered_seq: 2, read_seq: 1 }] });
  assert.equal(state.statusOf(3, mine).status, "delivered");
  state.handle({ type: "receipts", conversation: 3, receipts: [{ user: "carol", delivered_seq: 2, read_seq: 2 }] });
  assert.equal(state.statusOf(3, mine).status, "read");
  assert.equal(state.statusOf(3, event(3, 2)), null); // not mine: no status
});

// --- unread -----------------------------------------------------------------------------

test("unread counts others' messages after my read cursor, live, and the total adds them up", async () => {
  const { state } = await withInbox([
    summary(1, { last_seq: 4, delivered_seq: 4, read_seq: 2, unread: 2 }),
    summary(2, { last_seq: 1, delivered_seq: 1, read_seq: 1, peer: { username: "carol" } }),
  ]);
  assert.equal(state.unread(1), 2);
  state.handle({ type: "event", event: event(1, 5) });
  state.handle({ type: "event", event: event(1, 6, { sender: "alice" }) });
  state.handle({ type: "event", event: event(2, 2, { sender: "carol" }) });
  assert.equal(state.unread(1), 3);
  assert.equal(state.totalUnread(), 4);
});

test("reading moves the count down at once and is reported once, coalesced", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 0 })]);
  state.setView(1);
  state.open(1);
  answer(state, socket, "history", { conversation: 1, events: [event(1, 3), event(1, 2), event(1, 1)], has_more: false });
  await settle();
  assert.equal(state.unread(1), 3);
  state.markRead(1, 2);
  state.markRead(1, 3);
  assert.equal(state.unread(1), 0);
  clock.advance(1000);
  assert.deepEqual(socket.ofType("read").map((f) => f.up_to), [3]);
  assert.equal(socket.ofType("received").length, 0); // read implies received
});

test("received is reported up to the contiguous cursor only", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 2, delivered_seq: 2, read_seq: 2 })]);
  state.handle({ type: "event", event: event(1, 3) });
  state.handle({ type: "event", event: event(1, 5) });
  clock.advance(1000);
  assert.deepEqual(socket.ofType("received").map((f) => f.up_to), [3]);
});

test("another tab reading to the end clears the count here", async () => {
  const { state } = await withInbox([summary(1, { last_seq: 30, delivered_seq: 30, read_seq: 10, unread: 20 })]);
  state.handle({ type: "receipts", conversation: 1, receipts: [{ user: "alice", delivered_seq: 30, read_seq: 30 }] });
  assert.equal(state.unread(1), 0);
});

test("where the log does not reach, the server's count is adjusted by what came since", async () => {
  const { state } = await withInbox([summary(1, { last_seq: 300, delivered_seq: 300, read_seq: 100, unread: 150 })]);
  state.handle({ type: "event", event: event(1, 301) });
  assert.equal(state.unread(1), 151);
});

test("the new-messages divider goes before the first message by someone else after my read cursor", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 0 })]);
  state.open(1);
  answer(state, socket, "history", {
    conversation: 1,
    events: [event(1, 4), event(1, 3), event(1, 2, { sender: "alice" }), event(1, 1)],
    has_more: false,
  });
  await settle();
  state.handle({ type: "receipts", conversation: 1, receipts: [{ user: "alice", delivered_seq: 4, read_seq: 1 }] });
  assert.equal(state.firstUnreadSeq(1), 3);
  state.markRead(1, 4);
  assert.equal(state.firstUnreadSeq(1), null);
});

test("messages outside my window are never unread: a member added later counts from the join", async () => {
  const { state, socket } = await withInbox([group(5, ["bob", "alice"], { last_seq: 10, joined_seq: 8, delivered_seq: 0, read_seq: 0, unread: 1 })]);
  state.open(5);
  answer(state, socket, "history", {
    conversation: 5,
    events: [event(5, 10), event(5, 9, { kind: "renamed", data: { title: "x" } }), event(5, 8, { kind: "members_added", data: { users: ["alice"] } })],
    has_more: false,
  });
  await settle();
  assert.equal(state.unread(5), 1);
});

// --- the inbox -------------------------------------------------------------------------

test("the inbox is ordered by last activity, newest first, and a new event moves its conversation up", async () => {
  const { state } = await withInbox([
    summary(1, { last_activity: "2026-11-27T09:00:00.000000+00:00", last_seq: 1, delivered_seq: 1 }),
    summary(2, { last_activity: "2026-11-27T10:00:00.000000+00:00", peer: { username: "carol" } }),
  ]);
  assert.deepEqual(state.sortedInbox().map((c) => c.id), [2, 1]);
  state.handle({ type: "event", event: event(1, 2, { created_at: "2026-11-27T11:00:00.000000+00:00" }) });
  assert.deepEqual(state.sortedInbox().map((c) => c.id), [1, 2]);
  assert.equal(state.get(1).last_message.seq, 2);
});

test("pinned conversations head the inbox, the latest pin first, whatever the activity of the rest", async () => {
  const { state } = await withInbox([
    summary(1, { last_activity: "2026-11-27T09:00:00.000000+00:00", pinned_at: "2026-11-28T08:00:00.000000+00:00" }),
    summary(2, { last_activity: "2026-11-27T10:00:00.000000+00:00", peer: { username: "carol" } }),
    summary(3, { last_activity: "2026-11-27T08:00:00.000000+00:00", peer: { username: "dave" }, pinned_at: "2026-11-28T09:00:00.000000+00:00" }),
  ]);
  assert.deepEqual(state.sortedInbox().map((c) => c.id), [3, 1, 2]);
  state.handle({ type: "event", event: event(2, 1, { created_at: "2026-11-29T11:00:00.000000+00:00" }) });
  assert.deepEqual(state.sortedInbox().map((c) => c.id), [3, 1, 2]); // new activity does not pass a pin
});

test("a pinned frame from another tab pins or unpins here, and a pin is asked for over the socket", async () => {
  const { state, socket } = await withInbox([
    summary(1, { last_activity: "2026-11-27T09:00:00.000000+00:00" }),
    summary(2, { last_activity: "2026-11-27T10:00:00.000000+00:00", peer: { username: "carol" } }),
  ]);
  state.handle({ type: "pinned", conversation: 1, pinned_at: "2026-11-28T08:00:00.000000+00:00" });
  assert.equal(state.isPinned(1), true);
  assert.deepEqual(state.sortedInbox().map((c) => c.id), [1, 2]);
  const unpinning = state.pin(1, false);
  assert.deepEqual({ ...socket.last("pin"), ref: undefined }, { type: "pin", conversation: 1, pinned: false, ref: undefined });
  answer(state, socket, "pin", { type: "pinned", conversation: 1, pinned_at: null });
  await unpinning;
  assert.equal(state.isPinned(1), false);
  assert.deepEqual(state.sortedInbox().map((c) => c.id), [2, 1]);
});

test("rename, membership and role events update the summary", async () => {
  const { state } = await withInbox([group(4, ["alice", "bob"], { last_seq: 1, delivered_seq: 1, role: "member" })]);
  state.handle({ type: "event", event: event(4, 2, { kind: "renamed", data: { title: "Climbing" } }) });
  state.handle({ type: "event", event: event(4, 3, { kind: "members_added", data: { users: ["carol", "dave"] } }) });
  state.handle({ type: "event", event: event(4, 4, { kind: "member_left", sender: "dave", data: {} }) });
  state.handle({ type: "event", event: event(4, 5, { kind: "role_changed", data: { user: "alice", role: "admin" } }) });
  const conv = state.get(4);
  assert.equal(conv.name, "Climbing");
  assert.equal(conv.member_count, 3);
  assert.equal(conv.role, "admin");
  assert.equal(state.can(4, "add"), true);
  assert.deepEqual(state.get(4).members.list().map((m) => m.username).sort(), ["alice", "carol"]);
});

test("a summary older than the event that removed me does not bring me back", async () => {
  const { state } = await withInbox([group(4, ["alice", "bob"], { last_seq: 1, delivered_seq: 1, role: "member" })]);
  state.handle({ type: "event", event: event(4, 2, { kind: "member_removed", data: { user: "alice" } }) });
  state.describe(group(4, ["alice", "bob"], { last_seq: 1, role: "member" }));
  assert.equal(state.get(4).isMember, false);
});

test("a rename arriving after a newer rename does not win", async () => {
  const { state } = await withInbox([group(4, ["alice", "bob"], { last_seq: 1, delivered_seq: 1 })]);
  state.handle({ type: "event", event: event(4, 3, { kind: "renamed", data: { title: "newer" } }) });
  state.handle({ type: "sync", ref: "nobody" });
  state.receiveEvents(4, [event(4, 2, { kind: "renamed", data: { title: "older" } })]);
  assert.equal(state.get(4).title, "newer");
});

test("creating a group waits for the ack by ref and lists the new group", async () => {
  const { state, socket } = await withInbox([]);
  const pending = state.createGroup("Trip", ["bob", "carol"]);
  const request = socket.last("create_group");
  assert.deepEqual(request.members, ["bob", "carol"]);
  assert.ok(request.client_id);
  const created = event(7, 1, { kind: "created", sender: "alice", data: { title: "Trip", members: ["alice", "bob", "carol"] } });
  state.handle({ type: "ack", ref: request.ref, client_id: request.client_id, event: created, conversation: group(7, ["alice", "bob", "carol"], { last_seq: 1, delivered_seq: 1, read_seq: 1 }) });
  const ack = await pending;
  assert.equal(ack.conversation.id, 7);
  assert.equal(state.sortedInbox()[0].name, "Trip");
  assert.equal(state.get(7).log.cursor, 1);
  assert.equal(state.get(7).members.get("alice").role, "owner");
});

test("a refused group change rejects with the server's code", async () => {
  const { state, socket } = await withInbox([group(4, ["alice", "bob"], { role: "member" })]);
  const pending = state.removeMember(4, "bob");
  state.handle({ type: "error", code: "forbidden", detail: "members cannot remove", ref: socket.last("remove_member").ref });
  await assert.rejects(pending, (error) => error.code === "forbidden");
});

test("typing shows who types and expires by itself", async () => {
  const { state, clock } = await withInbox([group(4, ["alice", "bob", "carol"])]);
  state.handle({ type: "typing", conversation: 4, user: "carol", is_typing: true });
  state.handle({ type: "typing", conversation: 4, user: "bob", is_typing: true });
  assert.deepEqual(state.typingIn(4), ["bob", "carol"]);
  state.handle({ type: "event", event: event(4, 1, { sender: "bob" }) });
  assert.deepEqual(state.typingIn(4), ["carol"]);
  clock.advance(8000);
  assert.deepEqual(state.typingIn(4), []);
});

test("presence of a direct peer updates the conversation", async () => {
  const { state } = await withInbox([summary(1)]);
  state.handle({ type: "presence", user: "bob", online: true, last_seen: null });
  assert.equal(state.get(1).peer.online, true);
});

test("a profile push renames a direct conversation and gives its peer the new avatar", async () => {
  const { state } = await withInbox([summary(1)]);
  const seen = [];
  state.on("profile", ({ person }) => seen.push(person.username));
  state.handle({ type: "profile", user: { username: "bob", display_name: "Bob B.", avatar: "/avatars/2/k.webp", status: "away" } });
  assert.equal(state.get(1).name, "Bob B.");
  assert.equal(state.get(1).peer.avatar, "/avatars/2/k.webp");
  assert.deepEqual(state.identity("bob"), { username: "bob", display_name: "Bob B.", avatar: "/avatars/2/k.webp", status: "away" });
  assert.deepEqual(seen, ["bob"]);
});

test("a cleared display name falls back to the username", async () => {
  const { state } = await withInbox([summary(1, { peer: { username: "bob", display_name: "Bob B.", avatar: null, status: null, online: false, last_seen: null } })]);
  assert.equal(state.get(1).name, "Bob B.");
  state.handle({ type: "profile", user: { username: "bob", display_name: null, avatar: null, status: null } });
  assert.equal(state.get(1).name, "bob");
});

test("a profile push about someone unknown is remembered for later and changes no conversation", async () => {
  const { state } = await withInbox([summary(1)]);
  state.handle({ type: "profile", user: { username: "zoe", display_name: "Zoë", avatar: null, status: null } });
  assert.equal(state.get(1).name, "bob");
  assert.equal(state.identity("zoe").display_name, "Zoë");
});

test("an error frame nobody waited for is reported as a problem", async () => {
  const { state } = await withInbox([]);
  const problems = [];
  state.on("problem", ({ frame }) => problems.push(frame.code));
  state.handle({ type: "error", code: "invalid_frame", detail: "?" });
  assert.deepEqual(problems, ["invalid_frame"]);
});

test("a read cursor that did not move is not reported again", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 3, delivered_seq: 3, read_seq: 0, unread: 3 })]);
  state.markRead(1, 3);
  clock.advance(1000);
  state.markRead(1, 3);
  state.handle({ type: "event", event: event(1, 4, { sender: "alice" }) });
  clock.advance(1000);
  assert.deepEqual(socket.ofType("read").map((f) => f.up_to), [3]);
  assert.deepEqual(socket.ofType("received").map((f) => f.up_to), [4]);
});

test("the receipts of a resume give the sidebar the ticks of my last message", async () => {
  const { state, socket } = await withInbox([summary(1, { last_seq: 3, delivered_seq: 3, read_seq: 3, last_message: event(1, 3, { sender: "alice" }) })]);
  const mine = state.get(1).last_message;
  assert.equal(state.statusOf(1, mine).status, "sent");
  answer(state, socket, "resume", { conversations: [{ ...summary(1, { last_seq: 3, delivered_seq: 3, read_seq: 3 }), events: [], has_more: false, receipts: [{ user: "bob", delivered_seq: 3, read_seq: 3, joined_seq: 0 }] }] });
  await settle();
  assert.equal(state.statusOf(1, mine).status, "read");
});

test("a receipt for my older cursors arriving before the report goes out does not swallow the read", async () => {
  const { state, socket, clock } = await withInbox([summary(1, { last_seq: 3, delivered_seq: 0, read_seq: 0, unread: 3 })]);
  state.markRead(1, 3);
  state.handle({ type: "receipts", conversation: 1, receipts: [{ user: "alice", delivered_seq: 3, read_seq: 0 }] });
  clock.advance(1000);
  assert.deepEqual(socket.ofType("read").map((f) => f.up_to), [3]);
});

test("my first message to someone shows sent until the new conversation's summary names the peer", async () => {
  const { state, socket } = await withInbox([]);
  const entry = state.sendMessage({ to: "bob" }, "hello");
  const mine = event(12, 1, { sender: "alice", client_id: entry.client_id, content: "hello" });
  state.handle({ type: "ack", client_id: entry.client_id, event: mine });
  assert.equal(state.statusOf(12, mine).status, "sent");
  answer(state, socket, "resume", { conversations: [{ ...summary(12, { last_seq: 1, delivered_seq: 1, read_seq: 1 }), events: [], has_more: false, receipts: [] }] });
  await settle();
  assert.equal(state.statusOf(12, mine).status, "sent");
  state.handle({ type: "receipts", conversation: 12, receipts: [{ user: "bob", delivered_seq: 1, read_seq: 1 }] });
  assert.equal(state.statusOf(12, mine).status, "read");
});
