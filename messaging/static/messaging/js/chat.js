// The chat page: wires the socket, the outbox and the message list together.
// Loads the last 50 messages (history), catches up after every reconnect with
// sync from the last contiguous seq, sends optimistically (HTTP when the socket
// cannot be had), and handles ticks, typing, presence and read receipts.

import { announce } from "./dom.js";
import { getJSON, postJSON } from "./api.js";
import { ConversationList } from "./conversations.js";
import { MessageList } from "./message-list.js";
import { Outbox } from "./outbox.js";
import { ReconnectingSocket } from "./socket.js";
import { presenceText } from "./time.js";

const PAGE = 50;
const TYPING_REFRESH_MS = 2000; // the server re-announces at most every 2.5 s anyway
const TYPING_IDLE_MS = 3000;
const TYPING_SHOWN_MS = 7000; // safety net; the server turns typing off after 5 s
const FALLBACK_EVERY_MS = 4000;
const RETRY_AFTER_ERROR_MS = 1000; // doubled per error in a row, up to 30 s

const config = JSON.parse(document.getElementById("chat-config").textContent);
const me = config.me;
const peer = config.peer.username;
const root = document.querySelector("[data-chat]");
const $ = (selector) => root.querySelector(selector);
const ui = {
  scroller: $("[data-scroller]"),
  messages: $("[data-messages]"),
  loadOlder: $("[data-load-older]"),
  historyStart: $("[data-history-start]"),
  historyTop: $(".history-top"),
  typing: $("[data-typing]"),
  presence: $("[data-presence]"),
  presenceDot: $("[data-presence-dot]"),
  connection: $("[data-connection]"),
  connectionText: $("[data-connection-text]"),
  composer: $("[data-composer]"),
  input: $("[data-composer-input]"),
  counter: $("[data-counter]"),
};

const outbox = new Outbox(`linkup.outbox.${me}.${peer}`);
const socket = new ReconnectingSocket(config.socket_path, { readyType: "connected" });
const list = new MessageList({
  list: ui.messages,
  scroller: ui.scroller,
  me,
  onRetry: retry,
  onDiscard: discard,
  onVisibleChange: () => maybeSendRead(),
});
const sidebarList = document.querySelector(".sidebar [data-conversations]");
const sidebar = sidebarList
  ? new ConversationList(sidebarList, { empty: document.querySelector(".sidebar [data-conversations-empty]"), current: peer })
  : null;

// Every message with seq <= cursor (down to the oldest loaded) is on screen;
// sync resumes from it. It is only trusted once the first page arrived.
let cursor = 0;
let cursorReady = false;
let serverLastSeq = 0;
let hasOlder = false;
let historyRequest = null; // "initial" | "older" while a history answer is awaited
let historyViaSocket = false;
let syncing = false;
let errorsInARow = 0; // error answers to sync/history since the last good page
let errorRetry = null;
let lastReadSent = 0;
let presence = { online: config.peer.online, last_seen: config.peer.last_seen };

// --- Receiving ------------------------------------------------------------------

function receive(messages, { live = false, scroll = "auto" } = {}) {
  const fresh = messages.filter((m) => !list.hasSeq(m.seq));
  for (const m of messages) if (m.sender === me) outbox.remove(m.client_id);
  list.upsert(messages, { scroll });
  advanceCursor();
  if (live) {
    for (const m of fresh) if (m.sender === peer) announce(`${peer}: ${m.content.slice(0, 140)}`);
    if (fresh.some((m) => m.sender === peer)) showTyping(false);
  }
  if (fresh.length && sidebar) sidebar.refreshSoon();
  maybeSendRead();
}

function advanceCursor() {
  if (!cursorReady) return;
  while (list.hasSeq(cursor + 1)) cursor += 1;
  // Something above the cursor but not next to it: a push was lost. Sync fills it.
  if (list.highestSeq > cursor) requestSync();
}

function requestSync() {
  if (syncing || !cursorReady) return;
  if (socket.send({ type: "sync", after: cursor })) syncing = true;
}

function onSyncPage({ messages, has_more: hasMore }) {
  syncing = false;
  errorsInARow = 0;
  receive(messages);
  if (messages.length && (hasMore || list.highestSeq > cursor)) requestSync();
}

/**
 * An error frame without a client_id. If a sync or a socket history request is
 * outstanding it may be the answer to it: forget the request (it would block
 * every later one until a reconnect) and ask again shortly; both are idempotent.
 */
function onRequestError() {
  const resync = syncing;
  const history = historyViaSocket ? historyRequest : null;
  if (!resync && !history) return;
  syncing = false;
  if (history) {
    historyRequest = null;
    historyViaSocket = false;
    renderHistoryTop();
  }
  const delay = Math.min(30000, RETRY_AFTER_ERROR_MS * 2 ** errorsInARow);
  errorsInARow += 1;
  clearTimeout(errorRetry);
  errorRetry = setTimeout(() => {
    if (history && (history === "older" || !cursorReady)) loadHistory(history);
    if (resync) requestSync();
  }, delay);
}

function loadHistory(kind) {
  if (historyRequest) return;
  const before = kind === "initial" ? null : list.oldestSeq;
  if (socket.send({ type: "history", before, limit: PAGE })) {
    historyRequest = kind;
    historyViaSocket = true;
    renderHistoryTop();
    return;
  }
  historyRequest = kind;
  renderHistoryTop();
  httpHistory({ before })
    .then((page) => { historyRequest = null; onHistoryPage(kind, page); })
    .catch(() => { historyRequest = null; renderHistoryTop(); });
}

function onHistoryPage(kind, { messages, has_more: hasMore }) {
  errorsInARow = 0;
  if (kind === "initial" && !cursorReady) {
    hasOlder = hasMore;
    receive(messages, { scroll: "bottom" });
    cursor = messages.reduce((high, m) => Math.max(high, m.seq), 0);
    cursorReady = true;
    advanceCursor();
    if (serverLastSeq > cursor) requestSync();
  } else if (kind === "older") {
    hasOlder = hasMore;
    receive(messages, { scroll: "prepend" });
  } else {
    receive(messages);
  }
  renderHistoryTop();
  requestAnimationFrame(maybeLoadOlder);
}

function renderHistoryTop() {
  ui.loadOlder.hidden = !cursorReady || !hasOlder;
  ui.loadOlder.disabled = historyRequest !== null;
  ui.loadOlder.textContent = historyRequest === "older" ? "Loading…" : "Load older messages";
  ui.historyStart.hidden = !cursorReady || hasOlder || list.size === 0;
}

function maybeLoadOlder() {
  if (!cursorReady || !hasOlder || historyRequest) return;
  if (ui.scroller.scrollTop < 150) loadHistory("older");
}

// --- Sending --------------------------------------------------------------------

function sendEntry(entry) {
  return socket.send({ type: "message", content: entry.content, client_id: entry.client_id });
}

function send(content) {
  const entry = outbox.add(content);
  list.addPending(entry, { scroll: "bottom" });
  stopTyping(false);
  if (!sendEntry(entry) && socket.state === "offline") runFallback();
}

function flushOutbox() {
  for (const entry of outbox.pending()) sendEntry(entry);
}

function retry(clientId) {
  const entry = outbox.update(clientId, { state: "pending", error: null });
  if (!entry) return;
  list.setPendingState(clientId, "pending");
  if (!sendEntry(entry) && socket.state === "offline") runFallback();
  ui.input.focus();
}

function discard(clientId) {
  outbox.remove(clientId);
  list.discardPending(clientId);
  announce("Message deleted");
  ui.input.focus();
}

function fail(clientId, code) {
  if (!outbox.update(clientId, { state: "failed", error: code })) return;
  list.setPendingState(clientId, "failed", code);
  announce("A message could not be sent. Use Retry to send it again.");
}

// --- The HTTP fallback, while the socket cannot be had --------------------------

let fallbackTimer = null;
let fallbackRunning = false;

/** A history page: the newest, ``before`` a seq (newest first) or ``after`` one (oldest first). */
async function httpHistory({ before = null, after = null } = {}) {
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (before !== null) query.set("before", String(before));
  if (after !== null) query.set("after", String(after));
  const { ok, body } = await getJSON(`${config.history_url}?${query}`);
  if (!ok || !body) throw new Error("history unavailable");
  return body;
}

/** Everything after the cursor, page by page, like sync does over the socket. */
async function httpCatchUp() {
  let after = cursor;
  for (let page = 0; page < 10; page += 1) {
    const { messages, has_more: hasMore } = await httpHistory({ after });
    receive(messages);
    if (!hasMore || !messages.length) return;
    after = messages.reduce((high, m) => Math.max(high, m.seq), after);
  }
}

async function httpFlush() {
  for (const entry of outbox.pending()) {
    if (socket.isReady) return;
    const { status, body } = await postJSON(config.send_url, { content: entry.content, client_id: entry.client_id });
    if ((status === 200 || status === 201) && body?.message) receive([body.message], { scroll: "bottom" });
    else if (status >= 400) fail(entry.client_id, body?.code ?? (status === 429 ? "rate_limited" : "server_error"));
  }
}

async function runFallback() {
  if (fallbackRunning || socket.isReady) return;
  fallbackRunning = true;
  try {
    if (!cursorReady) onHistoryPage("initial", await httpHistory());
    else await httpCatchUp();
    await httpFlush();
  } catch {
    // The server cannot be reached at all: the outbox keeps everything.
  } finally {
    fallbackRunning = false;
  }
}

function startFallback() {
  if (fallbackTimer) return;
  runFallback();
  fallbackTimer = setInterval(runFallback, FALLBACK_EVERY_MS);
}

function stopFallback() {
  clearInterval(fallbackTimer);
  fallbackTimer = null;
}

// --- Read receipts ----------------------------------------------------------------

function maybeSendRead() {
  if (document.visibilityState !== "visible" || !document.hasFocus()) return;
  const upTo = list.unreadVisiblePeerSeq();
  if (upTo > lastReadSent && socket.send({ type: "read", up_to: upTo })) lastReadSent = upTo;
}

document.addEventListener("visibilitychange", maybeSendRead);
window.addEventListener("focus", maybeSendRead);

// --- Typing -----------------------------------------------------------------------

let typingOn = false;
let typingSentAt = 0;
let typingIdle = null;
let typingShown = null;

function startTyping() {
  const now = Date.now();
  if ((!typingOn || now - typingSentAt > TYPING_REFRESH_MS) && socket.send({ type: "typing", is_typing: true })) {
    typingOn = true;
    typingSentAt = now;
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(() => stopTyping(true), TYPING_IDLE_MS);
}

function stopTyping(tell = true) {
  clearTimeout(typingIdle);
  if (typingOn && tell) socket.send({ type: "typing", is_typing: false });
  typingOn = false;
}

function showTyping(isTyping) {
  clearTimeout(typingShown);
  ui.typing.textContent = isTyping ? `${peer} is typing…` : "";
  if (isTyping) typingShown = setTimeout(() => showTyping(false), TYPING_SHOWN_MS);
}

// --- Presence and connection state ------------------------------------------------

function renderPresence() {
  // The line is a live region: only a change should be read out.
  const text = presenceText(presence.online, presence.last_seen);
  if (ui.presence.textContent !== text) ui.presence.textContent = text;
  ui.presence.classList.toggle("online", presence.online);
  ui.presenceDot.classList.toggle("online", presence.online);
}

const CONNECTION_TEXT = {
  connecting: ["Connecting…", "Connecting to LinkUp"],
  connected: ["Connected", "Messages are sent and received live"],
  reconnecting: ["Reconnecting…", "The connection dropped; trying again. Your messages wait in the outbox."],
  offline: ["Offline", "No live connection. Messages are kept and sent as soon as the server can be reached."],
};

function renderConnection(state) {
  const [text, title] = CONNECTION_TEXT[state];
  ui.connection.dataset.state = state;
  ui.connection.title = title;
  ui.connectionText.textContent = text;
}

socket.addEventListener("state", ({ detail: { state } }) => {
  renderConnection(state);
  if (state !== "connected") {
    syncing = false;
    clearTimeout(errorRetry);
    if (historyViaSocket) {
      historyRequest = null;
      historyViaSocket = false;
    }
    stopTyping(false);
    showTyping(false);
    renderHistoryTop();
  }
  if (state === "offline") startFallback();
  else if (state === "connected") stopFallback();
});

socket.addEventListener("ready", ({ detail: { frame } }) => {
  presence = { online: frame.peer.online, last_seen: frame.peer.last_seen };
  serverLastSeq = frame.last_seq;
  lastReadSent = 0;
  renderPresence();
  if (!cursorReady) loadHistory("initial");
  else requestSync();
  flushOutbox();
  maybeSendRead();
  // The socket has made the conversation if this is its first visit: list it.
  if (sidebar) sidebar.refreshSoon();
});

socket.addEventListener("frame", ({ detail: { frame } }) => {
  switch (frame.type) {
    case "message":
      receive([frame.message], { live: true });
      break;
    case "ack":
      receive([frame.message]);
      break;
    case "sync":
      onSyncPage(frame);
      break;
    case "history": {
      const kind = historyRequest ?? "older";
      historyRequest = null;
      historyViaSocket = false;
      onHistoryPage(kind, frame);
      break;
    }
    case "status":
      list.applyStatus(frame);
      if (sidebar) sidebar.refreshSoon();
      break;
    case "typing":
      if (frame.user === peer) showTyping(frame.is_typing);
      break;
    case "presence":
      if (frame.user === peer) {
        presence = { online: frame.online, last_seen: frame.last_seen };
        renderPresence();
      }
      break;
    case "error":
      if (frame.client_id && outbox.get(frame.client_id)) fail(frame.client_id, frame.code);
      else {
        console.warn("LinkUp:", frame.code, frame.detail);
        onRequestError();
      }
      break;
    default:
      break;
  }
});

// --- Composer -----------------------------------------------------------------------

const codePoints = (text) => [...text].length;

function autoGrow() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight + 2, 152)}px`;
}

function renderCounter() {
  const length = codePoints(ui.input.value);
  const near = length > config.max_length - 200;
  ui.counter.hidden = !near;
  ui.counter.textContent = near ? `${length} / ${config.max_length}` : "";
  ui.counter.classList.toggle("over", length > config.max_length);
}

ui.input.addEventListener("input", () => {
  autoGrow();
  renderCounter();
  if (ui.input.value.trim()) startTyping();
  else stopTyping(true);
});

ui.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.input.addEventListener("blur", () => { if (!ui.input.value.trim()) stopTyping(true); });

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const content = ui.input.value;
  if (!content.trim()) return;
  if (codePoints(content) > config.max_length) {
    announce(`That message is too long: at most ${config.max_length} characters.`);
    return;
  }
  ui.input.value = "";
  autoGrow();
  renderCounter();
  send(content);
  ui.input.focus();
});

// --- Older messages -------------------------------------------------------------------

ui.loadOlder.addEventListener("click", () => loadHistory("older"));
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) maybeLoadOlder();
}, { root: ui.scroller, rootMargin: "150px 0px 0px 0px" }).observe(ui.historyTop);

// --- Start --------------------------------------------------------------------------

for (const entry of outbox.all()) list.addPending(entry);
renderPresence();
renderConnection("connecting");
setInterval(() => { renderPresence(); list.refreshLabels(); }, 30000);
if (sidebar) {
  sidebar.render(JSON.parse(document.getElementById("conversations-data").textContent));
  sidebar.live();
}
socket.start();
// On a phone, focusing would pop the keyboard over the conversation.
if (window.matchMedia("(min-width: 860px)").matches) ui.input.focus();
