import assert from "node:assert/strict";
import { test } from "node:test";

import { ConversationLog } from "../../messaging/static/messaging/js/protocol/log.js";
import { event } from "./helpers.js";

test("the cursor stays null until the log is anchored, then counts contiguous events", () => {
  const log = new ConversationLog();
  log.add([event(1, 3)]);
  assert.equal(log.cursor, null);
  assert.equal(log.hasGap(10), false);
  log.anchor(2);
  assert.equal(log.cursor, 3);
});

test("the cursor stops below a missing seq and a gap is reported until it is filled", () => {
  const log = new ConversationLog();
  log.anchor(0);
  log.add([event(1, 1), event(1, 2), event(1, 4)]);
  assert.equal(log.cursor, 2);
  assert.equal(log.hasGap(), true);
  log.add([event(1, 3)]);
  assert.equal(log.cursor, 4);
  assert.equal(log.hasGap(), false);
});

test("a last_seq beyond the cursor is a gap even when nothing above it is held", () => {
  const log = new ConversationLog();
  log.anchor(5);
  assert.equal(log.hasGap(5), false);
  assert.equal(log.hasGap(6), true);
});

test("repeated events are returned as fresh once, in seq order", () => {
  const log = new ConversationLog();
  log.anchor(0);
  const first = log.add([event(1, 2), event(1, 1)]);
  assert.deepEqual(first.map((e) => e.seq), [1, 2]);
  assert.deepEqual(log.add([event(1, 2), event(1, 3)]).map((e) => e.seq), [3]);
  assert.equal(log.size, 3);
});

test("anchoring twice keeps the first anchor", () => {
  const log = new ConversationLog();
  assert.equal(log.anchor(4), true);
  assert.equal(log.anchor(9), false);
  assert.equal(log.cursor, 4);
});

test("covers says whether every seq of a range is held", () => {
  const log = new ConversationLog();
  log.add([event(1, 5), event(1, 6), event(1, 8)]);
  assert.equal(log.covers(5, 6), true);
  assert.equal(log.covers(5, 8), false);
  assert.equal(log.covers(9, 8), true);
});

test("an older history page tells whether there is anything before it", () => {
  const log = new ConversationLog();
  log.anchor(10);
  log.olderPage([event(1, 9), event(1, 8)], true);
  assert.equal(log.oldest, 8);
  assert.equal(log.hasOlder, true);
  log.olderPage([event(1, 7)], false);
  assert.equal(log.hasOlder, false);
});
