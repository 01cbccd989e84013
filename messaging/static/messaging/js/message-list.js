// The conversation on screen: confirmed messages in seq order, then the
// outbox's pending ones; day separators, local times, ticks, failed-message
// actions, scroll keeping, and which of the peer's messages are visible.
// Content is only ever set with textContent.

import { h, icon } from "./dom.js";
import { dayKey, dayLabel, fullStamp, timeOfDay } from "./time.js";

const RANK = { sent: 1, delivered: 2, read: 3 };
const STATUS_TEXT = { pending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent" };
const FAILURE_TEXT = {
  rate_limited: "Not sent: you're sending too fast.",
  server_error: "Not sent: the server had a problem.",
  too_large: "Not sent: the message is too long.",
  invalid_frame: "Not sent: the server refused it.",
  forbidden: "Not sent: please sign in again.",
};

export class MessageList {
  constructor({ list, scroller, me, onRetry, onDiscard, onVisibleChange }) {
    this.list = list;
    this.scroller = scroller;
    this.me = me;
    this.onRetry = onRetry;
    this.onDiscard = onDiscard;
    this.onVisibleChange = onVisibleChange;
    this.bySeq = new Map(); // seq -> {message, el}
    this.seqs = []; // the keys of bySeq, ascending
    this.oldestSeq = null; // the lowest seq shown, or null
    this.highestSeq = 0; // the highest seq shown, or 0
    this.pending = new Map(); // client_id -> {entry, el}
    this.separators = new Map(); // day key -> element
    this.visiblePeerSeqs = new Set();
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), { root: scroller, threshold: 0.01 });
  }

  // --- queries ---------------------------------------------------------------

  get size() {
    return this.bySeq.size;
  }

  hasSeq(seq) {
    return this.bySeq.has(seq);
  }

  /** The highest seq of a visible message from the peer that is not read yet, or 0. */
  unreadVisiblePeerSeq() {
    let high = 0;
    for (const seq of this.visiblePeerSeqs) {
      const item = this.bySeq.get(seq);
      if (item && item.message.status !== "read" && seq > high) high = seq;
    }
    return high;
  }

  // --- changes ---------------------------------------------------------------

  /** Add or update confirmed messages (from any source); a pending twin is replaced in place. */
  upsert(messages, { scroll = "auto" } = {}) {
    let added = 0;
    for (const message of messages) {
      const known = this.bySeq.get(message.seq);
      if (known) {
        const was = known.message.status;
        known.message = mergeStatus(known.message, message);
        if (known.message.status !== was) this.paint(known);
        continue;
      }
      const twin = message.sender === this.me ? this.pending.get(message.client_id) : null;
      if (twin) this.pending.delete(message.client_id);
      const item = { message, el: twin?.el ?? h("li", { className: "message" }) };
      this.bySeq.set(message.seq, item);
      this.addSeq(message.seq);
      this.paint(item);
      if (message.sender !== this.me) this.observer.observe(item.el);
      added += 1;
    }
    if (added) this.render(scroll);
    return added;
  }

  addSeq(seq) {
    const seqs = this.seqs;
    if (!seqs.length || seq > seqs[seqs.length - 1]) {
      seqs.push(seq);
    } else {
      // Binary search for the first seq above it (live messages take the branch above).
      let low = 0;
      let high = seqs.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (seqs[mid] < seq) low = mid + 1;
        else high = mid;
      }
      seqs.splice(low, 0, seq);
    }
    this.oldestSeq = seqs[0];
    this.highestSeq = seqs[seqs.length - 1];
  }

  addPending(entry, { scroll = "bottom" } = {}) {
    if (this.pending.has(entry.client_id)) return;
    const item = { entry, el: h("li", { className: "message" }) };
    this.pending.set(entry.client_id, item);
    this.paint(item);
    this.render(scroll);
  }

  setPendingState(clientId, state, error = null) {
    const item = this.pending.get(clientId);
    if (!item) return;
    item.entry = { ...item.entry, state, error };
    this.paint(item);
  }

  discardPending(clientId) {
    const item = this.pending.get(clientId);
    if (!item) return;
    this.pending.delete(clientId);
    item.el.remove();
    this.render("keep");
  }

  /** A ``status`` frame: messages to ``by`` up to ``up_to`` moved forward. */
  applyStatus({ status, up_to: upTo, by }) {
    for (const item of this.bySeq.values()) {
      const m = item.message;
      if (m.seq > upTo || m.recipient !== by) continue;
      if ((RANK[status] ?? 0) > (RANK[m.status] ?? 0)) {
        item.message = { ...m, status };
        this.paint(item);
      }
    }
  }

  // --- drawing ---------------------------------------------------------------

  paint(item) {
    const { el } = item;
    // "first" (the first of a run by one sender) is render()'s to set; keep it.
    const first = el.classList.contains("first");
    this.draw(item);
    el.classList.toggle("first", first);
  }

  draw(item) {
    const { el } = item;
    if (item.message) {
      const m = item.message;
      const mine = m.sender === this.me;
      el.className = `message ${mine ? "mine" : "theirs"}`;
      el.dataset.id = m.id;
      el.dataset.seq = m.seq;
      el.dataset.clientId = m.client_id;
      el.dataset.status = m.status;
      el.dataset.sender = m.sender;
      el.dataset.created = m.created_at;
      this.fill(el, { content: m.content, created: m.created_at, status: mine ? m.status : null, who: mine ? "You" : m.sender });
      return;
    }
    const e = item.entry;
    el.className = `message mine ${e.state === "failed" ? "failed" : "pending"}`;
    el.dataset.clientId = e.client_id;
    el.dataset.status = e.state;
    el.dataset.sender = this.me;
    el.dataset.created = e.created_at;
    delete el.dataset.id;
    delete el.dataset.seq;
    this.fill(el, { content: e.content, created: e.created_at, status: e.state, who: "You" });
    if (e.state === "failed") {
      el.append(h("div", { className: "failure" },
        h("span", { text: FAILURE_TEXT[e.error] ?? "Not sent." }),
        h("button", { className: "link-button", attrs: { type: "button" }, text: "Retry", on: { click: () => this.onRetry(e.client_id) } }),
        h("button", { className: "link-button", attrs: { type: "button" }, text: "Delete", on: { click: () => this.onDiscard(e.client_id) } })));
    }
  }

  fill(el, { content, created, status, who }) {
    const meta = h("div", { className: "meta" },
      h("time", { attrs: { datetime: created, title: fullStamp(created) }, text: timeOfDay(created) }));
    if (status) {
      const iconName = status === "failed" ? null : status;
      const mark = h("span", { className: `status status-${status}`, attrs: { role: "img", "aria-label": STATUS_TEXT[status] } });
      if (iconName) mark.append(icon(iconName));
      meta.append(mark);
    }
    const bubble = h("div", { className: "bubble" },
      h("span", { className: "visually-hidden", text: `${who}: ` }),
      h("div", { className: "content", text: content }),
      meta);
    el.replaceChildren(bubble);
  }

  separator(key, created) {
    let el = this.separators.get(key);
    if (!el) {
      el = h("li", { className: "day", attrs: { role: "separator" } });
      this.separators.set(key, el);
    }
    el.textContent = dayLabel(created);
    return el;
  }

  /**
   * Put the nodes in order, touching only those that moved, so screen readers
   * and focus are not disturbed. ``scroll``: "bottom" (follow), "prepend"
   * (older messages came in above: keep the view still), "keep" or "auto"
   * (follow only if the reader was already at the bottom).
   */
  render(scroll = "auto") {
    const s = this.scroller;
    const fromBottom = s.scrollHeight - s.scrollTop;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 80;
    const desired = [];
    let lastDay = null;
    let lastSender = null;
    const place = (el, created, sender) => {
      const key = dayKey(created);
      if (key !== lastDay) {
        desired.push(this.separator(key, created));
        lastDay = key;
        lastSender = null;
      }
      el.classList.toggle("first", sender !== lastSender);
      lastSender = sender;
      desired.push(el);
    };
    for (const seq of this.seqs) {
      const { el, message } = this.bySeq.get(seq);
      place(el, message.created_at, message.sender);
    }
    for (const { el, entry } of this.pending.values()) place(el, entry.created_at, this.me);

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

    if (scroll === "prepend") s.scrollTop = s.scrollHeight - fromBottom;
    else if (scroll === "bottom" || (scroll === "auto" && atBottom)) this.scrollToBottom();
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  refreshLabels() {
    for (const [key, el] of this.separators) {
      const first = el.nextElementSibling;
      if (first?.dataset.created) el.textContent = dayLabel(first.dataset.created);
      else this.separators.delete(key);
    }
  }

  onIntersect(entries) {
    let changed = false;
    for (const entry of entries) {
      const seq = Number(entry.target.dataset.seq);
      if (!seq) continue;
      if (entry.isIntersecting) {
        if (!this.visiblePeerSeqs.has(seq)) changed = true;
        this.visiblePeerSeqs.add(seq);
      } else {
        this.visiblePeerSeqs.delete(seq);
      }
    }
    if (changed) this.onVisibleChange();
  }
}

/** Status only moves forward, whatever order the frames arrive in. */
function mergeStatus(old, next) {
  return (RANK[next.status] ?? 0) >= (RANK[old.status] ?? 0) ? next : { ...next, status: old.status, delivered_at: old.delivered_at, read_at: old.read_at };
}
