// The list of conversations (inbox page and the chat page's sidebar): peer with
// online dot, last message preview with ticks, unread badge. It refreshes from
// /messages/api/conversations when the notification bell hears something, when
// the tab comes back, and every 30 s for presence.

import { getJSON } from "./api.js";
import { avatar, h, icon } from "./dom.js";
import { fullStamp, listStamp, presenceText } from "./time.js";

const API = "/messages/api/conversations";
const EVERY_MS = 30000;
const STATUS_TEXT = { sent: "Sent", delivered: "Delivered", read: "Read" };

export class ConversationList {
  constructor(ul, { empty = null, current = null } = {}) {
    this.ul = ul;
    this.empty = empty;
    this.current = current;
    this.soon = null;
    this.inFlight = false;
    this.again = false; // a refresh was asked for while one was running
  }

  render(rows) {
    // A keyboard user on a row keeps their place across refreshes.
    const focused = this.ul.contains(document.activeElement) ? document.activeElement.closest("[data-peer]")?.dataset.peer : null;
    this.ul.replaceChildren(...rows.map((row) => this.row(row)));
    if (this.empty) this.empty.hidden = rows.length > 0;
    if (focused !== null && focused !== undefined) {
      for (const link of this.ul.querySelectorAll("[data-peer]")) {
        if (link.dataset.peer === focused) {
          link.focus();
          break;
        }
      }
    }
  }

  row({ peer, url, last_message: last, last_activity: activity, unread }) {
    const link = h("a", {
      className: `conversation${unread ? " has-unread" : ""}`,
      attrs: { href: url, "aria-current": peer.username === this.current ? "page" : null },
      dataset: { peer: peer.username, unread },
    });
    const stamp = last?.created_at ?? activity;
    const preview = h("span", { className: "conversation-preview" });
    if (last) {
      const mine = last.sender !== peer.username;
      if (mine) {
        const mark = h("span", { className: `status status-${last.status}`, attrs: { role: "img", "aria-label": STATUS_TEXT[last.status] } });
        mark.append(icon(last.status));
        preview.append(mark);
      }
      preview.append(h("span", { className: "text", text: `${mine ? "You: " : ""}${firstLine(last.content)}` }));
    } else {
      preview.append(h("span", { className: "text", text: "No messages yet" }));
    }
    link.append(
      avatar(peer.username, { online: peer.online }),
      h("span", { className: "conversation-name" },
        peer.username,
        h("span", { className: "visually-hidden", text: `, ${presenceText(peer.online, peer.last_seen)}` })),
      h("time", { className: "conversation-time", attrs: { datetime: stamp, title: fullStamp(stamp) }, text: listStamp(stamp) }),
      preview,
      h("span", { className: "conversation-meta" },
        unread ? h("span", { className: "badge", dataset: { unreadBadge: "" } },
          h("span", { attrs: { "aria-hidden": "true" }, text: unread > 99 ? "99+" : unread }),
          h("span", { className: "visually-hidden", text: `${unread} unread` })) : null),
    );
    return h("li", {}, link);
  }

  async refresh() {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    this.again = false;
    try {
      // The chat page's own conversation stays listed before its first message.
      const url = this.current ? `${API}?current=${encodeURIComponent(this.current)}` : API;
      const { ok, body } = await getJSON(url);
      if (ok && body) this.render(body.conversations);
    } catch {
      // Offline: keep what is shown; the next refresh tries again.
    } finally {
      this.inFlight = false;
      // What changed while this one was on its way may not be in its answer.
      if (this.again) this.refresh();
    }
  }

  refreshSoon(delay = 400) {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.refresh(), delay);
  }

  live() {
    document.addEventListener("linkup:notification", () => this.refreshSoon());
    document.addEventListener("linkup:unread", () => this.refreshSoon());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.refreshSoon(0);
    });
    setInterval(() => { if (document.visibilityState === "visible") this.refresh(); }, EVERY_MS);
    return this;
  }
}

function firstLine(text) {
  return text.replace(/\s+/g, " ").trim().slice(0, 160);
}
