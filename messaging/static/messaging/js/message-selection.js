// @ts-check
// Selecting several messages to delete them for me at once. "Select" in a
// message's menu starts it; then a click on a message, or Enter/Space on its
// ⋯ button, toggles it; the bar says how many and offers "Delete for me";
// Esc or Cancel ends it. The marks live on the list's DOM and are put back
// after every re-render (a MutationObserver), so rendering knows nothing of it.

import { announce } from "./dom.js";

export class MessageSelection {
  /**
   * @param {{
   *   list: HTMLElement,
   *   bar: { root: HTMLElement, count: HTMLElement, remove: HTMLButtonElement, cancel: HTMLElement },
   *   onDelete: (seqs: number[]) => Promise<boolean>,
   * }} options ``list``: the <ol> of messages; ``onDelete`` is true when they were deleted
   */
  constructor({ list, bar, onDelete }) {
    this.list = list;
    this.bar = bar;
    this.onDelete = onDelete;
    /** @type {Set<number> | null} while selecting */
    this.seqs = null;
    list.addEventListener("click", (event) => this.onClick(event), true);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.seqs && !(event.target instanceof Element && event.target.closest("dialog"))) {
        event.preventDefault();
        this.stop();
      }
    });
    bar.cancel.addEventListener("click", () => this.stop());
    bar.remove.addEventListener("click", () => this.remove());
    new MutationObserver(() => this.mark()).observe(list, { childList: true, subtree: true });
  }

  get active() {
    return this.seqs !== null;
  }

  /** @param {number} seq the message whose menu started it */
  start(seq) {
    this.seqs = new Set([seq]);
    this.list.classList.add("selecting");
    this.bar.root.hidden = false;
    this.mark();
    announce("Selecting messages: click them, or press Enter on their buttons. Escape stops.");
  }

  stop() {
    if (!this.seqs) return;
    this.seqs = null;
    this.list.classList.remove("selecting");
    this.bar.root.hidden = true;
    this.mark();
  }

  /** @param {MouseEvent} event */
  onClick(event) {
    if (!this.seqs) return;
    const target = event.target instanceof Element ? event.target : null;
    const li = target?.closest("li.message[data-seq]");
    if (!li || li.classList.contains("deleted") || target?.closest("a")) return;
    event.preventDefault();
    event.stopPropagation();
    const seq = Number(li.getAttribute("data-seq"));
    if (this.seqs.has(seq)) this.seqs.delete(seq);
    else this.seqs.add(seq);
    this.mark();
  }

  /** Put the marks where the selection says (idempotent: attribute changes do not wake the observer). */
  mark() {
    for (const li of this.list.querySelectorAll("li.message[data-seq]")) {
      const selected = this.seqs?.has(Number(li.getAttribute("data-seq"))) ?? false;
      if (li.classList.contains("selected") !== selected) li.classList.toggle("selected", selected);
      const button = li.querySelector(".message-actions");
      const pressed = this.seqs ? String(selected) : null;
      if (button && button.getAttribute("aria-pressed") !== pressed) {
        if (pressed === null) button.removeAttribute("aria-pressed");
        else button.setAttribute("aria-pressed", pressed);
      }
    }
    const count = this.seqs?.size ?? 0;
    this.bar.count.textContent = `${count} selected`;
    this.bar.remove.disabled = count === 0;
  }

  async remove() {
    if (!this.seqs?.size) return;
    const seqs = [...this.seqs].sort((a, b) => a - b);
    if (await this.onDelete(seqs)) this.stop();
  }
}
