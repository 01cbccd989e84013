// Fakes for the protocol state's injected parts: a socket that records what
// was sent, a clock the test moves by hand, and event/summary builders.

import { ChatState } from "../../messaging/static/messaging/js/protocol/client.js";
import { MemoryStorage } from "../../messaging/static/messaging/js/protocol/outbox.js";

export class FakeClock {
  constructor(start = 1_000_000) {
    this.time = start;
    this.timers = new Map();
    this.nextId = 1;
  }

  now() {
    return this.time;
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(id) {
    this.timers.delete(id);
  }

  /** Move time forward, running every timer that falls due, in order. */
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
      if (!due.length) break;
      const [id, timer] = due[0];
      this.timers.delete(id);
      this.time = Math.max(this.time, timer.at);
      timer.fn();
    }
    this.time = end;
  }
}

export class FakeSocket {
  constructor() {
    this.sent = [];
    this.open = true;
  }

  send(frame) {
    if (!this.open) return false;
    this.sent.push(frame);
    return true;
  }

  ofType(type) {
    return this.sent.filter((f) => f.type === type);
  }

  last(type) {
    return this.ofType(type).at(-1);
  }

  clear() {
    this.sent = [];
  }
}

/** Promise callbacks run in microtasks: let them. */
export async function settle(rounds = 5) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

let ids = 0;

export function makeState({ me = "alice", storage = new MemoryStorage(), connected = true, ...options } = {}) {
  const socket = new FakeSocket();
  const clock = new FakeClock();
  const state = new ChatState({ me, storage, send: (f) => socket.send(f), clock, makeId: () => `cid-${++ids}`, ...options });
  if (connected) {
    state.handle({ type: "connected", user: { username: me }, limits: { max_length: 4000 } });
  }
  return { state, socket, clock, storage };
}

export function event(conversation, seq, fields = {}) {
  return {
    conversation,
    seq,
    id: conversation * 1000 + seq,
    kind: "message",
    sender: "bob",
    created_at: new Date(Date.UTC(2026, 10, 27, 9, 0, seq)).toISOString(),
    client_id: `c${conversation}-${seq}`,
    content: `message ${seq}`,
    target_seq: null,
    data: {},
    ...fields,
  };
}

export function summary(id, fields = {}) {
  return {
    id,
    kind: "direct",
    title: null,
    peer: { username: "bob", online: false, last_seen: null },
    member_count: 2,
    last_seq: 0,
    last_message: null,
    last_activity: "2026-11-27T09:00:00.000000+00:00",
    role: "member",
    joined_seq: 0,
    left_seq: null,
    delivered_seq: 0,
    read_seq: 0,
    unread: 0,
    muted_until: null,
    pinned_at: null,
    ...fields,
  };
}

export function group(id, members, fields = {}) {
  return summary(id, { kind: "group", title: "Trip", peer: null, member_count: members.length, role: "owner", ...fields });
}

/** Answer the newest request of ``type`` with ``fields`` (the ref echoed). */
export function answer(state, socket, type, fields = {}) {
  const request = socket.last(type);
  if (!request) throw new Error(`no ${type} request was sent`);
  state.handle({ type, ref: request.ref, ...fields });
  return request;
}
