// @ts-check
// The HTTP fallback, while ws/chat/ cannot be had (docs/protocol.md, "HTTP"):
// the same catching up, sending and reading over the JSON API, every
// ``everyMs`` while the page says the socket is offline. A 403 means the
// session ended: ``onSignedOut`` is called and the outbox is kept.
// ``api`` is injected: ``get(url)`` and ``post(url, body)`` resolve to
// ``{status, body}`` and reject only when the server cannot be reached.

const BASE = "/messages/api/conversations";

import { retryAfter } from "./refusals.js";

/** @import { ChatState } from "./client.js" */
/** @import { Clock } from "./requests.js" */
/** @import { OutboxEntry } from "./outbox.js" */
/** @import { Event } from "./frames.js" */
/** @typedef {{ status: number, body: any }} Answer an HTTP answer: its status and its JSON body (null when it had none) */
/** @typedef {{ get: (url: string) => Promise<Answer>, post: (url: string, data: unknown) => Promise<Answer> }} Api */

/** The server answered 403 forbidden: the session is gone. */
class SignedOut extends Error {
  constructor() {
    super("signed out");
  }
}

export class HttpFallback {
  /** @param {{ state: ChatState, api: Api, clock: Clock, everyMs?: number, onSignedOut?: () => void }} options */
  constructor({ state, api, clock, everyMs = 4000, onSignedOut = () => {} }) {
    this.state = state;
    this.api = api;
    this.clock = clock;
    this.everyMs = everyMs;
    this.onSignedOut = onSignedOut;
    /** @type {unknown} */
    this.timer = null;
    this.running = false;
    /** @type {unknown} */
    this.flushTimer = null;
    /** @type {Set<number>} */
    this.catchingUp = new Set();
    this.flushing = false;
    this.flushAgain = false;
    state.http = this;
  }

  get active() {
    return this.timer !== null;
  }

  start() {
    if (this.timer !== null) return;
    this.timer = this.clock.setTimeout(() => this.tick(), 0);
  }

  stop() {
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.flushTimer);
    this.timer = null;
    this.flushTimer = null;
  }

  async tick() {
    try {
      await this.runOnce();
    } finally {
      if (this.timer !== null) this.timer = this.clock.setTimeout(() => this.tick(), this.everyMs);
    }
  }

  /** One round: the inbox, the conversation on screen, then the outbox. */
  async runOnce() {
    if (this.running || this.state.connected) return;
    this.running = true;
    try {
      await this.inbox();
      const id = this.state.viewing;
      if (id !== null) {
        const conv = this.state.get(id);
        if (conv && !conv.historyLoaded) await this.state.loadHistory(id, { initial: true });
        else await this.catchUp(id);
      }
      await this.flush();
      this.state.flushReports();
    } catch (error) {
      if (error instanceof SignedOut) this.onSignedOut();
      // Otherwise the server cannot be reached at all: the outbox keeps everything.
    } finally {
      this.running = false;
    }
  }

  /**
   * @param {Answer} answer
   * @returns {Answer}
   */
  check({ status, body }) {
    if (status === 403 && body?.code === "forbidden") {
      throw new SignedOut();
    }
    return { status, body };
  }

  async inbox() {
    const { status, body } = this.check(await this.api.get(`${BASE}?limit=100`));
    if (status !== 200 || !body) return;
    for (const c of body.conversations ?? []) {
      const conv = this.state.describe(c);
      if (conv && !conv.log.anchored && conv.id !== this.state.viewing) conv.log.anchor(this.state.defaultAnchor(conv));
    }
    this.state.inbox.loaded = true;
    this.state.emit("inbox");
    this.state.emit("unread", { total: this.state.totalUnread() });
  }

  /**
   * A history page for ``loadHistory`` (the same shape as the socket's answer).
   * @param {number} id
   * @param {number | null | undefined} before
   * @param {number} limit
   */
  async history(id, before, limit) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before !== null && before !== undefined) query.set("before", String(before));
    const { status, body } = this.check(await this.api.get(`${BASE}/${id}/history?${query}`));
    if (status !== 200 || !body) throw new Error(`history: ${status}`);
    return body;
  }

  /**
   * Every event after the cursor, page by page, like ``sync``.
   * @param {number} id
   */
  async catchUp(id) {
    const conv = this.state.get(id);
    if (!conv || !conv.log.anchored || this.catchingUp.has(id) || this.state.connected) return;
    this.catchingUp.add(id);
    try {
      for (let page = 0; page < 10; page += 1) {
        const after = conv.log.cursor;
        const { status, body } = this.check(await this.api.get(`${BASE}/${id}/events?after=${after}&limit=100`));
        if (status !== 200 || !body) return;
        this.state.applySync(id, body, after);
        if (!body.has_more || conv.log.cursor === after) return;
      }
    } finally {
      this.catchingUp.delete(id);
    }
  }

  /**
   * Send what waits in the outbox; stop as soon as the socket is back.
   *
   * One flush at a time: the poll (``runOnce``) and ``flushSoon`` (a message
   * just written) may both ask while a POST is on its way, and a second
   * flush would POST the same entry again before the first answer settled it
   * (harmless for the server, which knows the client_id, but a refusal such
   * as 429 would be counted twice). A flush asked for meanwhile runs after.
   */
  async flush() {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        await this.flushPending();
      } while (this.flushAgain && !this.state.connected);
    } finally {
      this.flushing = false;
    }
  }

  async flushPending() {
    for (const entry of this.state.outbox.pending()) {
      if (this.state.connected || this.state.retryTimers.has(entry.client_id)) return;
      /** @type {{ content: string, client_id: string, attachments?: number[] }} */
      const body = { content: entry.content, client_id: entry.client_id };
      if (Array.isArray(entry.attachments) && entry.attachments.length) body.attachments = [...entry.attachments];
      if (Number.isInteger(entry.conversation)) {
        const answer = this.check(await this.api.post(`${BASE}/${entry.conversation}/messages`, body));
        this.settle(entry, answer, answer.body?.event);
      } else {
        // A direct chat not started yet: the first contract's send creates it.
        const answer = this.check(await this.api.post(`/messages/api/${encodeURIComponent(entry.to ?? "")}/send`, body));
        if (answer.status === 200 || answer.status === 201) {
          this.state.outbox.remove(entry.client_id);
          this.state.emit("outbox", { id: null, entry: null });
          await this.inbox();
          const conv = this.state.direct(entry.to);
          if (conv) await this.catchUp(conv.id);
        } else {
          this.settle(entry, answer, null);
        }
      }
    }
  }

  /**
   * @param {OutboxEntry} entry
   * @param {Answer} answer
   * @param {Event | null | undefined} event the stored message, when the answer has it
   */
  settle(entry, { status, body }, event) {
    if ((status === 200 || status === 201) && event) this.state.acknowledged(entry.client_id, event);
    // 429 (any limit's code) or any refusal with retry_after: the entry stays pending and the outbox waits retry_after.
    else if (status === 429 || retryAfter(body) !== null) this.state.onError({ type: "error", code: body?.code ?? "rate_limited", detail: body?.detail ?? "", client_id: entry.client_id, retry_after: body?.retry_after }, false);
    else if (status >= 400) this.state.failed(entry.client_id, body?.code ?? "server_error");
  }

  flushSoon() {
    if (this.timer === null || this.flushTimer !== null) return;
    this.flushTimer = this.clock.setTimeout(async () => {
      this.flushTimer = null;
      try {
        await this.flush();
      } catch (error) {
        if (error instanceof SignedOut) this.onSignedOut();
      }
    }, 0);
  }

  /**
   * ``read`` over HTTP (it moves both cursors).
   * @param {number} id
   * @param {number} upTo
   */
  read(id, upTo) {
    if (this.timer === null) return false;
    this.api.post(`${BASE}/${id}/read`, { up_to: upTo }).then(
      (answer) => {
        if (answer.status === 200 && answer.body) {
          this.state.onReceipt({ conversation: id, user: this.state.me, read_seq: answer.body.read_seq, delivered_seq: answer.body.delivered_seq });
        }
      },
      () => {},
    );
    return true;
  }
}
