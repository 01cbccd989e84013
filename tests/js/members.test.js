import assert from "node:assert/strict";
import { test } from "node:test";

import { Members } from "../../messaging/static/messaging/js/protocol/members.js";
import { event } from "./helpers.js";

function trio() {
  const members = new Members();
  members.replaceAll([
    { username: "alice", role: "owner", joined_seq: 0, delivered_seq: 10, read_seq: 10 },
    { username: "bob", role: "member", joined_seq: 0, delivered_seq: 0, read_seq: 0 },
    { username: "carol", role: "member", joined_seq: 0, delivered_seq: 0, read_seq: 0 },
  ], 10);
  return members;
}

test("a message is sent until every other member has it, then delivered, then read", () => {
  const members = trio();
  assert.equal(members.statusOf(5, "alice").status, "sent");
  members.applyReceipt({ user: "bob", delivered_seq: 5, read_seq: 0 });
  assert.equal(members.statusOf(5, "alice").status, "sent");
  members.applyReceipt({ user: "carol", delivered_seq: 6, read_seq: 0 });
  assert.equal(members.statusOf(5, "alice").status, "delivered");
  members.applyReceipt({ user: "bob", delivered_seq: 5, read_seq: 5 });
  const partly = members.statusOf(5, "alice");
  assert.equal(partly.status, "delivered");
  assert.deepEqual(partly.readBy, ["bob"]);
  assert.equal(partly.total, 2);
  members.applyReceipt({ user: "carol", delivered_seq: 6, read_seq: 6 });
  assert.deepEqual(members.statusOf(5, "alice"), { status: "read", readBy: ["bob", "carol"], deliveredTo: ["bob", "carol"], total: 2 });
});

test("cursors never move backwards and reading implies delivery", () => {
  const members = trio();
  members.applyReceipt({ user: "bob", delivered_seq: 8, read_seq: 8 });
  assert.equal(members.applyReceipt({ user: "bob", delivered_seq: 3, read_seq: 2 }), false);
  assert.equal(members.get("bob").read_seq, 8);
  members.applyReceipt({ user: "carol", delivered_seq: 0, read_seq: 4 });
  assert.equal(members.get("carol").delivered_seq, 4);
});

test("a member who joined after a message does not count for it", () => {
  const members = trio();
  members.applyEvent(event(1, 12, { kind: "members_added", sender: "alice", data: { users: ["dave"] } }));
  members.applyReceipt({ user: "bob", delivered_seq: 11, read_seq: 11 });
  members.applyReceipt({ user: "carol", delivered_seq: 11, read_seq: 11 });
  assert.equal(members.statusOf(11, "alice").status, "read");
  assert.equal(members.statusOf(11, "alice").total, 2);
  assert.equal(members.statusOf(13, "alice").total, 3);
});

test("a member removed mid-conversation no longer holds back the status of earlier messages", () => {
  const members = trio();
  members.applyReceipt({ user: "bob", delivered_seq: 9, read_seq: 9 });
  assert.equal(members.statusOf(9, "alice").status, "sent");
  members.applyEvent(event(1, 11, { kind: "member_removed", sender: "alice", data: { user: "carol" } }));
  assert.deepEqual(members.statusOf(9, "alice"), { status: "read", readBy: ["bob"], deliveredTo: ["bob"], total: 1 });
});

test("a message nobody else is left to read counts as read", () => {
  const members = new Members();
  members.applyEvent(event(1, 1, { kind: "created", sender: "alice", data: { title: "t", members: ["alice", "bob"] } }));
  assert.equal(members.get("bob").joined_seq, 1);
  assert.equal(members.statusOf(2, "alice").status, "sent");
  members.applyEvent(event(1, 3, { kind: "member_left", sender: "bob", data: {} }));
  assert.deepEqual(members.statusOf(2, "alice"), { status: "read", readBy: [], deliveredTo: [], total: 0 });
});

test("membership events apply once each, newest wins, whatever order they arrive in", () => {
  const members = trio();
  // Carol was removed at 12 and re-added at 15; the sync brings 12 after the live 15.
  members.applyEvent(event(1, 15, { kind: "members_added", sender: "alice", data: { users: ["carol"] } }));
  members.applyEvent(event(1, 12, { kind: "member_removed", sender: "alice", data: { user: "carol" } }));
  assert.equal(members.has("carol"), true);
  assert.equal(members.get("carol").joined_seq, 15);
});

test("events older than a members answer change nothing", () => {
  const members = trio();
  members.applyEvent(event(1, 4, { kind: "member_removed", sender: "alice", data: { user: "bob" } }));
  assert.equal(members.has("bob"), true);
});

test("the owner leaving passes the group on", () => {
  const members = trio();
  members.applyEvent(event(1, 11, { kind: "member_left", sender: "alice", data: { new_owner: "bob" } }));
  assert.equal(members.has("alice"), false);
  assert.equal(members.get("bob").role, "owner");
});

test("a receipt from a member who was removed does not bring them back", () => {
  const members = trio();
  members.applyEvent(event(1, 11, { kind: "member_removed", sender: "alice", data: { user: "carol" } }));
  assert.equal(members.applyReceipt({ user: "carol", delivered_seq: 11, read_seq: 11 }), false);
  assert.equal(members.has("carol"), false);
  assert.equal(members.statusOf(12, "alice").total, 1);
});

test("before the member list is known a message is only sent, not read by nobody", () => {
  const members = new Members();
  assert.equal(members.statusOf(5, "alice").status, "sent");
});
