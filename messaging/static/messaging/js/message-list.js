// @ts-check
// The conversation on screen: events in seq order (messages as bubbles,
// membership/rename/role events as system lines), then the outbox's unsent
// messages; day separators, the "New messages" divider, local times, ticks
// and "Read by k of n" (names on hover and focus) for my messages, Retry and
// Delete for a refused one, scroll keeping, and which events are visible.
// Content is only ever set with textContent.

import { attachmentNodes, attachmentsOf, filesSignature, pendingFileNodes } from "./attachments-view.js";
import { UPLOAD_FAILURES } from "./protocol/uploads.js";
import { h, icon } from "./dom.js";
import { ACTION_KINDS } from "./protocol/messages.js";
import { names, readByText, systemText } from "./protocol/text.js";
import { richText } from "./rich-text.js";
import { dayKey, dayLabel, fullStamp, timeOfDay } from "./time.js";

/** @type {Record<string, string>} */
const STATUS_TEXT = { pending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent" };
/** @type {Record<string, string>} */
const FAILURE_TEXT = {
  rate_limited: "Not sent: you're sending too fast.",
  too_many_in_flight: "Not sent: you're sending too fast.",
  server_error: "Not sent: the server had a problem.",
  too_large: "Not sent: the message is too long.",
  invalid_frame: "Not sent: the server refused it.",
  forbidden: "Not sent: you can no longer write here.",
  not_found: "Not sent: that conversation is gone.",
};
const NEAR_BOTTOM_PX = 80;
const LONG_PRESS_MS = 500;

/** @import { ChatState, Conversation } from "./protocol/client.js" */
/** @import { OutboxEntry } from "./protocol/outbox.js" */
/** @import { Event, Reaction, ReplyQuote } from "./protocol/frames.js" */
/** @typedef {{ event: Event, el: HTMLElement, signature: string | null }} EventItem */
/** @typedef {{ entry: OutboxEntry, el: HTMLElement, signature: string | null }} PendingItem */
/** @typedef {HTMLElement | { x: number, y: number }} MenuAnchor */

export class MessageList {
  /**
   * @param {{
   *   list: HTMLElement,
   *   scroller: HTMLElement,
   *   onRetry: (clientId: string) => void,
   *   onDiscard: (clientId: string) => void,
   *   onVisibleChange: () => void,
   *   onMenu?: (seq: number, anchor: MenuAnchor) => void,
   *   onReaction?: (seq: number, emoji: string) => void,
   *   onJump?: (seq: number) => void,
   *   onEdits?: (seq: number) => void,
   *   onFillGap?: () => void,
   *   onOpenImage?: (items: any[], index: number) => void,
   *   onCancelFile?: (clientId: string, index: number) => void,
   * }} options
   */
  constructor({ list, scroller, onRetry, onDiscard, onVisibleChange, onMenu = () => {}, onReaction = () => {}, onJump = () => {}, onEdits = () => {}, onFillGap = () => {}, onOpenImage = () => {}, onCancelFile = () => {} }) {
    this.onOpenImage = onOpenImage; // attachments: an image opens the viewer
    this.onCancelFile = onCancelFile; // attachments: cancel one file of a message still uploading
    this.list = list;
    this.scroller = scroller;
    this.onRetry = onRetry;
    this.onDiscard = onDiscard;
    this.onVisibleChange = onVisibleChange;
    this.onMenu = onMenu; // (seq, anchor element or {x, y})
    this.onReaction = onReaction; // (seq, emoji): toggle mine
    this.onJump = onJump; // (seq): show a reply's original
    this.onEdits = onEdits; // (seq): show the edit history
    this.gap = h("li", { className: "history-gap" },
      h("button", { className: "button ghost small", attrs: { type: "button" }, text: "Show the messages in between", on: { click: () => onFillGap() } }));
    this.listenForMenus();
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), { root: scroller, threshold: 0.01 });
    // Items of the list like the messages (a list holds only list items), read out by their text.
    this.divider = h("li", { className: "unread-divider" }, h("span", { text: "New messages" }));
    /** @type {ChatState | null} */
    this.state = null;
    /** @type {number | null} */
    this.id = null;
    /** @type {string | null | undefined} the peer of a direct chat that has no conversation yet (chat.js sets it) */
    this.peer = null;
    /** @type {Map<number, EventItem>} */
    this.items = new Map();
    /** @type {Map<string, PendingItem>} */
    this.pending = new Map();
    /** @type {Map<string, HTMLElement>} */
    this.separators = new Map();
    /** @type {Set<number>} */
    this.visible = new Set();
    /** @type {number | null} */
    this.dividerSeq = null;
    this.reset(null, null);
  }

  /**
   * Show another conversation (or none): forget every node of the last one.
   * @param {ChatState | null} state
   * @param {number | null} id
   */
  reset(state, id) {
    this.state = state;
    this.id = id;
    this.items = new Map(); // seq -> {event, el, signature}
    this.pending = new Map(); // client_id -> {entry, el, signature}
    this.separators = new Map(); // day key -> element
    this.visible = new Set();
    this.dividerSeq = null;
    this.observer.disconnect();
    this.list.replaceChildren();
  }

  get size() {
    return this.items.size;
  }

  /** The state of the conversation on screen: the painting methods run only while there is one. */
  get shown() {
    if (!this.state) throw new Error("MessageList: no conversation is shown");
    return this.state;
  }

  /** The highest seq on screen now, or 0. */
  highestVisibleSeq() {
    let high = 0;
    for (const seq of this.visible) if (seq > high) high = seq;
    return high;
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  /**
   * Where "New messages" goes (fixed while the chat stays open), or null.
   * @param {number | null} seq
   */
  setDivider(seq) {
    this.dividerSeq = seq;
  }

  /** Bring the nodes in line with the state; ``scroll``: "auto", "bottom", "prepend", "keep" or "divider". */
  update(scroll = "auto") {
    const conv = this.state?.get(this.id);
    const s = this.scroller;
    const fromBottom = s.scrollHeight - s.scrollTop;
    const wasAtBottom = this.atBottom();
    const events = conv ? conv.log.ordered().filter((/** @type {Event} */ e) => this.shows(e, conv)) : [];
    const seen = new Set();
    for (const event of events) {
      seen.add(event.seq);
      let item = this.items.get(event.seq);
      if (!item) {
        item = { event, el: h("li"), signature: null };
        this.items.set(event.seq, item);
        this.observer.observe(item.el);
      }
      item.event = event;
      this.paintEvent(item, conv);
    }
    for (const [seq, item] of this.items) {
      if (!seen.has(seq)) {
        this.observer.unobserve(item.el);
        this.items.delete(seq);
        this.visible.delete(seq);
      }
    }
    const entries = this.state ? this.state.pendingFor(this.id, conv && !conv.isGroup ? conv.peer?.username ?? null : this.peer ?? null) : [];
    const pendingKeep = new Set();
    for (const entry of entries) {
      pendingKeep.add(entry.client_id);
      let item = this.pending.get(entry.client_id);
      if (!item) {
        item = { entry, el: h("li"), signature: null };
        this.pending.set(entry.client_id, item);
      }
      item.entry = entry;
      this.paintPending(item);
    }
    for (const clientId of this.pending.keys()) if (!pendingKeep.has(clientId)) this.pending.delete(clientId);
    this.place(events, entries);

    if (scroll === "prepend") s.scrollTop = s.scrollHeight - fromBottom;
    else if (scroll === "divider" && this.divider.isConnected) this.divider.scrollIntoView({ block: "start" });
    else if (scroll === "bottom" || ((scroll === "auto" || scroll === "divider") && wasAtBottom)) this.scrollToBottom();
  }

  /**
   * Whether an event has a line of its own: not an action on a message, nor anything I hid or cleared.
   * @param {Event} event
   * @param {Conversation} conv
   */
  shows(event, conv) {
    if (event.hidden || ACTION_KINDS.has(event.kind)) return false;
    if (event.kind === "message") return conv.messages.shown(event.seq);
    return event.seq > conv.messages.clearedSeq;
  }

  /**
   * Order the nodes, touching only those that moved (screen readers and focus are not disturbed).
   * @param {Event[]} events
   * @param {OutboxEntry[]} entries
   */
  place(events, entries) {
    /** @type {HTMLElement[]} */
    const desired = [];
    const conv = this.state?.get(this.id);
    const gapAt = conv && this.shown.hasIslands(this.id) ? conv.log.floor : null;
    let gapPlaced = false;
    /** @type {string | null} */
    let lastDay = null;
    /** @type {string | null} */
    let lastSender = null;
    /**
     * @param {HTMLElement} el
     * @param {string} created
     * @param {string | null} sender
     */
    const put = (el, created, sender, divider = false) => {
      const key = dayKey(created);
      if (key !== lastDay) {
        desired.push(this.separator(key, created));
        lastDay = key;
        lastSender = null;
      }
      if (divider) {
        desired.push(this.divider);
        lastSender = null;
      }
      el.classList.toggle("first", sender !== lastSender);
      lastSender = sender;
      desired.push(el);
    };
    for (const event of events) {
      if (gapAt !== null && !gapPlaced && event.seq >= gapAt) {
        desired.push(this.gap);
        gapPlaced = true;
        lastSender = null;
      }
      const divider = this.dividerSeq !== null && event.seq === this.dividerSeq;
      const item = this.items.get(event.seq);
      if (item) put(item.el, event.created_at, event.kind === "message" ? event.sender : null, divider);
    }
    for (const entry of entries) {
      const item = this.pending.get(entry.client_id);
      if (item) put(item.el, entry.created_at, this.shown.me);
    }

    let cursor = this.list.firstChild;
    for (const node of desired) {
      if (node === cursor) {
        cursor = cursor.nextSibling;
        continue;
      }
      this.list.insertBefore(node, cursor);
    }
    while (cursor) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
  }

  /**
   * @param {EventItem} item
   * @param {Conversation | null | undefined} conv
   */
  paintEvent(item, conv) {
    const { event, el } = item;
    const me = this.shown.me;
    if (event.kind !== "message") {
      const text = systemText(event, me);
      const signature = `system:${text}`;
      if (signature === item.signature) return;
      item.signature = signature;
      el.className = "system";
      el.dataset.seq = String(event.seq);
      el.dataset.kind = event.kind;
      el.dataset.created = event.created_at;
      el.replaceChildren(h("span", { text: text ?? "" }), h("time", { className: "visually-hidden", attrs: { datetime: event.created_at }, text: ` ${timeOfDay(event.created_at)}` }));
      return;
    }
    const mine = event.sender === me;
    const view = this.shown.messageView(this.id, event.seq) ?? { ...event, reactions: [], reply_to: null };
    const status = mine ? this.shown.statusOf(this.id, event) : null;
    const members = conv?.isGroup ? conv.members.list().map((/** @type {{ username: string }} */ m) => m.username).sort() : null;
    const signature = JSON.stringify([view, status, conv?.isGroup, members, filesSignature(event.data?.attachments)]);
    if (signature === item.signature) return;
    item.signature = signature;
    const first = el.classList.contains("first");
    el.className = `message ${mine ? "mine" : "theirs"}${first ? " first" : ""}`;
    el.dataset.id = String(event.id);
    el.dataset.seq = String(event.seq);
    el.dataset.clientId = String(event.client_id);
    el.dataset.sender = String(event.sender);
    el.dataset.created = event.created_at;
    if (status) el.dataset.status = status.status;
    else delete el.dataset.status;
    el.classList.toggle("deleted", view.deleted);
    this.fill(el, {
      content: view.content,
      created: event.created_at,
      status: status?.status ?? null,
      who: mine ? "You" : event.sender,
      showName: Boolean(conv?.isGroup) && !mine,
      readBy: conv?.isGroup && status ? status : null,
      view,
      members: members ? new Set(members) : null,
      files: view.deleted ? null : attachmentNodes(attachmentsOf(event), { onOpen: (items, index) => this.onOpenImage(items, index) }),
    });
  }

  /** @param {PendingItem} item */
  paintPending(item) {
    const { entry: e, el } = item;
    const signature = JSON.stringify([e.content, e.state, e.error, filesSignature(e.files)]);
    if (signature === item.signature) return;
    item.signature = signature;
    const first = el.classList.contains("first");
    el.className = `message mine ${e.state === "failed" ? "failed" : "pending"}${first ? " first" : ""}`;
    el.dataset.clientId = e.client_id;
    el.dataset.status = e.state;
    el.dataset.sender = this.shown.me;
    el.dataset.created = e.created_at;
    delete el.dataset.id;
    delete el.dataset.seq;
    const files = pendingFileNodes(e, { onCancel: (clientId, index) => this.onCancelFile(clientId, index) });
    this.fill(el, { content: e.content, created: e.created_at, status: e.state === "uploading" ? "pending" : e.state, who: "You", files });
    if (e.state === "failed") {
      el.append(h("div", { className: "failure" },
        h("span", { text: (e.error === null ? undefined : FAILURE_TEXT[e.error] ?? UPLOAD_FAILURES[e.error]) ?? "Not sent." }),
        h("button", { className: "link-button", attrs: { type: "button" }, text: "Retry", on: { click: () => this.onRetry(e.client_id) } }),
        h("button", { className: "link-button", attrs: { type: "button" }, text: "Delete", on: { click: () => this.onDiscard(e.client_id) } })));
    }
  }

  /**
   * @param {HTMLElement} el
   * @param {{
   *   content: string,
   *   created: string,
   *   status: string | null,
   *   who: string | null,
   *   showName?: boolean,
   *   readBy?: any,
   *   view?: any,
   *   members?: Set<string> | null,
   *   files?: Node | null,
   * }} parts
   */
  fill(el, { content, created, status, who, showName = false, readBy = null, view = null, members = null, files = null }) {
    const seq = Number(el.dataset.seq) || null;
    const meta = h("div", { className: "meta" },
      view?.edited_at && !view.deleted
        ? h("button", { className: "edited link-button", attrs: { type: "button", title: `Edited ${fullStamp(view.edited_at)}`, "aria-label": "Edited: show the earlier versions" }, text: "edited", on: { click: () => { if (seq) this.onEdits(seq); } } })
        : null,
      h("time", { attrs: { datetime: created, title: fullStamp(created) }, text: timeOfDay(created) }));
    if (status) {
      const mark = h("span", { className: `status status-${status}`, attrs: { role: "img", "aria-label": STATUS_TEXT[status] } });
      if (status !== "failed") mark.append(icon(status));
      meta.append(mark);
    }
    const text = view?.deleted
      ? h("div", { className: "content deleted-text", text: "This message was deleted" })
      : h("div", { className: "content" }, view ? richText(content, { members, me: this.shown.me }) : content);
    const bubble = h("div", { className: "bubble" },
      showName ? h("span", { className: "sender", attrs: { "aria-hidden": "true" }, text: String(who) }) : null,
      h("span", { className: "visually-hidden", text: `${who}: ` }),
      view?.reply_to ? this.quote(view.reply_to) : null,
      files,
      text,
      meta);
    const row = h("div", { className: "bubble-row" }, bubble);
    if (view && seq && !view.deleted) {
      row.append(h("button", {
        className: "message-actions",
        attrs: { type: "button", "aria-haspopup": "menu", "aria-label": `Actions for the message from ${who === "You" ? "you" : who}` },
        text: "⋯",
        on: { click: (event) => this.onMenu(seq, event.currentTarget) },
      }));
    }
    const children = [row];
    if (view?.reactions?.length && seq) children.push(this.reactions(seq, view.reactions));
    const line = readBy ? readByText(readBy) : null;
    if (line) {
      // The names show on hover and on keyboard focus; screen readers get them as the description.
      const tipId = `read-by-${this.id}-${el.dataset.seq}`;
      children.push(h("div", { className: "read-by" },
        h("button", { className: "read-by-button", attrs: { type: "button", "aria-describedby": tipId }, dataset: { readBy: "" }, text: line }),
        h("span", { className: "read-by-names", attrs: { id: tipId, role: "tooltip" }, text: `Read by ${names(readBy.readBy)}` })));
    }
    el.replaceChildren(...children);
  }

  /**
   * A reply's quote of its original: a button that brings the original on screen.
   * @param {ReplyQuote} reply
   */
  quote(reply) {
    const label = reply.sender === null ? "an earlier message" : reply.sender === this.shown.me ? "you" : reply.sender;
    const text = reply.deleted ? "This message was deleted" : reply.preview ?? "A message you cannot see";
    return h("button", {
      className: `reply-quote${reply.deleted ? " deleted" : ""}`,
      attrs: { type: "button", "aria-label": `Reply to ${label}: ${text}. Show it.` },
      dataset: { replyTo: reply.seq },
      on: { click: () => this.onJump(reply.seq) },
    }, h("span", { className: "reply-sender", text: label }), h("span", { className: "reply-preview", text }));
  }

  /**
   * Reaction chips: the emoji and how many; mine pressed; who reacted on hover, focus and long press.
   * @param {number} seq
   * @param {Reaction[]} list
   */
  reactions(seq, list) {
    const me = this.shown.me;
    return h("div", { className: "reactions", attrs: { role: "group", "aria-label": "Reactions" } }, list.map((r) => {
      const mine = r.users.includes(me);
      const who = r.users.map((u) => (u === me ? "you" : u));
      const others = r.count - r.users.length;
      const line = `${names(who)}${others > 0 ? ` and ${others} other${others === 1 ? "" : "s"}` : ""} reacted ${r.emoji}`;
      const tipId = `reaction-${this.id}-${seq}-${[...r.emoji].map((c) => (c.codePointAt(0) ?? 0).toString(16)).join("-")}`;
      return h("span", { className: "reaction" },
        h("button", {
          className: mine ? "chip mine" : "chip",
          attrs: { type: "button", "aria-pressed": mine ? "true" : "false", "aria-describedby": tipId, "aria-label": `${r.emoji} ${r.count}` },
          dataset: { emoji: r.emoji },
          on: { click: () => this.onReaction(seq, r.emoji) },
        }, h("span", { attrs: { "aria-hidden": "true" }, text: r.emoji }), h("span", { className: "count", attrs: { "aria-hidden": "true" }, text: String(r.count) })),
        h("span", { className: "reaction-names", attrs: { id: tipId, role: "tooltip" }, text: line }));
    }));
  }

  /** Right-click and long press on a message open its menu (the ⋯ button does too, with the keyboard). */
  listenForMenus() {
    /** @param {EventTarget | null} target */
    const seqOf = (target) => {
      if (!(target instanceof Element)) return null;
      const li = target.closest("li.message[data-seq]");
      return li instanceof HTMLElement && !li.classList.contains("deleted") && !target.closest("a, .reactions, .reply-quote") ? Number(li.dataset.seq) : null;
    };
    this.list.addEventListener("contextmenu", (event) => {
      const seq = seqOf(event.target);
      if (seq === null) return;
      event.preventDefault();
      this.onMenu(seq, { x: event.clientX, y: event.clientY });
    });
    /** @type {{ x: number, y: number, timer: ReturnType<typeof setTimeout> } | null} */
    let press = null;
    const cancel = () => {
      if (press) clearTimeout(press.timer);
      press = null;
    };
    this.list.addEventListener("pointerdown", (event) => {
      if (event.pointerType === "mouse") return;
      const seq = seqOf(event.target);
      if (seq === null) return;
      const { clientX: x, clientY: y } = event;
      press = { x, y, timer: setTimeout(() => { press = null; this.onMenu(seq, { x, y }); }, LONG_PRESS_MS) };
    });
    this.list.addEventListener("pointermove", (event) => {
      if (press && Math.hypot(event.clientX - press.x, event.clientY - press.y) > 10) cancel();
    });
    for (const type of ["pointerup", "pointercancel", "scroll"]) this.list.addEventListener(type, cancel);
  }

  /**
   * Bring a message into view and mark it for a moment (jumping to a reply's original).
   * @param {number} seq
   */
  flash(seq) {
    const item = this.items.get(seq);
    if (!item) return false;
    item.el.scrollIntoView({ block: "center" });
    item.el.classList.remove("flash");
    void item.el.offsetWidth;
    item.el.classList.add("flash");
    item.el.setAttribute("tabindex", "-1");
    item.el.focus({ preventScroll: true });
    return true;
  }

  /**
   * @param {string} key
   * @param {string} created
   */
  separator(key, created) {
    /** @type {HTMLElement} */
    const el = this.separators.get(key) ?? h("li", { className: "day" });
    this.separators.set(key, el);
    el.textContent = dayLabel(created);
    return el;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  refreshLabels() {
    for (const [key, el] of this.separators) {
      const next = el.nextElementSibling;
      if (next instanceof HTMLElement && next.dataset.created) el.textContent = dayLabel(next.dataset.created);
      else this.separators.delete(key);
    }
  }

  /** @param {IntersectionObserverEntry[]} entries */
  onIntersect(entries) {
    let changed = false;
    for (const entry of entries) {
      const seq = entry.target instanceof HTMLElement ? Number(entry.target.dataset.seq) : 0;
      if (!seq) continue;
      if (entry.isIntersecting) {
        if (!this.visible.has(seq)) changed = true;
        this.visible.add(seq);
      } else {
        this.visible.delete(seq);
      }
    }
    if (changed) this.onVisibleChange();
  }
}
