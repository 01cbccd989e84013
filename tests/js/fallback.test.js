import assert from "node:assert/strict";
import { test } from "node:test";

import { HttpFallback } from "../../messaging/static/messaging/js/protocol/fallback.js";
import { event, makeState, summary } from "./helpers.js";

/** A fake JSON API: ``routes`` maps "GET /path" or "POST /path" (query left off) to a handler. */
function fakeApi(routes) {
  const calls = [];
  const call = (method, url, body) => {
    calls.push({ method, url, body });
    const path = url.split("?")[0];
    const handler = routes[`${method} ${path}`];
    if (!handler) return Promise.resolve({ status: 404, body: { type: "error", code: "not_found" } });
    return Promise.resolve(handler(url, body));
  };
  return { calls, get: (url) => call("GET", url), post: (url, body) => call("POST", url, body) };
}

function offline() {
  const setup = makeState({ connected: false });
  return setup;
}

test("without a socket the outbox goes out over HTTP with the same client_id", async () => {
  const { state, clock } = offline();
  const api = fakeApi({
    "GET /messages/api/conversations": () => ({ status: 200, body: { conversations: [summary(1, { last_seq: 2, delivered_seq: 2 })], has_more: false } }),
    "POST /messages/api/conversations/1/messages": (url, body) => ({ status: 201, body: { event: event(1, 3, { sender: "alice", client_id: body.client_id, content: body.content }) } }),
  });
  const fallback = new HttpFallback({ state, api, clock });
  const entry = state.sendMessage({ conversation: 1 }, "over http");
  await fallback.runOnce();
  const post = api.calls.find((c) => c.method === "POST");
  assert.deepEqual(post.body, { content: "over http", client_id: entry.client_id });
  assert.equal(state.outbox.all().length, 0);
  assert.equal(state.get(1).log.has(3), true);
});

test("an HTTP refusal marks the message failed with the server's code", async () => {
  const { state } = offline();
  const api = fakeApi({
    "GET /messages/api/conversations": () => ({ status: 200, body: { conversations: [summary(1)] } }),
    "POST /messages/api/conversations/1/messages": () => ({ status: 413, body: { type: "error", code: "too_large", detail: "long" } }),
  });
  const fallback = new HttpFallback({ state, api });
  const entry = state.sendMessage({ conversation: 1 }, "too long");
  await fallback.runOnce();
  assert.equal(state.outbox.get(entry.client_id).error, "too_large");
});

test("an HTTP 429 keeps the message pending and waits retry_after before sending it again", async () => {
  const { state, clock } = offline();
  let posts = 0;
  const api = fakeApi({
    "GET /messages/api/conversations": () => ({ status: 200, body: { conversations: [summary(1)] } }),
    "POST /messages/api/conversations/1/messages": () => {
      posts += 1;
      return { status: 429, body: { type: "error", code: "rate_limited", detail: "slow", retry_after: 3 } };
    },
  });
  const fallback = new HttpFallback({ state, api, clock });
  const entry = state.sendMessage({ conversation: 1 }, "too fast");
  await fallback.runOnce();
  assert.equal(state.outbox.get(entry.client_id).state, "pending");
  await fallback.runOnce();
  assert.equal(posts, 1);
  clock.advance(3000);
  await fallback.runOnce();
  assert.equal(posts, 2);
});

test("an HTTP 429 with any limit's own code keeps the message pending and waits its retry_after", async () => {
  const { state, clock } = offline();
  let posts = 0;
  const api = fakeApi({
    "GET /messages/api/conversations": () => ({ status: 200, body: { conversations: [summary(1)] } }),
    "POST /messages/api/conversations/1/messages": () => {
      posts += 1;
      return { status: 429, body: { type: "error", code: "a_code_from_a_newer_server", detail: "wait", retry_after: 2, setting: "MESSAGING_X" } };
    },
  });
  const fallback = new HttpFallback({ state, api, clock });
  const entry = state.sendMessage({ conversation: 1 }, "wait for it");
  await fallback.runOnce();
  assert.equal(state.outbox.get(entry.client_id).state, "pending");
  clock.advance(2000);
  await fallback.runOnce();
  assert.equal(posts, 2);
});

test("a flush asked for while one is sending does not post the same message twice", async () => {
  const { state, clock } = offline();
  let posts = 0;
  const waiting = [];
  const api = fakeApi({
    "GET /messages/api/conversations": () => ({ status: 200, body: { conversations: [summary(1)] } }),
    "POST /messages/api/conversations/1/messages": () => {
      posts += 1;
      return new Promise((resolve) => waiting.push(resolve));
    },
  });
  const fallback = new HttpFallback({ state, api, clock });
  const entry = state.sendMessage({ conversation: 1 }, "once");
  const first = fallback.flush();
  const second = fallback.flush();
  await new Promise((resolve) => setImmediate(resolve));
  for (const resolve of waiting) resolve({ status: 429, body: { type: "error", code: "rate_limited", detail: "slow" } });
  await Promise.all([first, second]);
  assert.equal(posts, 1);
  assert.notEqual(state.outbox.get(entry.client_id), null);
});

test("the conversation on screen catches up with the events API from its cursor", async () => {
  const { state, clock } = offline();
  const api = fakeApi({
    "GET /messages/api/conversations": () => ({ status: 200, body: { conversations: [summary(1, { last_seq: 4 })] } }),
    "GET /messages/api/conversations/1/history": () => ({ status: 200, body: { events: [event(1, 2), event(1, 1)], has_more: false } }),
    "GET /messages/api/conversations/1/events": (url) => {
      const after = Number(new URL(url, "http://x").searchParams.get("after"));
      const events = [event(1, 3), event(1, 4)].filter((e) => e.seq > after);
      return { status: 200, body: { events, has_more: false, last_seq: 4, receipts: [{ user: "bob", delivered_seq: 4, read_seq: 4, joined_seq: 0 }] } };
    },
  });
  const fallback = new HttpFallback({ state, api, clock });
  state.setView(1);
  await fallback.runOnce();
  await fallback.runOnce();
  assert.equal(state.get(1).log.cursor, 4);
  assert.ok(api.calls.some((c) => c.url.startsWith("/messages/api/conversations/1/events?after=2")));
  assert.equal(state.get(1).members.get("bob").read_seq, 4);
});

test("a 403 from the API means the session ended; the outbox stays", async () => {
  const { state, clock } = offline();
  const api = fakeApi({ "GET /messages/api/conversations": () => ({ status: 403, body: { type: "error", code: "forbidden", detail: "sign in first" } }) });
  let signedOut = 0;
  const fallback = new HttpFallback({ state, api, clock, onSignedOut: () => { signedOut += 1; } });
  state.sendMessage({ conversation: 1 }, "keep me");
  await fallback.runOnce();
  assert.equal(signedOut, 1);
  assert.equal(state.outbox.pending().length, 1);
});

test("a message to someone with no conversation yet uses the direct send, then finds the conversation", async () => {
  const { state, clock } = offline();
  let listed = [];
  const api = fakeApi({
    "GET /messages/api/conversations": () => ({ status: 200, body: { conversations: listed } }),
    "POST /messages/api/carol/send": (url, body) => {
      listed = [summary(8, { peer: { username: "carol" }, last_seq: 1 })];
      return { status: 201, body: { message: { seq: 1, content: body.content, client_id: body.client_id } } };
    },
    "GET /messages/api/conversations/8/events": () => ({ status: 200, body: { events: [event(8, 1, { sender: "alice" })], has_more: false, last_seq: 1, receipts: [] } }),
  });
  const fallback = new HttpFallback({ state, api, clock });
  state.sendMessage({ to: "carol" }, "hello carol");
  await fallback.runOnce();
  assert.equal(state.outbox.all().length, 0);
  assert.equal(state.direct("carol").id, 8);
});

test("the fallback does nothing while the socket is connected", async () => {
  const { state, clock } = makeState();
  const api = fakeApi({});
  const fallback = new HttpFallback({ state, api, clock });
  await fallback.runOnce();
  assert.deepEqual(api.calls, []);
});
