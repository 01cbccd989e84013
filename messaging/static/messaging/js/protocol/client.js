// @ts-check
// The protocol state of one tab on ws/chat/ (docs/protocol.md), with no DOM:
// conversations with their summaries, logs and members; requests by `ref`;
// the outbox; `received`/`read` reports; typing and presence; unread counts
// and the inbox order. The page (chat.js) feeds it socket frames and renders
// what it announces; `node --test tests/js/` drives it with a fake socket,
// storage and clock.
//
// Events (``state.on(type, fn)``): "inbox" (summaries or order changed),
// "timeline" {id, fresh, live} (events added), "receipts" {id}, "members" {id},
// "typing" {id}, "presence" {user}, "outbox" {id, entry}, "failed" {entry},
// "unread" {total}, "history" {id}, "removed" {id}, "conversation" {id},
// "problem" {frame} (an error frame nobody waited for).

import { ConversationLog } from "./log.js";
import { Members } from "./members.js";
import { ACTION_KINDS, MessageStates } from "./messages.js";
import { Outbox } from "./outbox.js";
import { retryAfter } from "./refusals.js";
import { RequestError, Requests, systemClock } from "./requests.js";

/**
 * @import {
 *   AckFrame, ClientFrame, ConnectedFrame, ConversationsAnswer, ConversationSummary, ErrorFrame, Event, HiddenFrame,
 *   HistoryAnswer, Peer, Profile, Receipt, Requestable, ResumeAnswer, Role, ServerFrame, Settings, SyncAnswer, Time,
 *   TypingPush,
 * } from "./frames.js"
 */
/** @import { HttpFallback } from "./fallback.js" */
/** @import { MessageView } from "./messages.js" */
/** @import { OutboxEntry } from "./outbox.js" */
/**
 * What the page hears, by type (``state.on(type, fn)``: ``fn`` gets the detail).
 * @typedef {{
 *   inbox: {},
 *   timeline: { id: number, fresh: Event[], live: boolean },
 *   receipts: { id: number },
 *   members: { id: number },
 *   typing: { id: number | null },
 *   presence: { user: string },
 *   outbox: { id: number | null, entry: OutboxEntry | null },
 *   failed: { entry: OutboxEntry },
 *   unread: { total: number },
 *   history: { id: number },
 *   removed: { id: number },
 *   conversation: { id: number },
 *   problem: { frame: ErrorFrame },
 *   profile: { person: Profile },
 *   settings: Settings,
 * }} ChatEvents
 */
/**
 * A frame that goes out with a ``client_id``, as written before it has one (``messageAction``, ``groupRequest``).
 * @template F
 * @typedef {F extends unknown ? Omit<F, "client_id"> : never} WithoutClientId
 */
/** @typedef {WithoutClientId<Extract<ClientFrame, { type: "edit" | "delete" | "react" | "unreact" | "hide" | "clear" }>>} MessageActionFrame */
/** @typedef {WithoutClientId<Extract<ClientFrame, { type: "create_group" | "add_members" | "remove_member" | "leave" | "rename" | "set_role" }>>} GroupFrame */

export const MEMBERSHIP_KINDS = new Set(["created", "members_added", "member_removed", "member_left"]);
const PAGE_MAX = 100; // the server's most per sync/history/conversations page
const RESUME_MAX = 200; // the server's most conversations per resume
const SYNC_RETRY_MS = 1000; // doubled per error in a row, up to 30 s
const AUTO_RETRY_MAX_SECONDS = 10; // a refused message waiting longer than this is shown failed (Retry, Delete)

/** One conversation as this tab knows it. The summary fields are the contract's ``C``. */
export class Conversation {
  /** @param {number} id */
  constructor(id) {
    this.id = id;
    /** @type {"direct" | "group"} */
    this.kind = "direct";
    /** @type {string | null} */
    this.title = null;
    /** @type {Peer | null} */
    this.peer = null; // {username, online, last_seen} for a direct conversation
    this.member_count = 0;
    this.last_seq = 0;
    /** @type {Event | null} */
    this.last_message = null;
    /** @type {Time | null} */
    this.last_activity = null;
    /** @type {Role | null | undefined} undefined only after a ``role_changed`` event that came without its ``role`` */
    this.role = null;
    this.joined_seq = 0;
    /** @type {number | null} */
    this.left_seq = null;
    this.delivered_seq = 0;
    this.read_seq = 0;
    /** @type {Time | null} */
    this.muted_until = null;
    /** @type {Time | null} */
    this.pinned_at = null; // pinned to the top of my inbox since then (mine only)
    this.described = false; // a summary C was applied
    this.snapshotSeq = 0; // last_seq of the newest C applied: events up to it are in its fields
    this.titleSeq = 0;
    this.unreadBase = { count: 0, readSeq: 0, lastSeq: 0 }; // the server's count in the newest C
    this.log = new ConversationLog();
    this.messages = new MessageStates(); // edits, deletions, reactions, what I hid (messages.js)
    /** @type {{ lo: number, hi: number, hasOlder: boolean }[]} */
    this.islands = []; // {lo, hi, hasOlder}: history around a reply's original, not joined to the newest pages yet
    this.members = new Members();
    /** @type {Map<string, number>} */
    this.typing = new Map(); // username -> when the indicator expires
    /** @type {{ ref: number | null, again: boolean, errors: number, timer: unknown }} the sync on its way (``ref``: its ``after``) or waiting (``timer``) */
    this.sync = { ref: null, again: false, errors: 0, timer: null };
    this.historyLoading = false;
    this.historyLoaded = false; // the newest page came (the chat was opened once)
    this.membersRequested = false;
    this.describing = false;
    this.selfSeq = 0; // the seq of the newest event that changed my own membership or role
    this.wantReceived = 0;
    this.wantRead = 0;
    this.reportedReceived = 0;
    this.reportedRead = 0;
  }

  get isGroup() {
    return this.kind === "group";
  }

  get isMember() {
    return this.left_seq === null;
  }

  /** What the inbox and the header call it: a group's title, the peer's display name (else username). */
  get name() {
    if (this.isGroup) return this.title || "Group";
    return this.peer?.display_name || this.peer?.username || `Conversation ${this.id}`;
  }
}

export class ChatState {
  /**
   * @param {{
   *   me: string,
   *   storage: { getItem(key: string): string | null, setItem(key: string, value: string): void, removeItem(key: string): void },
   *   send: (frame: ClientFrame) => boolean,
   *   clock?: typeof systemClock,
   *   pageSize?: number,
   *   timeoutMs?: number,
   *   typingShownMs?: number,
   *   reportDelayMs?: number,
   *   makeId?: () => string,
   * }} options
   */
  constructor({
    me, storage, send, clock = systemClock, pageSize = 50, timeoutMs = 15000,
    typingShownMs = 7000, reportDelayMs = 250, makeId,
  }) {
    this.me = me;
    this.sendFrame = send;
    this.clock = clock;
    this.pageSize = pageSize;
    this.typingShownMs = typingShownMs;
    this.reportDelayMs = reportDelayMs;
    /** @type {Map<number, Conversation>} */
    this.conversations = new Map();
    /** @type {Map<string, { online: boolean, last_seen: Time | null }>} */
    this.presence = new Map(); // username -> {online, last_seen}
    /** @type {Map<string, Profile>} */
    this.identities = new Map(); // username -> P {username, display_name, avatar, status} (docs/protocol.md)
    this.requests = new Requests({ send: (frame) => this.connected && this.sendFrame(frame), clock, timeoutMs });
    this.outbox = new Outbox({ storage, key: `linkup.outbox.${me}`, ...(makeId ? { makeId } : {}) });
    this.connected = false;
    this.everConnected = false;
    this.limits = { max_length: 4000, max_frame_bytes: 65536, page: 100, max_group_members: 256 };
    /** @type {number | null} */
    this.viewing = null; // the conversation this tab shows
    this.visible = true; // the tab is visible (the page says so)
    /** @type {number | null | undefined} */
    this.viewSent = undefined; // what the last `view` frame said on this socket
    this.inbox = { loaded: false, loading: false };
    /** @type {unknown} */
    this.reportTimer = null;
    /** @type {unknown} */
    this.typingTimer = null;
    /** @type {Map<string, unknown>} */
    this.retryTimers = new Map(); // client_id -> timer of a resend the server asked to wait for (retry_after)
    /** @type {HttpFallback | null} */
    this.http = null; // the HTTP fallback (fallback.js), when the page has one
    /** @type {Map<keyof ChatEvents, Set<(detail: never) => void>>} each set holds the listeners of its key's type (on() adds them) */
    this.listeners = new Map();
  }

  // --- events to the page ----------------------------------------------------

  /**
   * @template {keyof ChatEvents} K
   * @param {K} type
   * @param {(detail: ChatEvents[K]) => void} fn
   * @returns {() => boolean} takes ``fn`` off again
   */
  on(type, fn) {
    const listeners = this.listeners.get(type) ?? new Set();
    this.listeners.set(type, listeners);
    listeners.add(fn);
    return () => listeners.delete(fn);
  }

  /**
   * @template {keyof ChatEvents} K
   * @param {K} type
   * @param {ChatEvents[K]} [detail]
   */
  emit(type, detail = /** @type {ChatEvents[K]} */ ({})) {
    for (const fn of this.listeners.get(type) ?? []) /** @type {(detail: ChatEvents[K]) => void} */ (fn)(detail);
  }

  // --- conversations ---------------------------------------------------------

  /** @param {number} id */
  conversation(id) {
    let conv = this.conversations.get(id);
    if (!conv) {
      conv = new Conversation(id);
      this.conversations.set(id, conv);
    }
    return conv;
  }

  /** @param {number | null | undefined} id */
  get(id) {
    if (id === null || id === undefined) return null;
    return this.conversations.get(id) ?? null;
  }

  /**
   * The direct conversation with ``username``, if this tab knows it.
   * @param {string | null} username
   */
  direct(username) {
    for (const conv of this.conversations.values()) if (!conv.isGroup && conv.peer?.username === username) return conv;
    return null;
  }

  /**
   * The summary ``C``: its fields replace ours, cursors only move forward.
   * @param {ConversationSummary | null | undefined} c
   * @returns {Conversation | null}
   */
  describe(c) {
    if (!c || !Number.isInteger(c.id)) return null;
    const conv = this.conversation(c.id);
    const wasMember = conv.isMember;
    conv.kind = c.kind === "group" ? "group" : "direct";
    if (c.last_seq >= conv.titleSeq) {
      conv.title = c.title ?? null;
      conv.titleSeq = c.last_seq;
    }
    if (c.peer) {
      conv.peer = { ...c.peer };
      this.remember(c.peer);
      this.setPresence(c.peer.username, c.peer.online, c.peer.last_seen, { quiet: true });
      if (!conv.members.has(c.peer.username)) conv.members.ensure(c.peer.username, 0);
      conv.members.complete = true; // a direct conversation: the peer and me
    }
    if (Number.isInteger(c.member_count)) conv.member_count = c.member_count;
    // A summary older than an event that changed my membership says nothing new about it.
    if ((c.last_seq ?? 0) >= conv.selfSeq) {
      conv.role = c.role ?? null;
      conv.joined_seq = Number.isInteger(c.joined_seq) ? c.joined_seq : conv.joined_seq;
      conv.left_seq = c.left_seq ?? null;
    }
    conv.muted_until = c.muted_until ?? null;
    if (c.pinned_at !== undefined) conv.pinned_at = c.pinned_at;
    if (Number.isInteger(c.cleared_seq) && conv.messages.clear(c.cleared_seq)) this.emit("timeline", { id: conv.id, fresh: [], live: false });
    conv.last_seq = Math.max(conv.last_seq, c.last_seq ?? 0);
    if (c.last_message && (!conv.last_message || c.last_message.seq >= conv.last_message.seq)) conv.last_message = c.last_message;
    if (c.last_activity && (!conv.last_activity || c.last_activity >= conv.last_activity)) conv.last_activity = c.last_activity;
    conv.delivered_seq = Math.max(conv.delivered_seq, c.delivered_seq ?? 0);
    conv.read_seq = Math.max(conv.read_seq, c.read_seq ?? 0);
    conv.reportedReceived = Math.max(conv.reportedReceived, c.delivered_seq ?? 0);
    conv.reportedRead = Math.max(conv.reportedRead, c.read_seq ?? 0);
    if (Number.isInteger(c.unread)) conv.unreadBase = { count: c.unread, readSeq: c.read_seq ?? 0, lastSeq: c.last_seq ?? 0 };
    conv.snapshotSeq = Math.max(conv.snapshotSeq, c.last_seq ?? 0);
    conv.described = true;
    const me = conv.members.get(this.me);
    if (me || conv.isMember) {
      const mine = conv.members.ensure(this.me, conv.joined_seq);
      if (c.role) mine.role = c.role;
      conv.members.applyReceipt({ user: this.me, delivered_seq: conv.delivered_seq, read_seq: conv.read_seq });
    }
    if (wasMember && !conv.isMember) this.emit("removed", { id: conv.id });
    this.emit("conversation", { id: conv.id });
    return conv;
  }

  /**
   * The inbox: pinned conversations first (the latest pin first), then the rest, most recently active first.
   */
  sortedInbox() {
    return [...this.conversations.values()]
      .filter((c) => c.described)
      .sort((a, b) => {
        const pa = a.pinned_at ?? "";
        const pb = b.pinned_at ?? "";
        if (pa !== pb) return pa < pb ? 1 : -1;
        const ta = a.last_activity ?? "";
        const tb = b.last_activity ?? "";
        if (ta !== tb) return ta < tb ? 1 : -1;
        return b.id - a.id;
      });
  }

  /**
   * Messages by others after my read cursor, inside my window. Counted from the
   * log when it holds that whole range; else the server's count from the
   * newest summary, adjusted by the messages that came since.
   * @param {Conversation | number | null} convOrId
   */
  unread(convOrId) {
    const conv = typeof convOrId === "number" ? this.get(convOrId) : convOrId;
    // Without its summary the read cursor is unknown: nothing is counted until it comes.
    if (!conv || !conv.described) return 0;
    const end = conv.left_seq ?? conv.last_seq;
    const read = conv.read_seq;
    if (read >= end) return 0;
    const others = (/** @type {Event} */ e) => e.kind === "message" && e.sender !== this.me && conv.messages.counts(e.seq);
    const start = Math.max(read + 1, conv.joined_seq || 1);
    if (conv.log.covers(start, end)) return conv.log.ordered(read).filter((e) => e.seq <= end && others(e)).length;
    const base = conv.unreadBase;
    let count = base.count;
    for (const e of conv.log.events.values()) {
      if (!others(e) || e.seq > end) continue;
      if (e.seq > base.lastSeq && e.seq > read) count += 1; // came after the server counted
      else if (e.seq <= base.lastSeq && e.seq > base.readSeq && e.seq <= read) count -= 1; // counted, since read
    }
    return Math.max(0, count);
  }

  totalUnread() {
    let total = 0;
    for (const conv of this.conversations.values()) if (conv.described) total += this.unread(conv);
    return total;
  }

  /**
   * The first message by someone else after my read cursor: where "New messages" goes.
   * @param {number} id
   */
  firstUnreadSeq(id) {
    const conv = this.get(id);
    if (!conv || !this.unread(conv)) return null;
    const first = conv.log.ordered(conv.read_seq).find((e) => e.kind === "message" && e.sender !== this.me && conv.messages.counts(e.seq));
    return first ? first.seq : null;
  }

  /**
   * My message's {status, readBy, deliveredTo, total}.
   * @param {number | null} id
   * @param {Pick<Event, "sender" | "seq"> | null | undefined} event
   */
  statusOf(id, event) {
    const conv = this.get(id);
    if (!conv || !event || event.sender !== this.me) return null;
    return conv.members.statusOf(event.seq, this.me);
  }

  /**
   * Who is typing in a conversation now (expired indicators dropped).
   * @param {number} id
   */
  typingIn(id) {
    const conv = this.get(id);
    if (!conv) return [];
    const now = this.clock.now();
    return [...conv.typing].filter(([, until]) => until > now).map(([user]) => user).sort();
  }

  /**
   * Unsent messages of a conversation (a direct chat not started yet is named by its peer).
   * @param {number | null} id
   * @param {string | null} [peer]
   */
  pendingFor(id, peer = null) {
    return this.outbox.forConversation(id, peer);
  }

  // --- the socket's life -------------------------------------------------------

  /**
   * The server's first frame, ``connected``: catch up on everything and send what waits.
   * @param {ConnectedFrame} frame
   */
  onConnected(frame) {
    this.connected = true;
    this.everConnected = true;
    if (frame?.user) this.remember(frame.user);
    if (frame?.limits) this.limits = { ...this.limits, ...frame.limits };
    if (typeof frame?.read_receipts === "boolean") this.readReceipts = frame.read_receipts;
    this.viewSent = undefined;
    for (const conv of this.conversations.values()) {
      conv.reportedReceived = 0;
      conv.reportedRead = 0;
      conv.sync = { ref: null, again: false, errors: 0, timer: null };
      conv.historyLoading = false;
      conv.membersRequested = false;
    }
    this.flushOutbox();
    this.sendView();
    const viewing = this.viewing === null ? null : this.get(this.viewing);
    if (viewing && !viewing.log.anchored) this.open(viewing.id);
    else if (viewing) this.requestMembers(viewing.id);
    this.loadInbox().then(() => this.catchUp(), () => {});
    this.scheduleReports();
  }

  disconnected() {
    if (!this.connected) return;
    this.connected = false;
    // The outbox is sent again on the next `connected`.
    for (const timer of this.retryTimers.values()) this.clock.clearTimeout(timer);
    this.retryTimers.clear();
    this.requests.failAll();
    for (const conv of this.conversations.values()) {
      this.clock.clearTimeout(conv.sync.timer);
      conv.sync = { ref: null, again: false, errors: 0, timer: null };
      conv.historyLoading = false;
      conv.typing.clear();
    }
    this.emit("typing", { id: null });
  }

  /** @param {ClientFrame} frame */
  send(frame) {
    return this.connected && this.sendFrame(frame);
  }

  /**
   * A frame answered by ref; resolves with its answer (frames.d.ts, ``RequestAnswers``), rejects on an error frame.
   * @template {ClientFrame & Requestable} F
   * @param {F} frame
   * @param {{ timeoutMs?: number }} [options]
   */
  request(frame, options) {
    return this.requests.request(frame, options);
  }

  /**
   * Every frame after ``connected``.
   * @param {ServerFrame} frame
   */
  handle(frame) {
    if (!frame || typeof frame.type !== "string") return;
    if (frame.type === "connected") {
      this.onConnected(frame);
      return;
    }
    const answered = this.requests.settle(frame);
    switch (frame.type) {
      case "event":
        this.receiveEvents(frame.event?.conversation, [frame.event], { live: true });
        break;
      case "ack":
        this.onAck(frame);
        break;
      case "receipts":
        for (const receipt of frame.receipts ?? []) this.onReceipt({ ...receipt, conversation: frame.conversation });
        break;
      case "typing":
        this.onTyping(frame);
        break;
      case "presence":
        this.setPresence(frame.user, frame.online, frame.last_seen);
        break;
      case "conversation":
        this.onConversationPush(frame.conversation);
        break;
      case "hidden":
        this.applyHidden(frame);
        break;
      case "profile":
        this.onProfile(frame.user);
        break;
      case "muted": {
        const conv = this.get(frame.conversation);
        if (conv) {
          conv.muted_until = frame.muted_until ?? null;
          this.emit("conversation", { id: frame.conversation });
        }
        break;
      }
      case "pinned": {
        const conv = this.get(frame.conversation);
        if (conv) {
          conv.pinned_at = frame.pinned_at ?? null;
          this.emit("conversation", { id: frame.conversation });
        }
        break;
      }
      case "settings":
        // Saved on the settings page (any tab, any device): applies here at once.
        this.applyReadReceipts(frame.settings?.read_receipts !== false);
        this.emit("settings", frame.settings ?? {});
        break;
      case "error":
        this.onError(frame, answered);
        break;
      default:
        break; // answers are handled where they were asked for
    }
  }

  // --- incoming ------------------------------------------------------------------

  /**
   * Events of one conversation from any source: store, apply, report, fill gaps.
   * @param {number} id
   * @param {Event[]} events (a null among them, or another conversation's, is left out)
   * @param {{ live?: boolean, anchorAt?: number | null }} [options]
   */
  receiveEvents(id, events, { live = false, anchorAt = null } = {}) {
    if (!Number.isInteger(id)) return [];
    const known = this.get(id)?.described ?? false;
    const conv = this.conversation(id);
    if (anchorAt !== null) conv.log.anchor(anchorAt);
    const mine = events.filter((e) => e && e.conversation === id);
    // Message states first: a newer state of a held message, or a placeholder, replaces what the log holds.
    let restated = false;
    for (const event of mine) {
      const changed = conv.messages.take(event);
      if (changed.length) restated = true;
      if (conv.log.has(event.seq) && (event.hidden || (event.kind === "message" && conv.messages.bases.get(event.seq) === event))) {
        conv.log.replace(event);
      }
      if (conv.last_message && changed.includes(conv.last_message.seq)) this.refreshPreview(conv);
    }
    const fresh = conv.log.add(mine);
    let membersChanged = false;
    let summaryChanged = false;
    for (const event of fresh) {
      if (event.sender === this.me && event.client_id && this.outbox.remove(event.client_id)) {
        this.emit("outbox", { id, entry: null });
      }
      if (event.hidden || ACTION_KINDS.has(event.kind)) {
        if (event.seq > conv.last_seq) conv.last_seq = event.seq;
        continue; // no activity, typing or preview: it changes an earlier message
      }
      if (event.kind === "message") {
        if (event.sender !== null) conv.typing.delete(event.sender);
        if (!conv.last_message || event.seq > conv.last_message.seq) conv.last_message = event;
      } else {
        membersChanged = conv.members.applyEvent(event) || membersChanged;
        summaryChanged = this.applyToSummary(conv, event) || summaryChanged;
      }
      if (event.seq > conv.last_seq) conv.last_seq = event.seq;
      if (event.created_at && (!conv.last_activity || event.created_at > conv.last_activity) && event.seq >= conv.last_seq) {
        conv.last_activity = event.created_at;
      }
    }
    if (!fresh.length && restated) this.emit("timeline", { id, fresh: [], live });
    if (fresh.length) {
      if (!known && !conv.described) this.describeUnknown(id);
      this.noteReceived(conv);
      if (membersChanged) this.emit("members", { id });
      if (summaryChanged) this.emit("conversation", { id });
      this.emit("timeline", { id, fresh, live });
      this.emit("receipts", { id });
      this.emit("inbox");
      this.emit("unread", { total: this.totalUnread() });
    }
    if (conv.log.hasGap(conv.last_seq)) this.syncConversation(id);
    return fresh;
  }

  /**
   * A rename, role or membership event newer than the summary changes it.
   * @param {Conversation} conv
   * @param {Event} event
   */
  applyToSummary(conv, event) {
    if (event.seq <= conv.snapshotSeq) return false;
    const data = event.data ?? {};
    switch (event.kind) {
      case "created":
        conv.kind = "group";
        if (event.seq > conv.titleSeq) {
          conv.title = data.title ?? conv.title;
          conv.titleSeq = event.seq;
        }
        conv.member_count = Math.max(conv.member_count, Array.isArray(data.members) ? data.members.length : 0);
        if (event.sender === this.me) {
          conv.selfSeq = event.seq;
          conv.role = "owner";
        }
        return true;
      case "renamed":
        if (event.seq > conv.titleSeq) {
          conv.title = data.title ?? conv.title;
          conv.titleSeq = event.seq;
        }
        return true;
      case "members_added": {
        const users = Array.isArray(data.users) ? data.users : [];
        conv.member_count += users.length;
        if (users.includes(this.me)) {
          conv.selfSeq = event.seq;
          conv.left_seq = null;
          conv.joined_seq = event.seq;
          conv.role = "member";
        }
        return true;
      }
      case "member_removed":
      case "member_left": {
        const gone = event.kind === "member_removed" ? data.user : event.sender;
        conv.member_count = Math.max(0, conv.member_count - 1);
        if (gone === this.me) {
          conv.selfSeq = event.seq;
          conv.left_seq = event.seq;
          conv.role = null;
          conv.typing.clear();
          this.emit("removed", { id: conv.id });
        }
        if (data.new_owner === this.me) {
          conv.selfSeq = event.seq;
          conv.role = "owner";
        }
        return true;
      }
      case "role_changed":
        if (data.user === this.me) {
          conv.selfSeq = event.seq;
          conv.role = data.role;
        }
        return true;
      default:
        return false;
    }
  }

  /** @param {AckFrame} frame */
  onAck(frame) {
    if (frame.conversation) this.describe(frame.conversation);
    if (frame.hidden) this.applyHidden(frame.hidden);
    const event = frame.event;
    if (frame.client_id && this.outbox.remove(frame.client_id)) this.emit("outbox", { id: event?.conversation ?? null, entry: null });
    if (event && Number.isInteger(event.conversation)) {
      const conv = this.conversation(event.conversation);
      // The creator of a group counts from its first event.
      if (frame.conversation && !conv.log.anchored) conv.log.anchor(event.seq - 1);
      this.receiveEvents(event.conversation, [event]);
    }
  }

  /** @param {Receipt & { conversation: number }} frame */
  onReceipt(frame) {
    const conv = this.get(frame.conversation);
    if (!conv) return;
    const moved = conv.members.applyReceipt(frame);
    if (frame.user === this.me) {
      conv.delivered_seq = Math.max(conv.delivered_seq, frame.delivered_seq ?? 0);
      conv.read_seq = Math.max(conv.read_seq, frame.read_seq ?? 0);
      // What the server confirms is reported; my own read_seq may be ahead of it, not sent yet.
      conv.reportedReceived = Math.max(conv.reportedReceived, frame.delivered_seq ?? 0);
      conv.reportedRead = Math.max(conv.reportedRead, frame.read_seq ?? 0);
      this.emit("inbox");
      this.emit("unread", { total: this.totalUnread() });
    }
    if (moved) this.emit("receipts", { id: conv.id });
  }

  /** @param {TypingPush} frame */
  onTyping({ conversation, user, is_typing: isTyping }) {
    const conv = this.get(conversation);
    if (!conv || user === this.me) return;
    if (isTyping) conv.typing.set(user, this.clock.now() + this.typingShownMs);
    else conv.typing.delete(user);
    this.emit("typing", { id: conversation });
    if (isTyping) {
      // A safety net: the server turns typing off by itself, but a lost frame must not leave it on.
      this.clock.setTimeout(() => this.emit("typing", { id: conversation }), this.typingShownMs + 50);
    }
  }

  /**
   * What we know of how a person is shown (``P``); the fields a payload leaves out stay as they were.
   * @param {Pick<Profile, "username"> & Partial<Profile> | null | undefined} person
   * @returns {Profile | null}
   */
  remember(person) {
    if (!person || typeof person.username !== "string") return null;
    const old = this.identities.get(person.username) ?? { username: person.username, display_name: null, avatar: null, status: null };
    const next = { ...old };
    for (const key of /** @type {const} */ (["display_name", "avatar", "status"])) if (key in person) next[key] = person[key] ?? null;
    this.identities.set(person.username, next);
    return next;
  }

  /**
   * How ``username`` is shown: ``P``, with nulls (the username, the letter avatar) when unknown.
   * @param {string} username
   * @returns {Profile}
   */
  identity(username) {
    return this.identities.get(username) ?? { username, display_name: null, avatar: null, status: null };
  }

  /**
   * A ``profile`` push: the person's new identity everywhere it is shown.
   * @param {Profile} person
   */
  onProfile(person) {
    const next = this.remember(person);
    if (!next) return;
    for (const conv of this.conversations.values()) {
      if (conv.peer?.username === next.username) conv.peer = { ...conv.peer, display_name: next.display_name, avatar: next.avatar, status: next.status };
      if (conv.members.has(next.username)) this.emit("members", { id: conv.id });
    }
    this.emit("profile", { person: next });
    this.emit("inbox");
  }

  /**
   * @param {string} user
   * @param {boolean | undefined} online
   * @param {Time | null | undefined} lastSeen
   * @param {{ quiet?: boolean }} [options]
   */
  setPresence(user, online, lastSeen, { quiet = false } = {}) {
    if (typeof user !== "string") return;
    this.presence.set(user, { online: Boolean(online), last_seen: lastSeen ?? null });
    for (const conv of this.conversations.values()) {
      if (conv.peer?.username === user) conv.peer = { ...conv.peer, online: Boolean(online), last_seen: lastSeen ?? conv.peer.last_seen };
      conv.members.setPresence(user, Boolean(online), lastSeen);
    }
    if (!quiet) {
      this.emit("presence", { user });
      this.emit("inbox");
    }
  }

  /** @param {ConversationSummary} c */
  onConversationPush(c) {
    const conv = this.describe(c);
    if (!conv) return;
    if (!conv.log.anchored) conv.log.anchor(this.defaultAnchor(conv));
    this.emit("inbox");
    this.emit("unread", { total: this.totalUnread() });
    if (conv.log.hasGap(conv.last_seq)) this.syncConversation(conv.id);
  }

  /**
   * @param {ErrorFrame} frame
   * @param {boolean} answered a request waiting for it took it
   */
  onError(frame, answered) {
    // Any refusal with retry_after (refusals.js), whatever its code: wait and send again.
    if (retryAfter(frame) !== null && this.retryLater(frame)) return;
    const entry = frame.client_id ? this.outbox.update(frame.client_id, { state: "failed", error: frame.code }) : null;
    if (entry) {
      this.emit("failed", { entry });
      this.emit("outbox", { id: entry.conversation, entry });
      return;
    }
    if (!answered) this.emit("problem", { frame });
  }

  /**
   * A refusal with ``retry_after`` for a message of the outbox (``rate_limited``,
   * ``too_many_in_flight``, or any code that carries it): the server kept the
   * socket open and said when to come back (``retry_after`` seconds). Within
   * AUTO_RETRY_MAX_SECONDS (an outbox burst after a reconnect) the entry stays
   * pending and is sent again then, with its client_id; a longer wait, or
   * none given, is the user's to decide: the entry fails ("sending too fast",
   * with Retry and Delete).
   * @param {ErrorFrame} frame
   */
  retryLater(frame) {
    const entry = frame.client_id ? this.outbox.get(frame.client_id) : null;
    if (!entry || entry.state !== "pending") return false;
    const seconds = retryAfter(frame);
    if (seconds === null || seconds > AUTO_RETRY_MAX_SECONDS) return false;
    const clientId = entry.client_id;
    this.clock.clearTimeout(this.retryTimers.get(clientId));
    this.retryTimers.set(clientId, this.clock.setTimeout(() => {
      this.retryTimers.delete(clientId);
      const waiting = this.outbox.get(clientId);
      if (waiting && waiting.state === "pending") this.trySend(waiting);
    }, Math.ceil(seconds * 1000)));
    return true;
  }

  /**
   * Where a conversation only seen in the sidebar starts counting: what a client of mine already got.
   * @param {Conversation} conv
   */
  defaultAnchor(conv) {
    return Math.max(conv.delivered_seq, conv.joined_seq > 0 ? conv.joined_seq - 1 : 0, conv.last_seq - PAGE_MAX);
  }

  // --- catching up ---------------------------------------------------------------

  /** The inbox, page by page (at most ``maxPages``), most recently active first. */
  async loadInbox({ maxPages = 10 } = {}) {
    if (this.inbox.loading) return;
    this.inbox.loading = true;
    try {
      let before = null;
      for (let page = 0; page < maxPages; page += 1) {
        // Typed here, not inferred: ``before`` comes from the previous answer, a loop TypeScript cannot infer through.
        /** @type {ConversationsAnswer} */
        const answer = await this.request({ type: "conversations", before, limit: PAGE_MAX });
        for (const c of answer.conversations ?? []) {
          const conv = this.describe(c);
          if (conv && !conv.log.anchored && conv.id !== this.viewing) conv.log.anchor(this.defaultAnchor(conv));
        }
        this.inbox.loaded = true;
        this.emit("inbox");
        this.emit("unread", { total: this.totalUnread() });
        if (!answer.has_more || !answer.next) break;
        before = answer.next;
      }
    } finally {
      this.inbox.loading = false;
    }
  }

  /**
   * After a (re)connect: resume every conversation this tab counts, from its
   * cursor. That fills what was missed and brings the other members' receipts,
   * which a summary does not carry (the sidebar's ticks need them): one request
   * per 200 conversations.
   */
  async catchUp() {
    const anchored = [...this.conversations.values()].filter((c) => c.log.anchored && c.sync.ref === null);
    for (let i = 0; i < anchored.length; i += RESUME_MAX) {
      const batch = anchored.slice(i, i + RESUME_MAX);
      // Anchored, so none of these cursors is null.
      /** @type {Record<string, number>} */
      let cursors = Object.fromEntries(batch.map((c) => [String(c.id), /** @type {number} */ (c.log.cursor)]));
      while (Object.keys(cursors).length) {
        /** @type {ResumeAnswer} */
        let answer;
        try {
          answer = await this.request({ type: "resume", cursors });
        } catch (error) {
          const wait = error instanceof RequestError ? retryAfter(error) : null;
          if (wait !== null) {
            // Refused with retry_after (fetch_rate_limited, fetch_work_limited...): wait, then the same again.
            await new Promise((resolve) => this.clock.setTimeout(() => resolve(null), Math.ceil(wait * 1000)));
            if (!this.connected) return;
            continue;
          }
          if (error instanceof RequestError) return;
          throw error;
        }
        this.applyResume(answer, cursors);
        // Conversations the answer had no room for (MESSAGING_PAGE_BYTES): again, from their cursors.
        const rest = (answer.unanswered ?? []).map(String).filter((id) => id in cursors);
        // ``rest`` holds only ids of ``cursors``: ``cursors[id]`` is a number.
        cursors = Object.fromEntries(rest.map((id) => [id, this.get(Number(id))?.log.cursor ?? /** @type {number} */ (cursors[id])]));
      }
    }
  }

  /**
   * @param {Pick<ResumeAnswer, "conversations">} answer
   * @param {Record<string, number>} [cursors] where each conversation asked for was counting from
   */
  applyResume(answer, cursors = {}) {
    for (const c of answer.conversations ?? []) {
      const conv = this.describe(c);
      if (!conv) continue;
      const after = cursors[String(c.id)];
      for (const r of c.receipts ?? []) conv.members.applyReceipt(r);
      this.receiveEvents(conv.id, c.events ?? [], { anchorAt: Number.isInteger(after) ? after : this.defaultAnchor(conv) });
      if (c.has_more) this.syncConversation(conv.id);
      this.emit("receipts", { id: conv.id });
    }
    this.emit("inbox");
    this.emit("unread", { total: this.totalUnread() });
  }

  /**
   * A conversation this tab has not heard of (an event of a chat another tab started): ask for its summary.
   * @param {number} id
   */
  describeUnknown(id) {
    const conv = this.conversation(id);
    if (conv.describing || !this.connected) return;
    conv.describing = true;
    const after = conv.log.cursor !== null ? conv.log.cursor : Math.max(0, (conv.log.oldest ?? 1) - 1);
    this.request({ type: "resume", cursors: { [String(id)]: after } })
      .then((answer) => this.applyResume(answer, { [String(id)]: after }))
      .catch(() => {})
      .finally(() => { conv.describing = false; });
  }

  /**
   * Fill the log from its cursor: one sync at a time per conversation, then again while there is more.
   * @param {number} id
   */
  syncConversation(id) {
    const conv = this.get(id);
    if (!conv || conv.log.cursor === null) return;
    if (!this.connected) {
      this.http?.catchUp(id);
      return;
    }
    if (conv.sync.ref !== null || conv.sync.timer !== null) {
      conv.sync.again = true;
      return;
    }
    const after = conv.log.cursor;
    conv.sync.ref = after;
    conv.sync.again = false;
    this.request({ type: "sync", conversation: id, after, limit: PAGE_MAX }).then(
      (answer) => {
        conv.sync.ref = null;
        conv.sync.errors = 0;
        this.applySync(id, answer, after);
        if (answer.has_more || conv.sync.again || conv.log.hasGap(conv.last_seq)) {
          // Anchored above, and a log never stops counting: the cursor is a number.
          if (/** @type {number} */ (conv.log.cursor) > after || conv.sync.again) this.syncConversation(id);
        }
      },
      (error) => {
        conv.sync.ref = null;
        if (!(error instanceof RequestError) || error.code === "disconnected" || error.code === "not_connected") return;
        // forbidden / not_found: this tab may not read it (any more); nothing to retry.
        if (error.code === "forbidden" || error.code === "not_found") return;
        const asked = retryAfter(error);
        const delay = asked !== null ? Math.ceil(asked * 1000) : Math.min(30000, SYNC_RETRY_MS * 2 ** conv.sync.errors);
        conv.sync.errors += 1;
        conv.sync.timer = this.clock.setTimeout(() => {
          conv.sync.timer = null;
          this.syncConversation(id);
        }, delay);
      },
    );
  }

  /**
   * A sync page (over the socket, or the HTTP fallback's events page).
   * @param {number} id
   * @param {Pick<SyncAnswer, "events" | "last_seq" | "receipts">} page
   * @param {number | null} after the cursor it was asked from
   */
  applySync(id, page, after) {
    const conv = this.conversation(id);
    if (Number.isInteger(page.last_seq)) conv.last_seq = Math.max(conv.last_seq, page.last_seq);
    let moved = false;
    for (const r of page.receipts ?? []) moved = conv.members.applyReceipt(r) || moved;
    this.receiveEvents(id, page.events ?? [], { anchorAt: after });
    if (moved) this.emit("receipts", { id });
  }

  // --- opening a chat --------------------------------------------------------------

  /**
   * The page shows this conversation (or none): tell the server while the tab is visible.
   * @param {number | null} id
   * @param {{ visible?: boolean }} [options]
   */
  setView(id, { visible = this.visible } = {}) {
    this.viewing = id;
    this.visible = visible;
    this.sendView();
  }

  sendView() {
    const conversation = this.visible && this.viewing !== null ? this.viewing : null;
    if (this.viewSent === conversation) return;
    if (this.send({ type: "view", conversation })) this.viewSent = conversation;
  }

  /**
   * Open a conversation in the chat pane: its newest page, its members.
   * @param {number} id
   */
  open(id) {
    const conv = this.conversation(id);
    if (!conv.historyLoaded) this.loadHistory(id, { initial: true });
    this.requestMembers(id);
    return conv;
  }

  /**
   * A page of history: the newest (``initial``) or the one before the oldest held.
   * @param {number} id
   * @param {{ initial?: boolean }} [options]
   * @returns {Promise<boolean>} whether a page came
   */
  loadHistory(id, { initial = false } = {}) {
    const conv = this.conversation(id);
    if (conv.historyLoading) return Promise.resolve(false);
    const before = initial ? null : (conv.log.floor ?? conv.log.oldest);
    if (!initial && !conv.log.hasOlder) return Promise.resolve(false);
    conv.historyLoading = true;
    this.emit("history", { id });
    const source = this.connected
      ? this.request({ type: "history", conversation: id, before, limit: this.pageSize })
      : this.http ? this.http.history(id, before, this.pageSize) : Promise.reject(new RequestError("not_connected"));
    return source.then(
      (/** @type {Pick<HistoryAnswer, "events" | "has_more">} */ page) => {
        conv.historyLoading = false;
        this.applyHistory(id, page, { initial });
        return true;
      },
      () => {
        conv.historyLoading = false;
        this.emit("history", { id });
        return false;
      },
    );
  }

  /**
   * A history page (newest first). The newest page anchors a log that is not counting yet.
   * @param {number} id
   * @param {Pick<HistoryAnswer, "events" | "has_more">} page
   * @param {{ initial?: boolean }} [options]
   */
  applyHistory(id, page, { initial = false } = {}) {
    const conv = this.conversation(id);
    const events = (page.events ?? []).filter((e) => e && e.conversation === id);
    const newest = events.reduce((high, e) => Math.max(high, e.seq), 0);
    if (initial && !conv.log.anchored) conv.log.anchor(newest);
    // The newest page says nothing about what is older than events loaded before it.
    const lowest = events.length ? Math.min(...events.map((e) => e.seq)) : null;
    const heldOlder = conv.log.oldest !== null && lowest !== null && conv.log.oldest < lowest;
    if (!initial || !heldOlder) conv.log.hasOlder = Boolean(page.has_more);
    if (initial) conv.historyLoaded = true;
    if (lowest !== null && (initial || conv.log.floor === null || lowest < conv.log.floor)) {
      conv.log.floor = conv.log.floor === null ? lowest : Math.min(conv.log.floor, lowest);
    }
    this.joinIslands(conv, page.has_more ? lowest : 0);
    this.receiveEvents(id, events);
    this.emit("history", { id });
  }

  /**
   * Islands of history the newest pages now reach (``reached``: the lowest seq they cover) become one.
   * @param {Conversation} conv
   * @param {number | null} reached
   */
  joinIslands(conv, reached) {
    if (reached === null) return;
    for (const island of [...conv.islands].sort((a, b) => b.hi - a.hi)) {
      if (island.hi < reached) continue;
      conv.islands = conv.islands.filter((i) => i !== island);
      if (island.lo < (conv.log.floor ?? Infinity)) {
        conv.log.floor = island.lo;
        conv.log.hasOlder = island.hasOlder;
      }
    }
  }

  /**
   * Whether older history is held apart from the newest pages (a gap to show and fill).
   * @param {number | null} id
   */
  hasIslands(id) {
    return (this.get(id)?.islands.length ?? 0) > 0;
  }

  /**
   * Bring a message on screen (a reply's original): held already, or an
   * ``around`` page is asked for. Resolves true once it is held.
   * @param {number | null} id
   * @param {number} seq
   */
  async jumpTo(id, seq) {
    const conv = this.get(id);
    if (!conv || id === null) return false;
    if (conv.messages.shown(seq) || conv.log.has(seq)) return true;
    if (!this.connected) return false;
    const page = await this.request({ type: "history", conversation: id, around: seq, limit: this.pageSize });
    const events = (page.events ?? []).filter((e) => e && e.conversation === id);
    if (!events.length) return false;
    const seqs = events.map((e) => e.seq);
    const lo = page.has_more ? Math.min(...seqs) : 0;
    const hi = Math.max(...seqs);
    const floor = conv.log.floor ?? conv.log.oldest;
    if (floor === null || !page.has_newer || hi >= floor) {
      conv.log.floor = Math.min(floor ?? lo, lo);
      if (lo < (floor ?? Infinity)) conv.log.hasOlder = Boolean(page.has_more);
    } else {
      conv.islands.push({ lo, hi, hasOlder: Boolean(page.has_more) });
    }
    this.receiveEvents(id, events);
    this.emit("history", { id });
    return conv.log.has(seq);
  }

  /**
   * A message as it is now (messages.js), or null when it is not shown here.
   * @param {number | null} id
   * @param {number} seq
   */
  messageView(id, seq) {
    const conv = this.get(id);
    if (!conv || !conv.messages.shown(seq)) return null;
    return conv.messages.view(seq);
  }

  /**
   * The inbox preview follows an edit, a deletion or a "delete for me" of the last message.
   * @param {Conversation} conv
   */
  refreshPreview(conv) {
    const last = conv.last_message;
    if (!last) return;
    if (conv.messages.bases.has(last.seq) && !conv.messages.shown(last.seq)) {
      const shown = conv.log.ordered().filter((e) => e.kind === "message" && conv.messages.shown(e.seq)).at(-1);
      conv.last_message = shown ? { ...shown, ...conv.messages.view(shown.seq) } : null;
    } else if (conv.messages.bases.has(last.seq)) {
      conv.last_message = { ...last, ...conv.messages.view(last.seq) };
    }
    this.emit("inbox");
  }

  /**
   * "Delete for me" or "clear chat", from this tab's ack or another tab of mine.
   * @param {HiddenFrame | null | undefined} frame
   */
  applyHidden(frame) {
    const conv = this.get(frame?.conversation);
    if (!conv || !frame) return;
    conv.messages.hide(frame.seqs ?? []);
    conv.messages.clear(frame.cleared_seq ?? 0);
    this.refreshPreview(conv);
    this.emit("timeline", { id: conv.id, fresh: [], live: false });
    this.emit("unread", { total: this.totalUnread() });
  }

  /**
   * The members with their cursors and presence; once per connection unless ``force``.
   * @param {number} id
   * @param {{ force?: boolean }} [options]
   */
  requestMembers(id, { force = false } = {}) {
    const conv = this.get(id);
    if (!conv || !this.connected || (conv.membersRequested && !force) || !conv.isMember) return;
    conv.membersRequested = true;
    this.request({ type: "members", conversation: id }).then(
      (answer) => {
        conv.members.replaceAll(answer.members ?? [], conv.last_seq);
        for (const m of answer.members ?? []) {
          this.remember({ username: m.username, display_name: m.display_name ?? null, avatar: m.avatar ?? null });
          if (typeof m.online === "boolean" && m.username !== this.me) this.presence.set(m.username, { online: m.online, last_seen: m.last_seen ?? null });
        }
        this.emit("members", { id });
        this.emit("receipts", { id });
      },
      () => { conv.membersRequested = false; },
    );
  }

  // --- sending -----------------------------------------------------------------------

  /**
   * Queue a message (``target``: ``{conversation}`` or ``{to: username}``) and send it if we can.
   * @param {{ conversation?: number | null, to?: string | null }} target
   * @param {string} content
   * @param {{ replyTo?: number | null }} [options]
   */
  sendMessage(target, content, { replyTo = null } = {}) {
    const entry = this.outbox.add(target, content, { replyTo });
    this.emit("outbox", { id: entry.conversation, entry });
    this.trySend(entry);
    return entry;
  }

  /** @param {OutboxEntry} entry */
  trySend(entry) {
    if (this.send(Outbox.frame(entry))) return true;
    this.http?.flushSoon();
    return false;
  }

  flushOutbox() {
    for (const entry of this.outbox.pending()) this.trySend(entry);
  }

  /** @param {string} clientId */
  retry(clientId) {
    const entry = this.outbox.update(clientId, { state: "pending", error: null });
    if (!entry) return null;
    this.emit("outbox", { id: entry.conversation, entry });
    this.trySend(entry);
    return entry;
  }

  /** @param {string} clientId */
  discard(clientId) {
    const entry = this.outbox.get(clientId);
    if (!entry || !this.outbox.remove(clientId)) return false;
    this.emit("outbox", { id: entry.conversation, entry: null });
    return true;
  }

  /**
   * An acknowledged event that came back over HTTP: the same as an ``ack`` frame.
   * @param {string} clientId
   * @param {import("./frames.js").Event} event
   * @param {ConversationSummary | null} [conversation] the summary a first message's answer carries
   */
  acknowledged(clientId, event, conversation = null) {
    this.onAck({ type: "ack", client_id: clientId, event, conversation: conversation ?? undefined });
  }

  /**
   * A message the server refused over HTTP: the same as an ``error`` frame naming it.
   * @param {string} clientId
   * @param {string} code
   */
  failed(clientId, code) {
    this.onError({ type: "error", code, detail: "", client_id: clientId }, false);
  }

  // --- doing things to a message ------------------------------------------------------
  // Each is a request with a client_id, answered by an ``ack`` (its event, applied by
  // handle() before the promise settles, or null when nothing changed) or a coded error.

  /** @param {MessageActionFrame} frame */
  messageAction(frame) {
    return this.request({ ...frame, client_id: this.outbox.makeId() });
  }

  /**
   * @param {number} id
   * @param {number} seq
   * @param {string} content
   */
  edit(id, seq, content) {
    return this.messageAction({ type: "edit", conversation: id, seq, content });
  }

  /**
   * @param {number} id
   * @param {number} seq
   */
  deleteForEveryone(id, seq) {
    return this.messageAction({ type: "delete", conversation: id, seq });
  }

  /**
   * @param {number} id
   * @param {number} seq
   * @param {string} emoji
   * @param {boolean} [add] false: take it back
   */
  react(id, seq, emoji, add = true) {
    return this.messageAction({ type: add ? "react" : "unreact", conversation: id, seq, emoji });
  }

  /**
   * Toggle my reaction: add it, or take it back when it is mine already.
   * @param {number} id
   * @param {number} seq
   * @param {string} emoji
   */
  toggleReaction(id, seq, emoji) {
    const view = this.messageView(id, seq);
    const mine = Boolean(view?.reactions.find((r) => r.emoji === emoji)?.users.includes(this.me));
    return this.react(id, seq, emoji, !mine);
  }

  /**
   * @param {number} id
   * @param {number[]} seqs
   */
  deleteForMe(id, seqs) {
    return this.messageAction({ type: "hide", conversation: id, seqs });
  }

  /** @param {number} id */
  clearChat(id) {
    return this.messageAction({ type: "clear", conversation: id });
  }

  /**
   * Mute a conversation until a time (an ISO string), "forever", or unmute it (null).
   * @param {number} id
   * @param {Time | "forever" | null} until
   */
  async mute(id, until) {
    const answer = await this.request({ type: "mute", conversation: id, until });
    const conv = this.get(id);
    if (conv) {
      conv.muted_until = answer.muted_until ?? null;
      this.emit("conversation", { id });
    }
    return answer;
  }

  /**
   * Read receipts turned off (docs/protocol.md "Read receipts on/off"): the
   * others' read positions this tab holds go back to what the server now
   * shows (their join), so no tick stays blue; turned on, the conversation on
   * screen syncs to get them back (the others when they are next synced).
   * @param {boolean} on
   */
  applyReadReceipts(on) {
    const was = this.readReceipts !== false;
    this.readReceipts = on;
    if (was === on) return;
    for (const conv of this.conversations.values()) {
      if (!on) {
        for (const member of conv.members.list()) {
          if (member.username !== this.me) member.read_seq = Math.min(member.read_seq, member.joined_seq ?? 0);
        }
        this.emit("receipts", { id: conv.id });
      } else if (conv.id === this.viewing) {
        this.syncConversation(conv.id);
      }
    }
  }

  /**
   * Pin a conversation to the top of my inbox, or unpin it; every tab of mine follows.
   * @param {number} id
   * @param {boolean} pinned
   */
  async pin(id, pinned) {
    const answer = await this.request({ type: "pin", conversation: id, pinned });
    const conv = this.get(id);
    if (conv) {
      conv.pinned_at = answer.pinned_at ?? null;
      this.emit("conversation", { id });
    }
    return answer;
  }

  /** @param {number} id */
  isPinned(id) {
    return Boolean(this.get(id)?.pinned_at);
  }

  /**
   * Whether a conversation is muted now (a mute whose time passed is over).
   * @param {number} id
   */
  isMuted(id) {
    const until = this.get(id)?.muted_until;
    return Boolean(until && Date.parse(until) > Date.now());
  }

  /**
   * @param {number} id
   * @param {number} seq
   */
  editHistory(id, seq) {
    return this.request({ type: "edits", conversation: id, seq });
  }

  /**
   * Whether I may delete this message for everyone as far as this tab knows (the server decides).
   * @param {number | null} id
   * @param {MessageView | null | undefined} view
   */
  mayDeleteForEveryone(id, view) {
    const conv = this.get(id);
    if (!conv || !conv.isMember || !view || view.deleted) return false;
    return view.sender === this.me || (conv.isGroup && (conv.role === "owner" || conv.role === "admin"));
  }

  // --- receipts this tab reports -------------------------------------------------------

  /**
   * Everything up to the cursor is held: confirm it (coalesced).
   * @param {Conversation} conv
   */
  noteReceived(conv) {
    if (conv.log.cursor === null || conv.log.cursor <= conv.wantReceived) return;
    conv.wantReceived = conv.log.cursor;
    this.scheduleReports();
  }

  /**
   * The chat showed everything up to ``upTo`` in a visible, focused window.
   * @param {number} id
   * @param {number} upTo
   */
  markRead(id, upTo) {
    const conv = this.get(id);
    if (!conv || !Number.isInteger(upTo)) return;
    const end = conv.left_seq ?? conv.last_seq;
    const seq = Math.min(upTo, end);
    if (seq <= conv.read_seq && seq <= conv.wantRead) return;
    conv.wantRead = Math.max(conv.wantRead, seq);
    if (seq > conv.read_seq) {
      conv.read_seq = seq; // shown at once; the server's receipt confirms it
      conv.delivered_seq = Math.max(conv.delivered_seq, seq);
      conv.members.applyReceipt({ user: this.me, delivered_seq: seq, read_seq: seq });
      this.emit("inbox");
      this.emit("unread", { total: this.totalUnread() });
    }
    this.scheduleReports();
  }

  scheduleReports() {
    if (this.reportTimer !== null) return;
    this.reportTimer = this.clock.setTimeout(() => {
      this.reportTimer = null;
      this.flushReports();
    }, this.reportDelayMs);
  }

  /** One ``read`` or ``received`` frame per conversation whose cursor moved since the last report. */
  flushReports() {
    for (const conv of this.conversations.values()) {
      if (conv.wantRead > conv.reportedRead) {
        const sent = this.connected
          ? this.send({ type: "read", conversation: conv.id, up_to: conv.wantRead })
          : this.http?.read(conv.id, conv.wantRead);
        if (sent) {
          conv.reportedRead = conv.wantRead;
          conv.reportedReceived = Math.max(conv.reportedReceived, conv.wantRead);
        }
      }
      if (conv.wantReceived > conv.reportedReceived && this.connected) {
        if (this.send({ type: "received", conversation: conv.id, up_to: conv.wantReceived })) conv.reportedReceived = conv.wantReceived;
      }
    }
  }

  // --- typing ---------------------------------------------------------------------------

  /**
   * @param {number} id
   * @param {boolean} isTyping
   */
  typing(id, isTyping) {
    return this.send({ type: "typing", conversation: id, is_typing: Boolean(isTyping) });
  }

  // --- groups ---------------------------------------------------------------------------

  /**
   * Group changes wait for their ``ack`` (by ref), and go out with a client_id like messages.
   * @param {GroupFrame} frame
   */
  groupRequest(frame) {
    // handle() applies the ack before the promise settles.
    return this.request({ ...frame, client_id: this.outbox.makeId() });
  }

  /**
   * @param {string} title
   * @param {string[]} members
   */
  createGroup(title, members) {
    return this.groupRequest({ type: "create_group", title, members });
  }

  /**
   * @param {number} id
   * @param {string[]} users
   */
  addMembers(id, users) {
    return this.groupRequest({ type: "add_members", conversation: id, users });
  }

  /**
   * @param {number} id
   * @param {string} user
   */
  removeMember(id, user) {
    return this.groupRequest({ type: "remove_member", conversation: id, user });
  }

  /** @param {number} id */
  leave(id) {
    return this.groupRequest({ type: "leave", conversation: id });
  }

  /**
   * @param {number} id
   * @param {string} title
   */
  rename(id, title) {
    return this.groupRequest({ type: "rename", conversation: id, title });
  }

  /**
   * @param {number} id
   * @param {string} user
   * @param {"admin" | "member"} role
   */
  setRole(id, user, role) {
    return this.groupRequest({ type: "set_role", conversation: id, user, role });
  }

  /**
   * Owners and admins add; the owner removes anyone but themself, an admin removes members.
   * @param {number | null} id
   * @param {"add" | "remove" | "set_role" | "rename" | "leave"} action
   * @param {string | null} [target] the member acted on
   */
  can(id, action, target = null) {
    const conv = this.get(id);
    if (!conv || !conv.isGroup || !conv.isMember) return false;
    const role = conv.role;
    switch (action) {
      case "add":
        return role === "owner" || role === "admin";
      case "remove": {
        if (target === this.me) return false;
        const theirs = (target === null ? null : conv.members.get(target))?.role ?? "member";
        if (role === "owner") return true;
        return role === "admin" && theirs === "member";
      }
      case "set_role":
        return role === "owner" && target !== this.me;
      case "rename":
      case "leave":
        return true;
      default:
        return false;
    }
  }
}
