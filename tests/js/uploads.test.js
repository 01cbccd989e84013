import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryStorage } from "../../messaging/static/messaging/js/protocol/outbox.js";
import { Uploads } from "../../messaging/static/messaging/js/protocol/uploads.js";
import { FakeClock, makeState } from "./helpers.js";

/** A transport the test answers by hand: each call waits in ``calls``. */
function fakeTransport() {
  const calls = [];
  const transport = (conversation, file, { onProgress }) => {
    let resolve;
    let reject;
    const promise = new Promise((ok, fail) => { resolve = ok; reject = fail; });
    const call = { conversation, file, onProgress, resolve, reject, aborted: false };
    calls.push(call);
    return { promise, abort: () => { call.aborted = true; const e = new Error("aborted"); e.name = "AbortError"; reject(e); } };
  };
  return { calls, transport };
}

const tick = () => new Promise((r) => setImmediate(r));
const file = (name, size = 10) => ({ name, size, type: "application/pdf" });
let nextId = 100;
const uploaded = () => ({ status: 201, body: { attachments: [{ id: nextId++ }] } });

function setup(options = {}) {
  const clock = new FakeClock();
  const { state, socket } = makeState({ clock, ...options });
  const { calls, transport } = fakeTransport();
  const uploads = new Uploads({ state, transport, clock });
  return { state, socket, calls, uploads, clock };
}

test("a message with files waits until every upload finished, then goes out naming them", async () => {
  const { state, socket, calls, uploads } = setup();
  const entry = uploads.send(7, "the plan", [file("a.pdf"), file("b.pdf")]);
  assert.equal(state.outbox.get(entry.client_id).state, "uploading");
  assert.equal(calls.length, 2);
  calls[0].resolve(uploaded());
  await tick();
  assert.equal(socket.ofType("message").length, 0);
  calls[1].resolve(uploaded());
  await tick();
  const [frame] = socket.ofType("message");
  assert.deepEqual(frame.attachments, [nextId - 2, nextId - 1]);
  assert.equal(frame.content, "the plan");
  assert.equal(frame.client_id, entry.client_id);
});

test("an interrupted upload starts again after a pause; the message never goes out half", async () => {
  const { socket, calls, uploads, clock } = setup();
  uploads.send(7, "", [file("a.pdf")]);
  calls[0].reject(new TypeError("network"));
  await tick();
  assert.equal(calls.length, 1);
  clock.advance(1000);
  assert.equal(calls.length, 2);
  calls[1].resolve({ status: 503, body: { code: "server_error" } });
  await tick();
  clock.advance(2000);
  assert.equal(calls.length, 3);
  assert.equal(socket.ofType("message").length, 0);
  calls[2].resolve(uploaded());
  await tick();
  assert.equal(socket.ofType("message").length, 1);
});

test("a refused upload fails the message with the server's code and sends nothing", async () => {
  const { state, socket, calls, uploads } = setup();
  const entry = uploads.send(7, "look", [file("a.jpg")]);
  calls[0].resolve({ status: 415, body: { code: "unsupported_media_type" } });
  await tick();
  assert.equal(state.outbox.get(entry.client_id).state, "failed");
  assert.equal(state.outbox.get(entry.client_id).error, "unsupported_media_type");
  assert.equal(socket.ofType("message").length, 0);
  assert.equal(uploads.retry(entry.client_id), true);
  assert.equal(calls.length, 2);
});

test("cancelling one file aborts its upload and the rest go out", async () => {
  const { socket, calls, uploads } = setup();
  const entry = uploads.send(7, "two", [file("a.pdf"), file("b.pdf")]);
  uploads.cancel(entry.client_id, 1);
  assert.equal(calls[1].aborted, true);
  calls[0].resolve(uploaded());
  await tick();
  const [frame] = socket.ofType("message");
  assert.equal(frame.attachments.length, 1);
});

test("cancelling every file of a message without text drops it", async () => {
  const { state, socket, uploads } = setup();
  const entry = uploads.send(7, "", [file("a.pdf")]);
  uploads.cancel(entry.client_id, 0);
  assert.equal(state.outbox.get(entry.client_id), null);
  assert.equal(socket.ofType("message").length, 0);
});

test("after a reload a message whose files were still uploading is failed, never sent without them", () => {
  const storage = new MemoryStorage();
  const first = setup({ storage });
  const entry = first.uploads.send(7, "lost", [file("a.pdf")]);
  const again = setup({ storage });
  const kept = again.state.outbox.get(entry.client_id);
  assert.equal(kept.state, "failed");
  assert.equal(kept.error, "upload_lost");
  assert.equal(again.uploads.retry(entry.client_id), true);
  assert.equal(again.socket.ofType("message").length, 0);
});
