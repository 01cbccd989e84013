// @ts-check
// The messaging app: one page for /messages/ (the inbox), /messages/<username>/
// (a direct chat) and /messages/c/<id>/ (any conversation). One ws/chat/
// socket per tab carries every conversation; the protocol state
// (protocol/client.js, no DOM) holds what the server said and this module
// only renders it: the sidebar, the chat pane, the dialogs, the connection
// pill, "You were signed out", the tab title. Moving between conversations
// happens in the page (history.pushState), so the socket stays up.

import { getJSON, postJSON } from "./api.js";
import { ConversationList, conversationUrl } from "./conversations.js";
import { Drafts } from "./drafts.js";
import { MembersDialog, NewGroupDialog } from "./dialogs.js";
import { announce, closest, find, h, paintAvatars, setAvatarImage } from "./dom.js";
import { MessageActions } from "./message-actions.js";
import { MessageList } from "./message-list.js";
import { PeopleSearch } from "./people.js";
import { ProfileCard } from "./profile-card.js";
import { ChatState } from "./protocol/client.js";
import { HttpFallback } from "./protocol/fallback.js";
import { MemoryStorage } from "./protocol/outbox.js";
import { RequestError, systemClock } from "./protocol/requests.js";
import { names, typingText } from "./protocol/text.js";
import { ReconnectingSocket } from "./socket.js";
import { formatSize } from "./attachments-view.js";
import { Uploads } from "./protocol/uploads.js";
import { uploadFile } from "./upload-transport.js";
import { ImageViewer } from "./viewer.js";
import { SearchPanel } from "./search.js";
import { fullStamp, presenceText } from "./time.js";
import { applySettings } from "./theme.js";

/** @import { AckFrame, ConnectedFrame, Event } from "./protocol/frames.js" */
/** @import { Conversation } from "./protocol/client.js" */
/** @import { SocketState } from "./socket.js" */

const TYPING_REFRESH_MS = 2000; // the server re-announces at most every 2.5 s anyway
const TYPING_IDLE_MS = 3000;
const SESSION_PROBE_MS = 3000; // at most one "am I still signed in?" request per this long
const WIDE = window.matchMedia("(min-width: 860px)");

const config = JSON.parse(find("#app-config").textContent ?? "");
const me = config.me;
const root = find("[data-app]");
/**
 * The page's own element for ``selector`` (app.html), checked to be a ``type`` (an HTMLElement
 * unless named): missing, it is a template out of step with this code.
 * @template {Element} [T=HTMLElement]
 * @param {string} selector
 * @param {{ new (...args: any[]): T }} [type]
 * @returns {T}
 */
const $ = (selector, type) => find(selector, type);
const ui = {
  sidebarList: $("[data-conversations]"),
  sidebarEmpty: $("[data-conversations-empty]"),
  sidebarLoading: $("[data-conversations-loading]"),
  connectionHome: $("[data-connection-home]"),
  paneEmpty: $("[data-pane-empty]"),
  chat: $("[data-chat]"),
  chatHead: $(".chat-head"),
  avatar: $("[data-chat-avatar]", HTMLButtonElement),
  name: $("[data-chat-name]"),
  presence: $("[data-presence]"),
  presenceDot: $("[data-presence-dot]"),
  membersOpen: $("[data-members-open]"),
  connection: $("[data-connection]"),
  connectionText: $("[data-connection-text]"),
  scroller: $("[data-scroller]"),
  messages: $("[data-messages]"),
  loadOlder: $("[data-load-older]", HTMLButtonElement),
  historyStart: $("[data-history-start]"),
  historyTop: $(".history-top"),
  jump: $("[data-jump-latest]"),
  jumpCount: $("[data-jump-count]"),
  typing: $("[data-typing]"),
  closed: $("[data-chat-closed]"),
  composer: $("[data-composer]", HTMLFormElement),
  composerLabel: $("[data-composer-label]"),
  input: $("[data-composer-input]", HTMLTextAreaElement),
  counter: $("[data-counter]"),
  signedOut: $("[data-signed-out]"),
  signIn: $("[data-sign-in]"),
  back: $("[data-back]"),
};

function browserStorage() {
  try {
    const probe = "linkup.probe";
    localStorage.setItem(probe, "1");
    localStorage.removeItem(probe);
    return localStorage;
  } catch {
    return new MemoryStorage(); // private mode: the outbox lives as long as the page
  }
}

const storage = browserStorage();
const drafts = new Drafts(storage, me);
const socket = new ReconnectingSocket(config.socket_path, { readyType: "connected" });
const state = new ChatState({ me, storage, send: (frame) => socket.send(frame), clock: systemClock, pageSize: 50 });
const fallback = new HttpFallback({ state, api: { get: getJSON, post: postJSON }, clock: systemClock, onSignedOut: () => signedOut() });

/** Unsent messages of the first app (one outbox per peer) join this one, with their client_ids. */
function adoptOldOutboxes() {
  if (storage instanceof MemoryStorage) return;
  const prefix = `linkup.outbox.${me}.`;
  for (const key of Object.keys(localStorage).filter((k) => k.startsWith(prefix))) {
    try {
      for (const old of JSON.parse(localStorage.getItem(key) || "[]")) {
        if (typeof old?.client_id === "string" && typeof old.content === "string" && !state.outbox.get(old.client_id)) {
          state.outbox.entries.push({ ...old, conversation: null, to: key.slice(prefix.length), state: "pending", error: null });
        }
      }
    } catch {
      // A broken old entry is dropped.
    }
    localStorage.removeItem(key);
  }
  state.outbox.save();
}
adoptOldOutboxes();

// --- where we are -------------------------------------------------------------------

/** @typedef {{ kind: "inbox" | "conversation" | "direct", id: number | null, peer: string | null }} Route */

/**
 * What a URL of this app shows: the inbox, a conversation by id, or a direct chat by peer.
 * @param {string} pathname
 * @returns {Route}
 */
function parseRoute(pathname) {
  const byId = pathname.match(/^\/messages\/c\/(\d+)\/$/);
  if (byId) return { kind: "conversation", id: Number(byId[1]), peer: null };
  const direct = pathname.match(/^\/messages\/([^/]+)\/$/);
  if (direct) return { kind: "direct", id: null, peer: decodeURIComponent(direct[1] ?? "") };
  return { kind: "inbox", id: null, peer: null };
}

let route = (() => {
  const r = parseRoute(location.pathname);
  const given = config.route;
  if (r.kind === "direct" && given.kind === "direct" && given.peer === r.peer) r.id = given.id;
  return r;
})();
/** @type {{ id: number | null | undefined, peer: string | null | undefined, opened: boolean }} */
let shown = { id: undefined, peer: undefined, opened: false };
if (config.route.presence && config.route.peer) state.presence.set(config.route.peer, config.route.presence);
let sessionEnded = false;

function currentConv() {
  return route.id === null ? null : state.get(route.id);
}

/**
 * @param {string} url
 * @param {{ replace?: boolean }} [options]
 */
function navigate(url, { replace = false } = {}) {
  if (url === location.pathname && !replace) {
    if (!WIDE.matches) ui.input.focus();
    return;
  }
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route = parseRoute(location.pathname);
  show();
}

window.addEventListener("popstate", () => {
  route = parseRoute(location.pathname);
  show();
});

/** Render the page for ``route``. */
function show() {
  if (route.kind === "direct" && route.id === null) route.id = state.direct(route.peer)?.id ?? null;
  const chatOpen = route.kind !== "inbox";
  root.dataset.view = chatOpen ? "chat" : "list";
  ui.paneEmpty.hidden = chatOpen;
  ui.chat.hidden = !chatOpen;
  (chatOpen && ui.chat.isConnected ? ui.chatHead : ui.connectionHome).append(ui.connection);
  ui.signIn.setAttribute("href", `${config.login_url}?next=${encodeURIComponent(location.pathname)}`);
  sidebar.setCurrent(route.kind === "inbox" ? null : { id: route.id, peer: route.peer });
  state.setView(route.id, { visible: document.visibilityState === "visible" });
  stopTyping(false);
  if (!chatOpen) {
    list.reset(null, null);
    shown = { id: null, peer: null, opened: false };
    renderTitle();
    return;
  }
  if (shown.id !== route.id || shown.peer !== route.peer) {
    list.reset(state, route.id);
    list.peer = route.peer;
    shown = { id: route.id, peer: route.peer, opened: false };
    actions.cancel();
    ui.input.value = drafts.get(route);
    autoGrow();
    renderCounter();
    if (route.id !== null) state.open(route.id);
  }
  renderHeader();
  renderTyping();
  renderClosed();
  openAtDivider();
  renderHistoryTop();
  renderJump();
  renderTitle();
  if (WIDE.matches) ui.input.focus();
}

/** Once the newest page is in: "New messages" where unread starts, and open there; else at the bottom. */
function openAtDivider() {
  const conv = currentConv();
  if (shown.opened) {
    list.update("auto");
    return;
  }
  // Where unread starts needs the newest page and the summary (my read cursor), in either order.
  if (route.id !== null && !(conv?.historyLoaded && conv.described)) {
    list.update("bottom");
    return;
  }
  shown.opened = true;
  const divider = route.id === null ? null : state.firstUnreadSeq(route.id);
  list.setDivider(divider);
  list.update(divider ? "divider" : "bottom");
  maybeRead();
}

/**
 * The direct chat on screen got its conversation (the first message made it, or the inbox named it).
 * @param {number} id
 */
function adopt(id) {
  if (route.peer) drafts.adopt(route.peer, id);
  if (!ui.input.value && actions.mode?.kind !== "edit") {
    ui.input.value = drafts.get({ id });
    autoGrow();
  }
  route.id = id;
  shown.id = id;
  list.id = id;
  state.setView(id);
  state.open(id);
  sidebar.setCurrent({ id, peer: route.peer });
  renderHeader();
}

// --- the header -------------------------------------------------------------------------

function renderHeader() {
  const conv = currentConv();
  const group = conv ? conv.isGroup : route.kind === "conversation" && config.route.kind === "group";
  const peerName = group ? null : conv?.peer?.username ?? route.peer;
  const person = peerName ? state.identity(peerName) : null;
  const name = conv?.name ?? (person?.display_name || route.peer || config.route.name);
  ui.name.textContent = name;
  const letter = ui.avatar.firstChild;
  if (letter) letter.textContent = [...name][0]?.toUpperCase() ?? "?";
  ui.avatar.classList.toggle("group", Boolean(group));
  ui.avatar.dataset.avatar = peerName ?? name;
  setAvatarImage(ui.avatar, group ? null : conv?.peer?.avatar ?? person?.avatar ?? null);
  // A person's avatar opens their profile card; a group's is a picture only.
  ui.avatar.disabled = Boolean(group) || !peerName;
  if (ui.avatar.disabled) {
    ui.avatar.setAttribute("aria-hidden", "true");
    ui.avatar.removeAttribute("aria-label");
  } else {
    ui.avatar.removeAttribute("aria-hidden");
    ui.avatar.setAttribute("aria-label", `Profile of ${name}`);
  }
  ui.name.classList.toggle("opens-profile", !ui.avatar.disabled);
  paintAvatars(ui.chatHead);
  ui.composerLabel.textContent = `Message to ${name}`;
  ui.input.placeholder = `Message ${name}`;
  ui.scroller.setAttribute("aria-label", `Messages with ${name}`);
  ui.historyStart.textContent = group ? `This is the beginning of ${name}.` : `This is the beginning of your conversation with ${name}.`;
  ui.membersOpen.hidden = !group;
  clearChatButton.hidden = !conv;
  renderMute(conv);
  renderPin(conv);
  let line;
  let online = false;
  if (group && conv) {
    const members = conv.members.list().map((m) => m.username).sort();
    line = members.length && conv.members.complete
      ? names(members.map((m) => (m === me ? "you" : state.identity(m).display_name || m)))
      : `${conv.member_count} members`;
  } else {
    const peer = conv?.peer?.username ?? route.peer;
    const p = conv?.peer ?? (peer === null ? undefined : state.presence.get(peer)) ?? { online: false, last_seen: null };
    online = Boolean(p.online);
    line = presenceText(online, p.last_seen);
  }
  // The line is a live region: only a change should be read out.
  if (ui.presence.textContent !== line) ui.presence.textContent = line;
  ui.presence.classList.toggle("online", online);
  ui.presenceDot.classList.toggle("online", online);
  document.title = `${name} · LinkUp`;
  renderTitle();
}

function renderTyping() {
  const conv = currentConv();
  const users = conv ? state.typingIn(conv.id) : [];
  const text = typingText(users);
  if (ui.typing.textContent !== text) ui.typing.textContent = text;
}

/** A group I left or was removed from: its history stays, the composer goes. */
function renderClosed() {
  const conv = currentConv();
  const closed = Boolean(conv && !conv.isMember);
  ui.composer.hidden = closed;
  ui.closed.hidden = !closed;
  if (closed && conv && conv.left_seq !== null) {
    const last = conv.log.get(conv.left_seq);
    ui.closed.textContent = last?.kind === "member_removed" ? `${last.sender} removed you from this group.` : "You are no longer a member of this group.";
  }
}

function renderHistoryTop() {
  const conv = currentConv();
  const loaded = Boolean(conv?.historyLoaded);
  ui.loadOlder.hidden = !loaded || !conv?.log.hasOlder;
  ui.loadOlder.disabled = Boolean(conv?.historyLoading);
  ui.loadOlder.textContent = conv?.historyLoading && loaded ? "Loading…" : "Load older messages";
  ui.historyStart.hidden = route.id === null ? true : !loaded || conv?.log.hasOlder || list.size === 0;
}

const baseTitle = () => (route.kind === "inbox" ? "Messages · LinkUp" : `${currentConv()?.name ?? route.peer ?? config.route.name} · LinkUp`);

function renderTitle() {
  const total = state.totalUnread();
  document.title = total ? `(${total}) ${baseTitle()}` : baseTitle();
}

function renderJump() {
  const far = ui.scroller.scrollHeight - ui.scroller.scrollTop - ui.scroller.clientHeight > 200;
  ui.jump.hidden = ui.chat.hidden || !far;
  const unread = route.id === null ? 0 : state.unread(route.id);
  ui.jumpCount.hidden = !unread;
  ui.jumpCount.textContent = unread > 99 ? "99+" : String(unread);
  ui.jump.setAttribute("aria-label", unread ? `Jump to latest, ${unread} unread` : "Jump to latest");
}

// --- the parts --------------------------------------------------------------------------

const sidebar = new ConversationList(ui.sidebarList, {
  state,
  empty: ui.sidebarEmpty,
  loading: ui.sidebarLoading,
  drafts,
  onOpen: (url) => navigate(url),
});

const list = new MessageList({
  list: ui.messages,
  scroller: ui.scroller,
  onRetry: (clientId) => {
    if (!uploads.retry(clientId)) state.retry(clientId);
    ui.input.focus();
  },
  onDiscard: (clientId) => {
    uploads.forget(clientId);
    state.discard(clientId);
    announce("Message deleted");
    ui.input.focus();
  },
  onVisibleChange: () => maybeRead(),
  onMenu: (seq, anchor) => actions.openMenu(seq, anchor),
  onReaction: (seq, emoji) => actions.toggleReaction(seq, emoji),
  onJump: (seq) => actions.jump(seq),
  onEdits: (seq) => actions.showEdits(seq),
  onFillGap: () => loadOlder(),
  onOpenImage: (items, index) => viewer.open(items, index),
  onCancelFile: (clientId, index) => uploads.cancel(clientId, index),
});

// Doing things to a message (message-actions.js): the menu, reactions, replies and edits in the composer.
const actions = new MessageActions({
  state,
  list,
  input: ui.input,
  composer: ui.composer,
  context: {
    bar: $("[data-composer-context]"),
    label: $("[data-context-label]"),
    preview: $("[data-context-preview]"),
    cancel: $("[data-context-cancel]"),
  },
  menu: $("[data-message-menu]"),
  picker: $("[data-emoji-picker]"),
  confirm: $("[data-confirm]"),
  edits: $("[data-edits-dialog]"),
  selection: {
    root: $("[data-selection-bar]"),
    count: $("[data-selection-count]"),
    remove: $("[data-selection-delete]", HTMLButtonElement),
    cancel: $("[data-selection-cancel]"),
  },
  conversationId: () => route.id,
});
const clearChatButton = $("[data-clear-chat]");
clearChatButton.addEventListener("click", () => actions.clearChat());

// --- mute (issue 17): no email and no desktop alert from this conversation; it still counts unread ---

const MUTE_SPANS = { "1h": 3600e3, "8h": 8 * 3600e3, "1w": 7 * 24 * 3600e3 };

/** @param {Conversation | null} conv */
function renderMute(conv) {
  const menu = $("[data-mute-field]");
  menu.hidden = !conv || !conv.isMember;
  if (!conv) return;
  const muted = state.isMuted(conv.id);
  const until = /** @type {string} */ (conv.muted_until); // read only when muted, and then it is a time
  const forever = muted && new Date(until).getFullYear() >= 9999;
  $("[data-mute-status]").textContent = !muted ? "Email and desktop alerts on" : forever ? "Muted until you unmute it" : `Muted until ${fullStamp(until)}`;
  $("[data-mute-choice=on]").hidden = !muted;
  $("[data-bell-on]", SVGElement).toggleAttribute("hidden", muted);
  $("[data-bell-off]", SVGElement).toggleAttribute("hidden", !muted);
  const label = muted ? "Notifications from this conversation: muted" : "Notifications from this conversation";
  $("[data-mute-summary]").setAttribute("aria-label", label);
}

for (const button of document.querySelectorAll("[data-mute-choice]")) {
  if (!(button instanceof HTMLElement)) continue;
  button.addEventListener("click", async () => {
    const id = route.id;
    const choice = button.dataset.muteChoice;
    $("[data-mute-field]", HTMLDetailsElement).open = false;
    if (!id) return;
    const until = choice === "on" ? null : choice === "forever" ? "forever" : new Date(Date.now() + MUTE_SPANS[/** @type {keyof typeof MUTE_SPANS} */ (choice)]).toISOString(); // app.html's choices
    try {
      await state.mute(id, until);
      announce(until ? "Conversation muted" : "Conversation unmuted");
    } catch (error) {
      announce(`Could not change the mute: ${error instanceof RequestError ? error.detail || error.message : error instanceof Error ? error.message : error}`);
    }
    renderMute(currentConv());
  });
}
$("[data-mute-field]").addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    $("[data-mute-field]", HTMLDetailsElement).open = false;
    $("[data-mute-summary]").focus();
  }
});

// --- pin: this conversation heads the list, in every tab of mine (a few at most) ---

/** @param {Conversation | null} conv */
function renderPin(conv) {
  const button = $("[data-pin]");
  button.hidden = !conv;
  if (!conv) return;
  const pinned = state.isPinned(conv.id);
  button.setAttribute("aria-pressed", String(pinned));
  const label = pinned ? "Unpin from the top of the list" : "Pin to the top of the list";
  button.setAttribute("aria-label", label);
  button.title = label;
}

$("[data-pin]").addEventListener("click", async () => {
  const id = route.id;
  if (!id) return;
  const pinned = !state.isPinned(id);
  try {
    await state.pin(id, pinned);
    announce(pinned ? "Conversation pinned" : "Conversation unpinned");
  } catch (error) {
    if (error instanceof RequestError && error.code === "too_many_pins") {
      announce(`You can pin ${error.frame?.limit ?? "a few"} conversations at most: unpin one first`);
    } else {
      announce(`Could not change the pin: ${error instanceof RequestError ? error.detail || error.message : error instanceof Error ? error.message : error}`);
    }
  }
  renderPin(currentConv());
});

/** @type {ReturnType<typeof setTimeout> | null} */
let sidebarSoon = null;
function renderSidebarSoon() {
  if (sidebarSoon !== null) return;
  sidebarSoon = setTimeout(() => {
    sidebarSoon = null;
    sidebar.render();
  }, 0);
}

new PeopleSearch({
  input: $("#people-q", HTMLInputElement),
  results: $("[data-people-results]"),
  status: $("[data-people-status]"),
  form: $("[data-people-search]", HTMLFormElement),
});
$("[data-people-results]").addEventListener("click", (event) => {
  const link = closest(event, "a[data-username]");
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  $("#people-q", HTMLInputElement).value = "";
  const results = link.closest("ul");
  if (results) results.hidden = true;
  navigate(link.getAttribute("href") ?? "");
});

/**
 * A group made over the socket, or over HTTP when there is none.
 * @param {string} title
 * @param {string[]} members
 * @returns {Promise<AckFrame>}
 */
async function createGroup(title, members) {
  if (state.connected) return state.createGroup(title, members);
  const clientId = state.outbox.makeId();
  const { status, body } = await postJSON("/messages/api/conversations", { title, members, client_id: clientId });
  if ((status === 200 || status === 201) && body?.conversation) {
    state.acknowledged(clientId, body.event, body.conversation);
    return body;
  }
  throw new RequestError(body?.code ?? "server_error", body?.detail ?? "");
}

const newGroup = new NewGroupDialog($("[data-new-group]"), {
  state,
  me,
  create: createGroup,
  onCreated: (id) => {
    const conv = state.get(id);
    navigate(conv ? conversationUrl(conv) : `/messages/c/${id}/`);
    announce("Group created");
  },
});
$("[data-new-group-open]").addEventListener("click", (event) => newGroup.open(event.currentTarget));

const membersDialog = new MembersDialog($("[data-members-dialog]"), {
  state,
  onLeft: () => announce("You left the group"),
});
ui.membersOpen.addEventListener("click", (event) => { if (route.id !== null) membersDialog.open(route.id, event.currentTarget); });

// --- profile cards ------------------------------------------------------------------------

const profileCard = new ProfileCard({ known: (username) => state.identity(username) });
function openPeerCard() {
  const conv = currentConv();
  const peer = conv && !conv.isGroup ? conv.peer?.username : route.peer;
  if (peer) profileCard.open(peer, ui.avatar);
}
ui.avatar.addEventListener("click", openPeerCard);
ui.name.addEventListener("click", () => { if (!ui.avatar.disabled) openPeerCard(); });
// The member list opens the card of whoever is clicked (dialogs.js dispatches it).
document.addEventListener("linkup:profile", (event) => profileCard.open(event.detail.username, event.detail.opener));
state.on("profile", ({ person }) => {
  profileCard.update(person);
  renderHeader();
});

ui.back.addEventListener("click", (event) => {
  if (event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(config.inbox_url);
});

// --- what the state says --------------------------------------------------------------------

state.on("inbox", () => {
  renderSidebarSoon();
  if (route.kind === "direct" && route.id === null) {
    const conv = state.direct(route.peer);
    if (conv) adopt(conv.id);
  }
});

state.on("timeline", ({ id, fresh, live }) => {
  if (route.kind === "direct" && route.id === null && state.get(id)?.peer?.username === route.peer) adopt(id);
  if (id !== route.id) return;
  const theirs = fresh.filter((e) => e.kind === "message" && e.sender !== me && !e.hidden);
  if (live && theirs.length && !list.dividerSeq && !focused() && shown.opened) {
    // Came while the reader was away: mark where they stopped.
    list.setDivider(/** @type {Event} */ (theirs[0]).seq); // theirs is not empty
  }
  if (shown.opened) list.update(fresh.some((e) => e.sender === me && e.kind === "message") ? "bottom" : "auto");
  else openAtDivider();
  if (live) for (const e of theirs) if (!e.hidden) announce(`${e.sender}: ${String(e.content).slice(0, 140)}`);
  if (fresh.some((e) => e.kind !== "message" && !e.hidden && !e.target_seq)) {
    renderHeader();
    renderClosed();
  }
  renderTyping();
  renderHistoryTop();
  renderJump();
  maybeRead();
});

state.on("history", ({ id }) => {
  if (id !== route.id) return;
  if (!shown.opened) openAtDivider();
  else if (olderRequested) {
    olderRequested = false;
    list.update("prepend");
  }
  renderHistoryTop();
  requestAnimationFrame(maybeLoadOlder);
});

state.on("receipts", ({ id }) => {
  if (id === route.id) list.update("keep");
  renderSidebarSoon();
});

state.on("members", ({ id }) => {
  if (id === route.id) {
    renderHeader();
    list.update("keep");
  }
});

state.on("conversation", ({ id }) => {
  if (id === route.id) {
    if (!shown.opened) openAtDivider();
    renderHeader();
    renderClosed();
  }
  renderSidebarSoon();
});

state.on("removed", ({ id }) => {
  if (id === route.id) {
    renderClosed();
    renderTyping();
  }
});

state.on("typing", ({ id }) => {
  if (id === null || id === route.id) renderTyping();
  renderSidebarSoon();
});

state.on("presence", () => {
  if (route.id === null || !currentConv()?.isGroup) renderHeader();
  renderSidebarSoon();
});

state.on("outbox", ({ id, entry }) => {
  if (id === route.id || (id === null && route.peer !== null)) list.update(entry && entry.state === "pending" ? "bottom" : "keep");
});

state.on("failed", () => announce("A message could not be sent. Use Retry to send it again."));

state.on("unread", () => {
  renderTitle();
  renderJump();
});

state.on("problem", ({ frame }) => console.warn("LinkUp:", frame.code, frame.detail));

// --- reading -------------------------------------------------------------------------------

function focused() {
  return document.visibilityState === "visible" && document.hasFocus();
}

/** Everything on screen in a visible, focused window is read (up to the contiguous cursor). */
function maybeRead() {
  const conv = currentConv();
  if (!conv || ui.chat.hidden || !shown.opened || !focused() || conv.log.cursor === null) return;
  const upTo = Math.min(list.highestVisibleSeq(), conv.log.cursor);
  if (upTo > conv.read_seq) state.markRead(conv.id, upTo);
}

document.addEventListener("visibilitychange", () => {
  state.setView(route.id, { visible: document.visibilityState === "visible" });
  maybeRead();
});
window.addEventListener("focus", maybeRead);

// --- older messages, jump to latest ------------------------------------------------------------

let olderRequested = false;

function loadOlder() {
  const conv = currentConv();
  if (!conv || !conv.historyLoaded || !conv.log.hasOlder || conv.historyLoading) return;
  olderRequested = true;
  state.loadHistory(conv.id).then((ok) => {
    if (!ok) olderRequested = false;
    renderHistoryTop();
  });
  renderHistoryTop();
}

function maybeLoadOlder() {
  if (ui.scroller.scrollTop < 150) loadOlder();
}

ui.loadOlder.addEventListener("click", loadOlder);
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting)) maybeLoadOlder();
}, { root: ui.scroller, rootMargin: "150px 0px 0px 0px" }).observe(ui.historyTop);

ui.scroller.addEventListener("scroll", () => renderJump(), { passive: true });
ui.jump.addEventListener("click", () => {
  list.scrollToBottom();
  renderJump();
  ui.input.focus();
});

// --- sending and typing -----------------------------------------------------------------------

let typingOn = false;
let typingSentAt = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let typingIdle;

function startTyping() {
  if (route.id === null) return;
  const now = Date.now();
  if ((!typingOn || now - typingSentAt > TYPING_REFRESH_MS) && state.typing(route.id, true)) {
    typingOn = true;
    typingSentAt = now;
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(() => stopTyping(true), TYPING_IDLE_MS);
}

function stopTyping(tell = true) {
  clearTimeout(typingIdle);
  if (typingOn && tell && route.id !== null) state.typing(route.id, false);
  typingOn = false;
}

const codePoints = (/** @type {string} */ text) => [...text].length;

function autoGrow() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight + 2, 152)}px`;
}

function renderCounter() {
  const max = state.limits.max_length ?? config.max_length;
  const length = codePoints(ui.input.value);
  const near = length > max - 200;
  ui.counter.hidden = !near;
  ui.counter.textContent = near ? `${length} / ${max}` : "";
  ui.counter.classList.toggle("over", length > max);
}

ui.input.addEventListener("input", () => {
  if (actions.mode?.kind !== "edit" && route.kind !== "inbox") drafts.set(route, ui.input.value);
  autoGrow();
  renderCounter();
  if (ui.input.value.trim()) startTyping();
  else stopTyping(true);
});

ui.input.addEventListener("keydown", (event) => {
  if (actions.onKey(event)) return;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.input.addEventListener("blur", () => { if (!ui.input.value.trim()) stopTyping(true); });

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const content = ui.input.value;
  const max = state.limits.max_length ?? config.max_length;
  if (!content.trim() && !chosenFiles.length) return;
  if (codePoints(content) > max) {
    announce(`That message is too long: at most ${max} characters.`);
    return;
  }
  const options = actions.takeSubmit(content);
  ui.input.value = "";
  drafts.clear(route);
  autoGrow();
  renderCounter();
  stopTyping(false);
  if (options === true) return; // an edit was saved instead
  if (chosenFiles.length) sendWithFiles(content, options);
  else state.sendMessage(route.id !== null ? { conversation: route.id } : { to: route.peer }, content, options);
  list.update("bottom");
  ui.input.focus();
});

// --- the connection, and the end of the session ---------------------------------------------

/** @type {Record<SocketState | "signed-out", [string, string]>} the pill's text and its title */
const CONNECTION_TEXT = {
  connecting: ["Connecting…", "Connecting to LinkUp"],
  connected: ["Connected", "Messages are sent and received live"],
  reconnecting: ["Reconnecting…", "The connection dropped; trying again. Your messages wait in the outbox."],
  offline: ["Offline", "No live connection. Messages are kept and sent as soon as the server can be reached."],
  "signed-out": ["Signed out", "Your session ended. Sign in again; your unsent messages are kept."],
};

/** @param {SocketState} socketState */
function renderConnection(socketState) {
  const shownState = sessionEnded ? "signed-out" : socketState;
  const [text, title] = CONNECTION_TEXT[shownState];
  ui.connection.dataset.state = shownState;
  ui.connection.title = title;
  ui.connectionText.textContent = text;
}

function signedOut() {
  if (sessionEnded) return;
  sessionEnded = true;
  fallback.stop();
  state.disconnected();
  ui.signedOut.hidden = false;
  renderConnection(socket.state);
  announce("You were signed out. Sign in again to send and receive messages.");
}

let lastProbe = 0;

/** A handshake that did not go through: the server is down, or the session ended. Ask over HTTP which. */
async function probeSession() {
  const now = Date.now();
  if (now - lastProbe < SESSION_PROBE_MS) return;
  lastProbe = now;
  try {
    const { status, body } = await getJSON("/messages/api/conversations?limit=1");
    if (status === 403 && body?.code === "forbidden") signedOut();
  } catch {
    // The server cannot be reached: that is "offline", not "signed out".
  }
}

socket.addEventListener("closed", ({ detail: { code, wasReady } }) => {
  if (code === 4401) signedOut();
  else if (!wasReady) probeSession();
});

socket.addEventListener("state", ({ detail: { state: socketState } }) => {
  if (socketState !== "connected") {
    state.disconnected();
    stopTyping(false);
    renderTyping();
  }
  if (socketState === "offline" && !sessionEnded) fallback.start();
  else if (socketState === "connected") fallback.stop();
  renderConnection(socketState);
});

socket.addEventListener("ready", ({ detail }) => {
  const frame = /** @type {ConnectedFrame} */ (detail.frame); // the socket's readyType
  if (sessionEnded) {
    sessionEnded = false;
    ui.signedOut.hidden = true;
  }
  if (frame.user?.username && frame.user.username !== me) {
    // Someone else signed in in this browser: this page belongs to the last user.
    location.reload();
    return;
  }
  state.handle(frame);
  renderConnection("connected");
  maybeRead();
});

socket.addEventListener("frame", ({ detail: { frame } }) => {
  if (frame.type === "settings") applySettings(frame); // the theme; other keys are the state's or nobody's
  state.handle(frame);
});

// --- search: open a hit at its message (search.js) ---------------------------------------------

/** The hit to show once its conversation's history holds it: {id, seq}; older pages load until then. */
/** @type {{ id: number, seq: number } | null} */
let jumpTarget = null;

function revealJump() {
  if (!jumpTarget || route.id !== jumpTarget.id) return;
  const el = ui.messages.querySelector(`[data-seq="${jumpTarget.seq}"]`);
  const conv = currentConv();
  if (el) {
    jumpTarget = null;
    el.scrollIntoView({ block: "center" });
    el.classList.add("search-target");
    el.addEventListener("animationend", () => el.classList.remove("search-target"), { once: true });
  } else if (conv?.historyLoaded && !conv.log.hasOlder) {
    jumpTarget = null;
  } else if (conv?.historyLoaded) {
    loadOlder();
  }
}

state.on("history", ({ id }) => {
  if (jumpTarget && id === jumpTarget.id) requestAnimationFrame(revealJump);
});
new SearchPanel($("[data-search]", HTMLDialogElement), {
  open: (id, seq) => {
    jumpTarget = { id, seq };
    const conv = state.get(id);
    navigate(conv ? conversationUrl(conv) : `/messages/c/${id}/`);
    requestAnimationFrame(revealJump);
  },
});

// --- start ------------------------------------------------------------------------------------

renderConnection("connecting");
setInterval(() => {
  if (route.kind !== "inbox") renderHeader();
  list.refreshLabels();
  renderSidebarSoon();
}, 30000);
show();
sidebar.render();
socket.start();

// --- attachments (issue 15): the paperclip, drag and drop, paste; the tray; the viewer -----------

const uploads = new Uploads({ state, transport: uploadFile, clock: systemClock });
const viewer = new ImageViewer($("[data-viewer]"));
const filesUi = {
  tray: $("[data-composer-files]"),
  input: $("[data-file-input]", HTMLInputElement),
  attach: $("[data-attach]"),
  dropHint: $("[data-drop-hint]"),
};
/** @type {File[]} */
let chosenFiles = [];

function renderChosenFiles() {
  filesUi.tray.hidden = !chosenFiles.length;
  filesUi.tray.replaceChildren(...chosenFiles.map((file, index) => h("li", { className: "file-chip chosen" },
    h("span", { className: "file-name", text: file.name || "pasted image" }),
    h("span", { className: "file-size", text: formatSize(file.size) }),
    h("button", {
      className: "icon-button small",
      attrs: { type: "button", "aria-label": `Remove ${file.name || "pasted image"}` },
      text: "×",
      on: { click: () => { chosenFiles.splice(index, 1); renderChosenFiles(); ui.input.focus(); } },
    }))));
}

/** @param {File[]} list */
function addFiles(list) {
  if (route.id === null) {
    announce("Send a first message to start this conversation, then attach files.");
    return;
  }
  for (const file of list) {
    if (file.size > config.max_upload_bytes) {
      announce(`${file.name} is over the ${formatSize(config.max_upload_bytes)} limit.`);
      continue;
    }
    if (chosenFiles.length >= config.max_files) {
      announce(`At most ${config.max_files} files in one message.`);
      break;
    }
    chosenFiles.push(file);
  }
  renderChosenFiles();
}

/**
 * @param {string} content
 * @param {{ replyTo: number | null }} options
 */
function sendWithFiles(content, options) {
  const files = chosenFiles;
  chosenFiles = [];
  renderChosenFiles();
  uploads.send(route.id, content, files, options);
}

filesUi.attach.addEventListener("click", () => filesUi.input.click());
filesUi.input.addEventListener("change", () => {
  addFiles([...(filesUi.input.files ?? [])]);
  filesUi.input.value = "";
  ui.input.focus();
});
ui.input.addEventListener("paste", (event) => {
  const pasted = [...(event.clipboardData?.files ?? [])];
  if (!pasted.length) return;
  event.preventDefault();
  addFiles(pasted);
});
let dragDepth = 0;
const dragsFiles = (/** @type {DragEvent} */ event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
ui.chat.addEventListener("dragenter", (event) => {
  if (!dragsFiles(event) || ui.composer.hidden) return;
  dragDepth += 1;
  filesUi.dropHint.hidden = false;
});
ui.chat.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) filesUi.dropHint.hidden = true;
});
ui.chat.addEventListener("dragover", (event) => { if (dragsFiles(event)) event.preventDefault(); });
ui.chat.addEventListener("drop", (event) => {
  if (!dragsFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  filesUi.dropHint.hidden = true;
  if (!ui.composer.hidden) addFiles([...(event.dataTransfer?.files ?? [])]);
});
