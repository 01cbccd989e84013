// @ts-check
// The sidebar: every conversation of the user, most recently active first,
// live from the protocol state (no polling): name, online dot for a direct
// peer, last message preview with ticks for mine, "… is typing", unread
// badge, "Draft: …" for a half-typed message (drafts.js). Rows are kept by
// conversation and updated in place, so a keyboard user's focus and a screen
// reader's place survive every update.

import { avatar, h, icon } from "./dom.js";
import { previewText, typingText } from "./protocol/text.js";
import { fullStamp, listStamp, presenceText } from "./time.js";

/** @type {Record<string, string>} */
const STATUS_TEXT = { sent: "Sent", delivered: "Delivered", read: "Read" };

/** @typedef {{ id: number | null, peer?: string | null }} Route the conversation on screen: by id, or a direct chat by its peer */

/** @param {string} text */
const oneLine = (text) => text.replace(/\s+/g, " ").trim();

/** @param {import("./protocol/client.js").Conversation} conv */
export function conversationUrl(conv) {
  if (!conv.isGroup && conv.peer) return `/messages/${encodeURIComponent(conv.peer.username)}/`;
  return `/messages/c/${conv.id}/`;
}

export class ConversationList {
  /**
   * @param {HTMLElement} ul
   * @param {{
   *   state: import("./protocol/client.js").ChatState,
   *   empty: HTMLElement,
   *   loading: HTMLElement,
   *   onOpen: (url: string) => void,
   *   drafts?: import("./drafts.js").Drafts | null,
   * }} options
   */
  constructor(ul, { state, empty, loading, onOpen, drafts = null }) {
    this.ul = ul;
    this.state = state;
    this.empty = empty;
    this.loading = loading;
    this.onOpen = onOpen;
    this.drafts = drafts;
    /** @type {Map<string, { li: HTMLElement, link: HTMLElement, signature: string | null }>} */
    this.rows = new Map();
    /** @type {Route | null} */
    this.current = null;
  }

  /** @param {Route | null} route */
  setCurrent(route) {
    this.current = route;
    this.render();
  }

  render() {
    const state = this.state;
    const convs = state.sortedInbox();
    /** @type {{ key: string, conv: import("./protocol/client.js").Conversation | null, peer?: string }[]} */
    const items = convs.map((conv) => ({ key: `c${conv.id}`, conv }));
    // A direct chat opened but not started yet is listed in its own page's sidebar.
    const cur = this.current;
    if (cur?.peer && !state.direct(cur.peer)) items.unshift({ key: `p${cur.peer}`, conv: null, peer: cur.peer });
    const keep = new Set();
    /** @type {HTMLElement[]} */
    const desired = [];
    for (const item of items) {
      keep.add(item.key);
      let row = this.rows.get(item.key);
      if (!row) {
        const link = h("a", { className: "conversation", on: { click: (event) => this.click(event, link) } });
        row = { li: h("li", {}, link), link, signature: null };
        this.rows.set(item.key, row);
      }
      this.fill(row, item);
      desired.push(row.li);
    }
    for (const [key, row] of this.rows) {
      if (!keep.has(key)) {
        row.li.remove();
        this.rows.delete(key);
      }
    }
    let cursor = this.ul.firstChild;
    for (const li of desired) {
      if (li === cursor) {
        cursor = cursor.nextSibling;
        continue;
      }
      this.ul.insertBefore(li, cursor);
    }
    this.empty.hidden = desired.length > 0 || !state.inbox.loaded;
    this.loading.hidden = state.inbox.loaded || desired.length > 0;
  }

  /**
   * @param {MouseEvent} event
   * @param {HTMLElement} link
   */
  click(event, link) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    this.onOpen(link.getAttribute("href") ?? "");
  }

  /**
   * @param {{ li: HTMLElement, link: HTMLElement, signature: string | null }} row
   * @param {{ conv: import("./protocol/client.js").Conversation | null, peer?: string }} item
   */
  fill(row, { conv, peer }) {
    const state = this.state;
    const me = state.me;
    const current = this.current && ((conv && this.current.id === conv.id) || (!conv && this.current.peer === peer)
      || (conv && !conv.isGroup && this.current.id === null && this.current.peer === conv.peer?.username));
    let model;
    if (conv) {
      const typing = state.typingIn(conv.id);
      const last = conv.last_message;
      const mine = last && last.sender === me;
      // The conversation on screen has its draft in the composer, not in its row.
      const draft = current ? "" : this.drafts?.get({ id: conv.id }) ?? "";
      model = {
        href: conversationUrl(conv),
        name: conv.name,
        group: conv.isGroup,
        peer: conv.isGroup ? null : conv.peer?.username ?? null,
        avatar: conv.isGroup ? null : conv.peer?.avatar ?? null,
        online: !conv.isGroup && Boolean(conv.peer?.online),
        lastSeen: conv.peer?.last_seen ?? null,
        stamp: last?.created_at ?? conv.last_activity,
        preview: typing.length ? (conv.isGroup ? typingText(typing) : "typing…") : previewText(conv, me),
        typing: typing.length > 0,
        draft: typing.length ? "" : draft,
        status: mine ? state.statusOf(conv.id, last)?.status ?? "sent" : null,
        unread: state.unread(conv),
        left: !conv.isMember,
        muted: state.isMuted(conv.id),
        pinned: state.isPinned(conv.id),
        current,
        id: conv.id,
      };
    } else {
      if (peer === undefined) return; // a row without a conversation is always a peer's
      const known = state.identity?.(peer);
      model = { href: `/messages/${encodeURIComponent(peer)}/`, name: known?.display_name || peer, avatar: known?.avatar ?? null, group: false, peer, online: Boolean(state.presence.get(peer)?.online), lastSeen: null, stamp: null, preview: "No messages yet", typing: false, draft: current ? "" : this.drafts?.get({ peer }) ?? "", status: null, unread: 0, left: false, muted: false, pinned: false, current, id: "" };
    }
    const signature = JSON.stringify(model);
    if (signature === row.signature) return;
    row.signature = signature;
    const link = row.link;
    link.className = `conversation${model.unread ? " has-unread" : ""}${model.group ? " group" : ""}${model.typing ? " is-typing" : ""}${model.muted ? " is-muted" : ""}${model.pinned ? " is-pinned" : ""}`;
    link.setAttribute("href", model.href);
    if (model.current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
    if (model.peer) link.dataset.peer = model.peer;
    else delete link.dataset.peer;
    link.dataset.conversation = String(model.id);
    link.dataset.unread = String(model.unread);

    const preview = h("span", { className: "conversation-preview" });
    if (model.draft) {
      preview.append(h("span", { className: "draft-label", text: "Draft:" }));
    } else if (model.status && !model.typing) {
      const mark = h("span", { className: `status status-${model.status}`, attrs: { role: "img", "aria-label": STATUS_TEXT[model.status] } });
      mark.append(icon(model.status));
      preview.append(mark);
    }
    preview.append(h("span", { className: "text", text: model.draft ? oneLine(model.draft) : model.preview }));
    const extra = [];
    if (model.peer) extra.push(`, ${presenceText(model.online, model.lastSeen)}`);
    if (model.left) extra.push(", you are no longer a member");
    link.replaceChildren(
      avatar(model.name, { online: model.online, group: model.group, image: model.avatar, key: model.peer ?? model.name }),
      h("span", { className: "conversation-name" }, model.name, extra.length ? h("span", { className: "visually-hidden", text: extra.join("") }) : null),
      model.stamp ? h("time", { className: "conversation-time", attrs: { datetime: model.stamp, title: fullStamp(model.stamp) }, text: listStamp(model.stamp) }) : h("span", { className: "conversation-time" }),
      preview,
      h("span", { className: "conversation-meta" },
        model.pinned ? h("span", { className: "pinned-mark", attrs: { role: "img", "aria-label": "Pinned", title: "Pinned" } }, icon("pinned")) : null,
        model.muted ? h("span", { className: "muted-mark", attrs: { role: "img", "aria-label": "Muted", title: "Muted" } }, icon("muted")) : null,
        model.unread ? h("span", { className: "badge", dataset: { unreadBadge: "" } },
          h("span", { attrs: { "aria-hidden": "true" }, text: model.unread > 99 ? "99+" : model.unread }),
          h("span", { className: "visually-hidden", text: `${model.unread} unread` })) : null),
    );
  }
}
