// @ts-check
// Message search: a dialog opened with Ctrl/Cmd+K (or the Search button) that
// asks GET /messages/api/search as you type, lists the hits grouped by
// conversation with their snippets, and opens the chosen one at that message.
//
// Snippets come with highlight offsets (code points into the snippet's text):
// they are cut into text nodes and <mark>s here, never parsed as HTML. The
// filters the server understood (from:, in:, dates, has:) are shown as chips;
// removing one removes it from the query.

import { getJSON } from "./api.js";
import { find, h } from "./dom.js";

/** @import { SearchAnswer, SearchHit } from "./protocol/frames.js" */
/** @typedef {HTMLLIElement & { hit?: SearchHit }} HitItem */
/** @typedef {Pick<SearchAnswer, "results" | "conversations" | "next" | "total" | "query" | "warnings">} SearchPage */
/** @typedef {SearchAnswer["conversations"][number]} NamedConversation */

const DEBOUNCE_MS = 200;
const PAGE = 20;

/**
 * ``text`` with the ``[start, end)`` code-point ranges wrapped in <mark>: DOM nodes only.
 * @param {string} text
 * @param {[number, number][]} ranges
 */
export function highlighted(text, ranges) {
  const chars = [...text];
  /** @type {(string | HTMLElement)[]} */
  const parts = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) parts.push(chars.slice(at, start).join(""));
    parts.push(h("mark", { text: chars.slice(start, end).join("") }));
    at = end;
  }
  if (at < chars.length) parts.push(chars.slice(at).join(""));
  return parts;
}

/**
 * The chips of a parsed query (the server's ``query`` echo): [label, the text to remove from the query].
 * @param {{ from?: string[], in?: string[], has?: string[], after?: string, before?: string }} query
 */
function chips(query) {
  /** @type {[string, RegExp][]} */
  const found = [];
  for (const name of query.from ?? []) found.push([`from: ${name}`, new RegExp(`(^|\\s)from:@?(${escape(name)}|me)(?=\\s|$)`, "i")]);
  for (const name of query.in ?? []) found.push([`in: ${name}`, new RegExp(`(^|\\s)in:("${escape(name)}"|${escape(name)})(?=\\s|$)`, "i")]);
  for (const name of query.has ?? []) found.push([`has: ${name}`, new RegExp(`(^|\\s)has:${escape(name)}(?=\\s|$)`, "i")]);
  if (query.after) found.push([`after: ${query.after.slice(0, 10)}`, /(^|\s)(after|on):\S+(?=\s|$)/i]);
  if (query.before) found.push([`before: ${query.before.slice(0, 10)}`, /(^|\s)(before|on):\S+(?=\s|$)/i]);
  return found;
}

/** @param {string} text */
function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class SearchPanel {
  /**
   * ``el`` is the search <dialog>; ``open(conversationId, seq)`` shows a hit in its conversation.
   * @param {HTMLDialogElement} el
   * @param {{ open: (conversationId: number, seq: number) => void }} options
   */
  constructor(el, { open }) {
    this.el = el;
    this.openHit = open;
    this.input = find("[data-search-input]", HTMLInputElement, el);
    this.status = find("[data-search-status]", HTMLElement, el);
    this.results = find("[data-search-results]", HTMLElement, el);
    this.chipList = find("[data-search-chips]", HTMLElement, el);
    this.more = find("[data-search-more]", HTMLElement, el);
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.controller = null;
    /** @type {HitItem[]} the hits' list items, in order */
    this.items = [];
    this.active = -1;
    /** @type {string | null} */
    this.next = null;
    /** @type {Map<number, NamedConversation>} */
    this.conversations = new Map();
    /** @type {number | null} the conversation of the last group of hits shown */
    this.lastGroup = null;

    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
        event.preventDefault();
        this.show();
      }
    });
    for (const button of document.querySelectorAll("[data-search-open]")) button.addEventListener("click", () => this.show());
    for (const button of el.querySelectorAll("[data-dialog-close]")) button.addEventListener("click", () => this.hide());
    el.addEventListener("click", (event) => { if (event.target === el) this.hide(); });
    this.input.addEventListener("input", () => this.schedule());
    this.input.addEventListener("keydown", (event) => this.key(event));
    this.results.addEventListener("keydown", (event) => this.key(event));
    this.more.addEventListener("click", () => this.run({ append: true }));
  }

  show() {
    if (!this.el.open) this.el.showModal();
    this.input.focus();
    this.input.select();
  }

  hide() {
    if (this.el.open) this.el.close();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  async run({ append = false } = {}) {
    const q = this.input.value.trim();
    this.controller?.abort();
    if (!q) {
      this.render({ results: [], conversations: [], query: {}, warnings: [], next: null, total: null }, { append: false });
      this.status.textContent = "";
      return;
    }
    this.controller = new AbortController();
    const params = new URLSearchParams({ q, limit: String(PAGE) });
    if (append && this.next) params.set("cursor", this.next);
    this.status.textContent = "Searching…";
    let answer;
    try {
      answer = await getJSON(`/messages/api/search?${params}`, { signal: this.controller.signal });
    } catch (error) {
      if (!(error instanceof Error && error.name === "AbortError")) this.status.textContent = "Search is not reachable right now.";
      return;
    }
    if (!answer.ok) {
      this.render({ results: [], conversations: [], query: {}, warnings: [], next: null, total: null }, { append: false });
      this.status.textContent = answer.body?.detail ?? "Search failed; try again.";
      return;
    }
    this.render(answer.body, { append });
  }

  /**
   * @param {SearchPage} page
   * @param {{ append: boolean }} options
   */
  render(page, { append }) {
    if (!append) {
      this.results.replaceChildren();
      /** @type {HitItem[]} the hits' list items, in order */
    this.items = [];
      this.active = -1;
      this.conversations = new Map();
    }
    for (const c of page.conversations) this.conversations.set(c.id, c);
    this.renderChips(page.query ?? {});
    /** @type {HTMLElement | null} */
    let group = null;
    /** @type {number | null} */
    let groupId = append ? this.lastGroup : null;
    for (const hit of page.results) {
      if (hit.conversation !== groupId || !group) {
        groupId = hit.conversation;
        const name = this.name(groupId);
        group = h("ul", { className: "search-group-hits", attrs: { role: "group", "aria-label": name } });
        this.results.append(h("li", { className: "search-group" }, h("h3", { className: "search-group-name", text: name }), group));
      }
      /** @type {HitItem} */
      const item = h(
        "li",
        {
          className: "search-hit",
          dataset: { conversation: hit.conversation, seq: hit.seq },
          attrs: { id: `search-hit-${hit.conversation}-${hit.seq}`, role: "option", "aria-selected": "false" },
          on: { click: () => this.choose(hit), mouseenter: () => this.select(this.items.indexOf(item)) },
        },
        h("span", { className: "search-hit-meta", text: `${hit.sender} · ${new Date(hit.created_at).toLocaleString()}` }),
        h("span", { className: "search-hit-text" },
          hit.snippet.cut_start ? "… " : "", highlighted(hit.snippet.text, hit.snippet.highlights), hit.snippet.cut_end ? " …" : ""),
      );
      item.hit = hit;
      /** @type {HTMLElement} */ (group).append(item);
      this.items.push(item);
    }
    this.lastGroup = groupId;
    this.next = page.next;
    this.more.hidden = !page.next;
    const warnings = page.warnings?.length ? ` ${page.warnings.join(" ")}` : "";
    if (!this.items.length && this.input.value.trim()) {
      this.status.textContent = `No messages found.${warnings} Try fewer or shorter words, a prefix like deplo*, or remove a filter.`;
    } else if (page.total) {
      this.status.textContent = `${page.total.exact ? "" : "More than "}${page.total.count} message${page.total.count === 1 ? "" : "s"} found.${warnings}`;
    } else if (!append) {
      this.status.textContent = warnings.trim();
    }
    if (!append && this.items.length) this.select(0);
  }

  /** @param {Parameters<typeof chips>[0]} query */
  renderChips(query) {
    this.chipList.replaceChildren(
      ...chips(query).map(([label, pattern]) =>
        h("li", { className: "chip" }, h("span", { text: label }),
          h("button", {
            className: "chip-remove",
            attrs: { type: "button", "aria-label": `Remove the filter ${label}` },
            text: "×",
            on: {
              click: () => {
                this.input.value = this.input.value.replace(pattern, " ").replace(/\s+/g, " ").trim();
                this.input.focus();
                this.run();
              },
            },
          }))),
    );
    this.chipList.hidden = !this.chipList.children.length;
  }

  /** @param {number} id */
  name(id) {
    const c = this.conversations.get(id);
    if (!c) return `Conversation ${id}`;
    return c.kind === "group" ? c.title || "Group" : c.peer || "Direct chat";
  }

  /** @param {number} index */
  select(index) {
    if (index < 0 || index >= this.items.length) return;
    this.items[this.active]?.setAttribute("aria-selected", "false");
    this.active = index;
    const item = this.items[index];
    if (!item) return;
    item.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", item.id);
    item.scrollIntoView({ block: "nearest" });
  }

  /** @param {KeyboardEvent} event */
  key(event) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      this.select(Math.min(this.active + 1, this.items.length - 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.select(Math.max(this.active - 1, 0));
    } else if (event.key === "Enter" && this.active >= 0) {
      event.preventDefault();
      clearTimeout(this.timer);
      this.choose(this.items[this.active]?.hit);
    }
  }

  /** @param {SearchHit | undefined} hit */
  choose(hit) {
    if (!hit) return;
    this.hide();
    this.openHit(hit.conversation, hit.seq);
  }
}
