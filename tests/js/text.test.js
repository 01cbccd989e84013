import assert from "node:assert/strict";
import { test } from "node:test";

import { names, readByText, systemText, typingText } from "../../messaging/static/messaging/js/protocol/text.js";
import { event } from "./helpers.js";

test("names are joined the way people write them, with you for me", () => {
  assert.equal(names(["bob"]), "bob");
  assert.equal(names(["bob", "alice"], "alice"), "bob and you");
  assert.equal(names(["bob", "carol", "dave"]), "bob, carol and dave");
});

test("each membership, rename and role event has a system line", () => {
  const e = (kind, sender, data) => systemText(event(1, 1, { kind, sender, data }), "alice");
  assert.equal(e("created", "alice", { title: "Trip", members: ["alice", "bob"] }), "You created the group “Trip”");
  assert.equal(e("members_added", "bob", { users: ["carol", "alice"] }), "bob added carol and you");
  assert.equal(e("member_removed", "bob", { user: "alice" }), "bob removed you");
  assert.equal(e("member_left", "bob", { new_owner: "carol" }), "bob left; carol now owns the group");
  assert.equal(e("member_left", "bob", { new_owner: "alice" }), "bob left; you now own the group");
  assert.equal(e("renamed", "carol", { title: "Climbing" }), "carol renamed the group to “Climbing”");
  assert.equal(e("role_changed", "alice", { user: "bob", role: "admin" }), "You made bob an admin");
  assert.equal(e("message", "bob", {}), null);
});

test("typing names one, two, or two and the rest", () => {
  assert.equal(typingText([]), "");
  assert.equal(typingText(["bob"]), "bob is typing…");
  assert.equal(typingText(["bob", "carol"]), "bob and carol are typing…");
  assert.equal(typingText(["bob", "carol", "dave", "erin"]), "bob, carol and 2 others are typing…");
});

test("read by says how many of how many, or everyone", () => {
  assert.equal(readByText({ readBy: [], total: 2 }), null);
  assert.equal(readByText({ readBy: ["bob"], total: 2 }), "Read by 1 of 2");
  assert.equal(readByText({ readBy: ["bob", "carol"], total: 2 }), "Read by everyone");
  assert.equal(readByText({ readBy: ["bob"], total: 1 }), "Read by bob");
});
