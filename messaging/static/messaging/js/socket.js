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

export class ReconnectingSocket extends EventTarget {
  constructor(path, { readyType, baseDelay = 500, maxDelay = 10000, offlineAfter = 2, pingEvery = 25000, pongTimeout = 10000 } = {}) {
    super();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = `${scheme}://${location.host}${path}`;
    this.readyType = readyType;
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
    this.offlineAfter = offlineAfter;
    this.pingEvery = pingEvery;
    this.pongTimeout = pongTimeout;
    this.ws = null;
    this.ready = false;
    this.failures = 0;
    this.state = "connecting";
    this.retryTimer = null;
    this.heartbeat = null;
    this.readyTimer = null;
    this.pongTimer = null;
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

  /** Send a frame if the connection is ready; false means it was not sent. */
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
    this.retryTimer = null;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    this.open();
  }

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

  onMessage(event) {
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
      this.readyTimer = null;
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
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.open(); }, delay);
  }

  detach() {
    clearInterval(this.heartbeat);
    clearTimeout(this.readyTimer);
    clearTimeout(this.pongTimer);
    this.heartbeat = null;
    this.readyTimer = null;
    this.pongTimer = null;
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
