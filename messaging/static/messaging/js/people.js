// @ts-check
// Searching people by username (/messages/api/users?q=), keyboard friendly:
// ArrowDown moves into the results, ArrowUp back, Escape clears, Enter takes
// the exact match or the first one. Two uses: the sidebar's "Start a
// conversation" (results are links) and the group member picker (results
// are buttons that add a chip).

import { getJSON } from "./api.js";
import { avatar, h } from "./dom.js";
import { presenceText } from "./time.js";

/**
 * A person the search found (``/messages/api/users``): ``P``, presence, and the link to the direct chat.
 * @typedef {import("./protocol/frames.js").Profile & { online?: boolean, last_seen?: string | null, url?: string }} FoundUser
 */

export class PeopleSearch {
  /**
   * ``onPick(user)`` for a picker; without it results are links to the direct chat.
   * @param {{
   *   input: HTMLInputElement,
   *   results: HTMLElement,
   *   status: HTMLElement,
   *   onPick?: ((user: FoundUser) => void) | null,
   *   exclude?: () => Set<string>,
   *   form?: HTMLFormElement | null,
   * }} options
   */
  constructor({ input, results, status, onPick = null, exclude = () => new Set(), form = null }) {
    this.input = input;
    this.results = results;
    this.status = status;
    this.onPick = onPick;
    this.exclude = exclude;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.controller = null;
    /** @type {FoundUser[]} */
    this.shown = [];
    input.addEventListener("input", () => this.onInput());
    (form ?? input).addEventListener("keydown", (event) => { if (event instanceof KeyboardEvent) this.onKey(event); });
    if (form) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.takeBest();
      });
    }
  }

  onInput() {
    clearTimeout(this.timer);
    const query = this.input.value.trim();
    if (!query) {
      this.clear();
      return;
    }
    this.timer = setTimeout(() => this.search(query), 180);
  }

  /** @param {string} query */
  async search(query) {
    this.controller?.abort();
    this.controller = new AbortController();
    const signal = this.controller.signal;
    try {
      const { ok, status, body } = await getJSON(`/messages/api/users?q=${encodeURIComponent(query)}`, { signal });
      if (!ok || !body) throw new Error(String(status));
      if (signal.aborted || this.input.value.trim() !== query) return;
      const excluded = this.exclude();
      this.show(query, body.users.filter((/** @type {FoundUser} */ u) => !excluded.has(u.username)));
    } catch (error) {
      if ((error instanceof Error && error.name === "AbortError") || signal.aborted) return;
      this.status.textContent = "Search is unavailable right now.";
    }
  }

  /**
   * @param {string} query
   * @param {FoundUser[]} users
   */
  show(query, users) {
    this.shown = users;
    this.results.hidden = false;
    if (!users.length) {
      this.results.replaceChildren(h("li", { className: "none", text: `No one called “${query}”.` }));
      this.status.textContent = `No one called ${query}.`;
      return;
    }
    this.results.replaceChildren(...users.map((user) => h("li", {}, this.item(user))));
    this.status.textContent = `${users.length} ${users.length === 1 ? "person" : "people"} found. Use the down arrow to choose.`;
  }

  /** @param {FoundUser} user */
  item(user) {
    const inner = [
      avatar(user.display_name || user.username, { online: user.online, small: true, image: user.avatar ?? null, key: user.username }),
      h("span", {},
        h("span", { className: "person-name-sub", text: user.display_name || user.username }),
        user.display_name ? h("span", { className: "muted small person-name-sub", text: `@${user.username}` }) : null),
      h("span", { className: "muted", text: presenceText(user.online, user.last_seen) }),
    ];
    if (!this.onPick) return h("a", { attrs: { href: user.url }, dataset: { username: user.username } }, ...inner);
    return h("button", {
      className: "person",
      attrs: { type: "button", "aria-label": `Add ${user.display_name ? `${user.display_name} (@${user.username})` : user.username}` },
      dataset: { username: user.username },
      on: { click: () => this.pick(user) },
    }, ...inner);
  }

  /** @param {FoundUser} user */
  pick(user) {
    this.onPick?.(user);
    this.input.value = "";
    this.clear();
    this.input.focus();
  }

  takeBest() {
    const query = this.input.value.trim().toLowerCase();
    const best = this.shown.find((u) => u.username.toLowerCase() === query) ?? this.shown[0];
    if (!best) return;
    if (this.onPick) this.pick(best);
    else {
      const link = this.results.querySelector(`[data-username="${CSS.escape(best.username)}"]`);
      if (link instanceof HTMLElement) link.click();
    }
  }

  clear() {
    this.controller?.abort();
    this.shown = [];
    this.results.hidden = true;
    this.results.replaceChildren();
    this.status.textContent = "";
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    const items = [...this.results.querySelectorAll("a, button")].filter((el) => el instanceof HTMLElement);
    const index = document.activeElement ? items.findIndex((el) => el === document.activeElement) : -1;
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      items[Math.min(index + 1, items.length - 1)]?.focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      if (index === 0) this.input.focus();
      else items[index - 1]?.focus();
    } else if (event.key === "Escape" && (this.input.value || !this.results.hidden)) {
      // Inside a dialog, the first Escape clears the search; the next one closes the dialog.
      event.preventDefault();
      event.stopPropagation();
      this.input.value = "";
      this.clear();
      this.input.focus();
    } else if (event.key === "Enter" && this.onPick && document.activeElement === this.input) {
      event.preventDefault();
      this.takeBest();
    }
  }
}

/** Chosen people as removable chips, for the group dialogs. */
export class Chips {
  /**
   * @param {HTMLElement} ul
   * @param {{ onChange?: () => void }} [options]
   */
  constructor(ul, { onChange = () => {} } = {}) {
    this.ul = ul;
    this.onChange = onChange;
    /** @type {string[]} */
    this.names = [];
  }

  /** @param {string} username */
  add(username) {
    if (this.names.includes(username)) return;
    this.names.push(username);
    this.render();
  }

  /** @param {string} username */
  remove(username) {
    this.names = this.names.filter((n) => n !== username);
    this.render();
  }

  clear() {
    this.names = [];
    this.render();
  }

  render() {
    this.ul.replaceChildren(...this.names.map((name) => h("li", { className: "chip" },
      h("span", { text: name }),
      h("button", {
        className: "chip-remove",
        attrs: { type: "button", "aria-label": `Remove ${name}` },
        text: "×",
        on: { click: () => { this.remove(name); this.onChange(); } },
      }))));
    this.onChange();
  }
}
