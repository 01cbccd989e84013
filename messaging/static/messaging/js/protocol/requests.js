// @ts-check
// Requests waiting for their answer, matched by `ref` (docs/protocol.md: every
// client frame may carry one; the answer or the error carries it back).
// A request resolves with the answer frame, rejects with a RequestError on an
// error frame with its ref, on a timeout, or when the socket goes away.
// The clock is injected so tests drive time themselves.

export class RequestError extends Error {
  constructor(code, detail = "", frame = null) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = "RequestError";
    this.code = code;
    this.detail = detail;
    this.frame = frame;
  }
}

export const systemClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

export class Requests {
  /** ``send(frame)`` returns false when the frame could not go out. */
  constructor({ send, clock = systemClock, timeoutMs = 15000, prefix = "r" }) {
    this.sendFrame = send;
    this.clock = clock;
    this.timeoutMs = timeoutMs;
    this.prefix = prefix;
    this.counter = 0;
    this.waiting = new Map(); // ref -> {frame, resolve, reject, timer}
  }

  nextRef() {
    this.counter += 1;
    return `${this.prefix}${this.counter}`;
  }

  get size() {
    return this.waiting.size;
  }

  has(ref) {
    return ref !== undefined && ref !== null && this.waiting.has(String(ref));
  }

  /** Send ``frame`` with a fresh ref; the promise settles with its answer. */
  request(frame, { timeoutMs = this.timeoutMs } = {}) {
    const ref = this.nextRef();
    const out = { ...frame, ref };
    return new Promise((resolve, reject) => {
      if (!this.sendFrame(out)) {
        reject(new RequestError("not_connected", "the socket is not connected", null));
        return;
      }
      const timer = this.clock.setTimeout(() => {
        if (!this.waiting.delete(ref)) return;
        reject(new RequestError("timeout", `no answer to ${frame.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(ref, { frame: out, resolve, reject, timer });
    });
  }

  /** An incoming frame: true if it answered a waiting request. */
  settle(frame) {
    if (!frame || !this.has(frame.ref)) return false;
    const ref = String(frame.ref);
    const entry = this.waiting.get(ref);
    this.waiting.delete(ref);
    this.clock.clearTimeout(entry.timer);
    if (frame.type === "error") entry.reject(new RequestError(frame.code, frame.detail ?? "", frame));
    else entry.resolve(frame);
    return true;
  }

  /** The socket went away: nothing sent on it will be answered. */
  failAll(code = "disconnected") {
    const entries = [...this.waiting.values()];
    this.waiting.clear();
    for (const entry of entries) {
      this.clock.clearTimeout(entry.timer);
      entry.reject(new RequestError(code, "the connection closed before the answer came"));
    }
  }
}
