// @ts-check
// A WebSocket that keeps itself connected: exponential backoff with jitter,
// a ping heartbeat that notices a dead connection, and a visible state.
//
// A connection only counts once the server's first frame (``readyType``, e.g.
// "connected") arrived: a socket that opens and closes at once is a failure.
// States: connecting → connected → reconnecting → (after `offlineAfter`
// failed attempts in a row, or when the browser says it is offline) offline.
// A socket whose ready frame does not come within `pongTimeout` of opening, or
// that hears nothing within `pongTimeout` of a ping, is dropped.
// Events: "state" {state}, "ready" {frame}, "frame" {frame}, "ping" (a heartbeat
// ping went out), "pong" (a pong came in), "closed" {code, opened, wasReady}
// (a socket closed: its close code, whether the handshake went through and
// whether the ready frame came; a refused handshake is closed, never opened).

/** @import { ClientFrame, ServerFrame } from "./protocol/frames.js" */

// An EventTarget that names its events: `Events` maps each event's name to its
// type, so a listener of "frame" knows its `detail` without a cast. Only the
// types differ from EventTarget: at run time it is one.

/**
 * @template {Record<string, Event>} Events
 */
export class Emitter extends EventTarget {
  /**
   * A listener of one of this target's own events, typed by its name.
   * @template {keyof Events & string} K
   * @overload
   * @param {K} type
   * @param {(event: Events[K]) => void} listener
   * @param {boolean | AddEventListenerOptions} [options]
   * @returns {void}
   */
  /**
   * Any other event, as EventTarget's.
   * @overload
   * @param {string} type
   * @param {EventListenerOrEventListenerObject | null} listener
   * @param {boolean | AddEventListenerOptions} [options]
   * @returns {void}
   */
  /**
   * @param {string} type
   * @param {any} listener
   * @param {boolean | AddEventListenerOptions} [options]
   */
  addEventListener(type, listener, options) {
    super.addEventListener(type, listener, options);
  }
}

/** @typedef {"connecting" | "connected" | "reconnecting" | "offline"} SocketState */

/**
 * The events a socket dispatches, by name, for frames of type `In`.
 * @template In
 * @typedef {{
 *   state: CustomEvent<{ state: SocketState }>,
 *   ready: CustomEvent<{ frame: In }>,
 *   frame: CustomEvent<{ frame: In }>,
 *   ping: CustomEvent,
 *   pong: CustomEvent,
 *   closed: CustomEvent<{ code: number, opened: boolean, wasReady: boolean }>,
 * }} SocketEvents
 */

/**
 * A socket that receives frames of type `In` and sends frames of type `Out`
 * (`ws/chat/`'s by default; the bell's socket names `ws/notifications/`'s).
 * @template {{ type: string }} [In=ServerFrame]
 * @template [Out=ClientFrame]
 * @extends {Emitter<SocketEvents<In>>}
 */
export class ReconnectingSocket extends Emitter {
  /**
   * @param {string} path
   * @param {{ readyType: string, baseDelay?: number, maxDelay?: number, offlineAfter?: number, pingEvery?: number, pongTimeout?: number }} options
   */
  constructor(path, { readyType, baseDelay = 500, maxDelay = 10000, offlineAfter = 2, pingEvery = 25000, pongTimeout = 10000 }) {
    super();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}${path}`;
    this.readyType = readyType;
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
    this.offlineAfter = offlineAfter;
    this.pingEvery = pingEvery;
    this.pongTimeout = pongTimeout;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.ready = false;
    this.failures = 0;
    /** @type {SocketState} */
    this.state = "connecting";
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.heartbeat = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.readyTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pongTimer = undefined;
    this.lastFrameAt = 0;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => {
      // The socket is as good as dead; do not wait for the heartbeat to notice.
      if (this.ready) this.dropped();
      else this.setState("offline");
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.ready) this.reconnectNow();
    });
  }

  start() {
    this.open();
    return this;
  }

  /**
   * Send a frame if the connection is ready; false means it was not sent.
   * @param {Out | { type: "ping" }} frame
   */
  send(frame) {
    if (!this.ready || this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  get isReady() {
    return this.ready;
  }

  reconnectNow() {
    if (this.ready) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    this.open();
  }

  /** @param {SocketState} state */
  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  open() {
    if (this.ws) this.detach();
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.failed();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      // Open but silent: a server that never says it is ready counts as a failure.
      clearTimeout(this.readyTimer);
      this.readyTimer = setTimeout(() => { if (this.ws === ws && !this.ready) this.dropped(); }, this.pongTimeout);
    });
    ws.addEventListener("message", (event) => this.onMessage(event));
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.dispatchEvent(new CustomEvent("closed", { detail: { code: event.code, opened, wasReady: this.ready } }));
      if (this.ws === ws) this.dropped();
    });
  }

  /** @param {MessageEvent} event */
  onMessage(event) {
    /** @type {In} */
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    this.lastFrameAt = Date.now();
    if (!this.ready) {
      if (frame.type !== this.readyType) return;
      this.ready = true;
      this.failures = 0;
      clearTimeout(this.readyTimer);
      this.readyTimer = undefined;
      this.startHeartbeat();
      this.setState("connected");
      this.dispatchEvent(new CustomEvent("ready", { detail: { frame } }));
      return;
    }
    if (frame.type === "pong") {
      this.dispatchEvent(new CustomEvent("pong"));
      return;
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: { frame } }));
  }

  dropped() {
    const wasReady = this.ready;
    this.detach();
    if (wasReady) this.failures = 0;
    this.failed();
  }

  failed() {
    this.failures += 1;
    const offline = this.failures > this.offlineAfter || navigator.onLine === false;
    this.setState(offline ? "offline" : "reconnecting");
    // Exponential backoff with "equal jitter": half fixed, half random, so a
    // crowd of clients that lost the same server does not come back at once.
    const ceiling = Math.min(this.maxDelay, this.baseDelay * 2 ** Math.min(this.failures - 1, 10));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.open(); }, delay);
  }

  detach() {
    clearInterval(this.heartbeat);
    clearTimeout(this.readyTimer);
    clearTimeout(this.pongTimer);
    this.heartbeat = undefined;
    this.readyTimer = undefined;
    this.pongTimer = undefined;
    this.ready = false;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) {
      try { ws.close(); } catch { /* already closing */ }
    }
  }

  startHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      this.dispatchEvent(new CustomEvent("ping"));
      const sentAt = Date.now();
      clearTimeout(this.pongTimer);
      // Nothing heard, not even a pong: the connection is dead without a close.
      this.pongTimer = setTimeout(() => { if (this.ready && this.lastFrameAt < sentAt) this.dropped(); }, this.pongTimeout);
    }, this.pingEvery);
  }
}
