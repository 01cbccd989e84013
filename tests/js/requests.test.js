import assert from "node:assert/strict";
import { test } from "node:test";

import { RequestError, Requests } from "../../messaging/static/messaging/js/protocol/requests.js";
import { FakeClock, FakeSocket } from "./helpers.js";

function setUp() {
  const socket = new FakeSocket();
  const clock = new FakeClock();
  const requests = new Requests({ send: (f) => socket.send(f), clock, timeoutMs: 1000 });
  return { socket, clock, requests };
}

test("every request goes out with its own ref", () => {
  const { socket, requests } = setUp();
  requests.request({ type: "members", conversation: 1 }).catch(() => {});
  requests.request({ type: "members", conversation: 2 }).catch(() => {});
  const [a, b] = socket.sent;
  assert.notEqual(a.ref, b.ref);
  assert.equal(a.conversation, 1);
});

test("an answer resolves the request whose ref it carries, not another", async () => {
  const { socket, requests } = setUp();
  const first = requests.request({ type: "history", conversation: 1 });
  const second = requests.request({ type: "history", conversation: 2 });
  const [a, b] = socket.sent;
  assert.equal(requests.settle({ type: "history", ref: b.ref, events: ["second"] }), true);
  assert.equal(requests.settle({ type: "history", ref: a.ref, events: ["first"] }), true);
  assert.deepEqual((await first).events, ["first"]);
  assert.deepEqual((await second).events, ["second"]);
  assert.equal(requests.size, 0);
});

test("an error frame with the ref rejects with its code", async () => {
  const { socket, requests } = setUp();
  const pending = requests.request({ type: "rename", conversation: 1, title: "x" });
  requests.settle({ type: "error", code: "forbidden", detail: "you left", ref: socket.sent[0].ref });
  await assert.rejects(pending, (error) => error instanceof RequestError && error.code === "forbidden");
});

test("a frame without a known ref settles nothing", () => {
  const { requests } = setUp();
  assert.equal(requests.settle({ type: "event" }), false);
  assert.equal(requests.settle({ type: "sync", ref: "r99" }), false);
});

test("a request that is not answered in time rejects with timeout and its late answer is ignored", async () => {
  const { socket, clock, requests } = setUp();
  const pending = requests.request({ type: "sync", conversation: 1, after: 0 });
  clock.advance(1000);
  await assert.rejects(pending, (error) => error.code === "timeout");
  assert.equal(requests.settle({ type: "sync", ref: socket.sent[0].ref }), false);
});

test("a request that cannot be sent rejects at once", async () => {
  const { socket, requests } = setUp();
  socket.open = false;
  await assert.rejects(requests.request({ type: "members", conversation: 1 }), (error) => error.code === "not_connected");
  assert.equal(requests.size, 0);
});

test("failAll rejects every waiting request when the socket goes away", async () => {
  const { requests } = setUp();
  const a = requests.request({ type: "members", conversation: 1 });
  const b = requests.request({ type: "conversations" });
  requests.failAll();
  await assert.rejects(a, (error) => error.code === "disconnected");
  await assert.rejects(b, (error) => error.code === "disconnected");
});
