// @ts-check
// Requests waiting for their answer, matched by `ref` (docs/protocol.md: every
// client frame may carry one; the answer or the error carries it back).
// A request resolves with the answer frame, rejects with a RequestError on an
// error frame with its ref, on a timeout, or when the socket goes away.
// The clock is injected so tests drive time themselves.

/** @import { AnswerTo, ClientFrame, ErrorFrame, NotificationClientFrame, NotificationServerFrame, Ref, Requestable, ServerFrame } from "./frames.js" */
/** @typedef {ServerFrame | NotificationServerFrame} Answer what a request is answered with */
/** @typedef {{ now: () => number, setTimeout: (fn: () => void, ms: number) => unknown, clearTimeout: (id: any) => void }} Clock */

export class RequestError extends Error {
  /**
   * @param {string} code the error frame's code (or "timeout", "not_connected", "disconnected")
   * @param {string} [detail]
   * @param {ErrorFrame | null} [frame] the error frame, when the server sent one
   */
  constructor(code, detail = "", frame = null) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = "RequestError";
    this.code = code;
    this.detail = detail;
    this.frame = frame;
  }
}

/** @type {Clock} */
export const systemClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/** @template {ClientFrame | NotificationClientFrame} [Out=ClientFrame] the frames this socket sends */
export class Requests {
  /**
   * ``send(frame)`` returns false when the frame could not go out.
   * @param {{ send: (frame: Out) => boolean, clock?: Clock, timeoutMs?: number, prefix?: string }} options
   */
  constructor({ send, clock = systemClock, timeoutMs = 15000, prefix = "r" }) {
    this.sendFrame = send;
    this.clock = clock;
    this.timeoutMs = timeoutMs;
    this.prefix = prefix;
    this.counter = 0;
    /** @type {Map<string, { frame: Out, resolve: (answer: Answer) => void, reject: (error: RequestError) => void, timer: unknown }>} */
    this.waiting = new Map();
  }

  nextRef() {
    this.counter += 1;
    return `${this.prefix}${this.counter}`;
  }

  get size() {
    return this.waiting.size;
  }

  /** @param {Ref | null | undefined} ref */
  has(ref) {
    return ref !== undefined && ref !== null && this.waiting.has(String(ref));
  }

  /**
   * Send ``frame`` with a fresh ref; the promise settles with its answer.
   * @template {Out & Requestable} F
   * @param {F} frame
   * @param {{ timeoutMs?: number }} [options]
   * @returns {Promise<AnswerTo<F>>} the answer frame, of the type the request asks for (frames.d.ts, ``RequestAnswers``)
   */
  request(frame, { timeoutMs = this.timeoutMs } = {}) {
    const ref = this.nextRef();
    const out = { ...frame, ref };
    // The server answers a ref with the frame its request asks for (or an error, which rejects):
    // settle() resolves with whatever frame carries the ref, so the answer's type is taken on trust.
    return /** @type {Promise<AnswerTo<F>>} */ (/** @type {Promise<Answer>} */ (new Promise((resolve, reject) => {
      if (!this.sendFrame(out)) {
        reject(new RequestError("not_connected", "the socket is not connected", null));
        return;
      }
      const timer = this.clock.setTimeout(() => {
        if (!this.waiting.delete(ref)) return;
        reject(new RequestError("timeout", `no answer to ${frame.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(ref, { frame: out, resolve, reject, timer });
    })));
  }

  /**
   * An incoming frame: true if it answered a waiting request.
   * @param {Answer | null | undefined} frame
   */
  settle(frame) {
    if (!frame || !("ref" in frame) || !this.has(frame.ref)) return false;
    const ref = String(frame.ref);
    const entry = this.waiting.get(ref);
    if (!entry) return false;
    this.waiting.delete(ref);
    this.clock.clearTimeout(entry.timer);
    if (frame.type === "error") entry.reject(new RequestError(frame.code, frame.detail ?? "", frame));
    else entry.resolve(frame);
    return true;
  }

  /** The socket went away: nothing sent on it will be answered. */
  /** @param {string} [code] */
  failAll(code = "disconnected") {
    const entries = [...this.waiting.values()];
    this.waiting.clear();
    for (const entry of entries) {
      this.clock.clearTimeout(entry.timer);
      entry.reject(new RequestError(code, "the connection closed before the answer came"));
    }
  }
}
