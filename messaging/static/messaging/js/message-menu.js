// @ts-check
// The message menu (Reply, React, Edit, Delete for me, Delete for everyone,
// Copy) and the emoji picker: popups that open from a message's actions
// button, a right-click or a long press, and work with the keyboard alone:
// arrows move, Enter picks, Esc closes and gives the focus back.

import { h } from "./dom.js";
import { EMOJI } from "./emoji-data.js";

const QUICK = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

/** @typedef {Element | { x: number, y: number }} Anchor what a popup opens from: an element, or a point (a right-click, a long press) */
/**
 * One entry of the message menu.
 * @typedef {{ label: string, run: () => void, danger?: boolean, action?: string, keepsFocus?: boolean }} MenuItem
 */

/**
 * @param {HTMLElement} popup
 * @param {Anchor} anchor
 */
function place(popup, anchor) {
  popup.style.visibility = "hidden";
  popup.hidden = false;
  const box = anchor instanceof Element ? anchor.getBoundingClientRect() : { left: anchor.x, right: anchor.x, top: anchor.y, bottom: anchor.y };
  const width = popup.offsetWidth;
  const height = popup.offsetHeight;
  const left = Math.max(8, Math.min(window.innerWidth - width - 8, box.right - width));
  const below = box.bottom + 4;
  const top = below + height > window.innerHeight - 8 ? Math.max(8, box.top - height - 4) : below;
  popup.style.left = `${left}px`;
  popup.style.top = `${top}px`;
  popup.style.visibility = "";
}

class Popup {
  /** @param {HTMLElement} element the popup's markup (hidden until opened) */
  constructor(element) {
    this.element = element;
    /** @type {HTMLElement | null} */
    this.returnFocus = null;
    /** @type {(() => void) | null} */
    this.onClose = null;
    document.addEventListener("pointerdown", (event) => {
      if (!this.element.hidden && !(event.target instanceof Node && this.element.contains(event.target))) this.close({ restore: false });
    });
    window.addEventListener("resize", () => this.close({ restore: false }));
  }

  get isOpen() {
    return !this.element.hidden;
  }

  /**
   * @param {Anchor} anchor
   * @param {HTMLElement | undefined} focusTarget
   */
  show(anchor, focusTarget) {
    this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    place(this.element, anchor);
    focusTarget?.focus();
  }

  /** @param {{ restore?: boolean }} [options] */
  close({ restore = true } = {}) {
    if (this.element.hidden) return;
    this.element.hidden = true;
    const back = this.returnFocus;
    this.returnFocus = null;
    if (restore && back?.isConnected) back.focus();
    this.onClose?.();
  }
}

export class MessageMenu extends Popup {
  /** @param {HTMLElement} element */
  constructor(element) {
    super(element);
    element.addEventListener("keydown", (event) => this.onKey(event));
  }

  /**
   * ``items``: [{label, run, danger}] for the message; ``anchor``: an element or a point.
   * @param {Anchor} anchor
   * @param {MenuItem[]} items
   * @param {string} label
   */
  open(anchor, items, label) {
    this.element.setAttribute("aria-label", label);
    this.element.replaceChildren(...items.map((item) => h("li", { attrs: { role: "none" } },
      h("button", {
        className: item.danger ? "menu-item danger" : "menu-item",
        attrs: { type: "button", role: "menuitem", tabindex: "-1" },
        dataset: { action: item.action },
        text: item.label,
        on: { click: () => { this.close({ restore: !item.keepsFocus }); item.run(); } },
      }))));
    this.show(anchor, this.items()[0]);
  }

  /** @returns {HTMLElement[]} */
  items() {
    return [...this.element.querySelectorAll("[role=menuitem]")].filter((el) => el instanceof HTMLElement);
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    const items = this.items();
    const at = items.findIndex((el) => el === document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length]?.focus();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      (event.key === "Home" ? items[0] : items.at(-1))?.focus();
    } else if (event.key === "Escape" || event.key === "Tab") {
      event.preventDefault();
      this.close();
    }
  }
}

export class EmojiPicker extends Popup {
  /** @param {HTMLElement} element */
  constructor(element) {
    super(element);
    /** @type {((emoji: string) => void) | null} */
    this.onPick = null;
    this.search = h("input", {
      className: "emoji-search",
      attrs: { type: "search", placeholder: "Search emoji", "aria-label": "Search emoji", autocomplete: "off", spellcheck: "false" },
    });
    this.grid = h("div", { className: "emoji-grid", attrs: { role: "listbox", "aria-label": "Emoji" } });
    this.quick = h("div", { className: "emoji-quick", attrs: { role: "group", "aria-label": "Quick reactions" } },
      QUICK.map((emoji) => this.button(emoji, EMOJI.find(([e]) => e === emoji)?.[1] ?? emoji)));
    element.replaceChildren(this.quick, this.search, this.grid);
    this.search.addEventListener("input", () => this.fill());
    element.addEventListener("keydown", (event) => this.onKey(event));
  }

  /**
   * @param {string} emoji
   * @param {string} words its names, the first ones its label
   */
  button(emoji, words) {
    return h("button", {
      className: "emoji",
      attrs: { type: "button", title: words.split(" ").slice(0, 4).join(" "), "aria-label": words.split(" ").slice(0, 4).join(" ") },
      dataset: { emoji },
      text: emoji,
      on: { click: () => this.pick(emoji) },
    });
  }

  /** The common set, or what matches the search (every word typed, at a word's start). */
  fill() {
    const words = this.search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const found = EMOJI.filter(([, names = ""]) => words.every((w) => names.split(" ").some((n) => n.startsWith(w))));
    this.grid.replaceChildren(...(found.length ? found.map(([emoji = "", names = ""]) => this.button(emoji, names)) : [h("p", { className: "muted small", text: "No emoji found" })]));
  }

  /**
   * @param {Anchor} anchor
   * @param {(emoji: string) => void} onPick
   */
  open(anchor, onPick) {
    this.onPick = onPick;
    this.search.value = "";
    this.fill();
    this.show(anchor, this.search);
  }

  /** @param {string} emoji */
  pick(emoji) {
    const onPick = this.onPick;
    this.close();
    onPick?.(emoji);
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      return;
    }
    const buttons = [...this.element.querySelectorAll("button.emoji")].filter((b) => b instanceof HTMLElement);
    const at = buttons.findIndex((b) => b === document.activeElement);
    if (event.key === "Enter" && document.activeElement === this.search) {
      event.preventDefault();
      const first = this.grid.querySelector("button.emoji");
      if (first instanceof HTMLElement && first.dataset.emoji) this.pick(first.dataset.emoji);
    } else if (event.key === "ArrowDown" && document.activeElement === this.search) {
      event.preventDefault();
      const first = this.grid.querySelector("button.emoji");
      if (first instanceof HTMLElement) first.focus();
    } else if (["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp"].includes(event.key) && at >= 0) {
      event.preventDefault();
      const perRow = Math.max(1, Math.round(this.grid.clientWidth / (buttons.at(-1)?.offsetWidth || 36)));
      /** @type {Record<string, number>} */
      const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow };
      const step = steps[event.key] ?? 0;
      const next = at + step;
      if (next < 0) this.search.focus();
      else buttons[Math.min(buttons.length - 1, next)]?.focus();
    }
  }
}
