// @ts-check
// The image viewer: a <dialog> with the full image (this site's download URL,
// which checks access), its name, a download link, and arrows to the other
// images of the same message. Esc closes it (the dialog's own behaviour);
// ArrowLeft / ArrowRight move.

import { find } from "./dom.js";

/** @import { Attachment } from "./protocol/frames.js" */

export class ImageViewer {
  /** @param {HTMLDialogElement} dialog the viewer's markup (chat.html) */
  constructor(dialog) {
    this.dialog = dialog;
    this.img = find("[data-viewer-image]", HTMLImageElement, dialog);
    this.caption = find("[data-viewer-name]", HTMLElement, dialog);
    this.download = find("[data-viewer-download]", HTMLAnchorElement, dialog);
    this.prev = find("[data-viewer-prev]", HTMLElement, dialog);
    this.next = find("[data-viewer-next]", HTMLElement, dialog);
    this.counter = find("[data-viewer-count]", HTMLElement, dialog);
    /** @type {Pick<Attachment, "url" | "name">[]} */
    this.items = [];
    this.index = 0;
    this.prev.addEventListener("click", () => this.move(-1));
    this.next.addEventListener("click", () => this.move(1));
    find("[data-viewer-close]", HTMLElement, dialog).addEventListener("click", () => dialog.close());
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "ArrowLeft") { event.preventDefault(); this.move(-1); }
      if (event.key === "ArrowRight") { event.preventDefault(); this.move(1); }
    });
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  }

  /**
   * @param {Pick<Attachment, "url" | "name">[]} items the message's images
   * @param {number} index the one to show first
   */
  open(items, index) {
    this.items = items;
    this.show(index);
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** @param {number} step */
  move(step) {
    if (this.items.length < 2) return;
    this.show((this.index + step + this.items.length) % this.items.length);
  }

  /** @param {number} index */
  show(index) {
    this.index = index;
    const item = this.items[index];
    if (!item) return;
    this.img.src = item.url;
    this.img.alt = item.name;
    this.caption.textContent = item.name;
    this.download.href = item.url;
    this.download.setAttribute("download", item.name);
    const many = this.items.length > 1;
    this.prev.hidden = !many;
    this.next.hidden = !many;
    this.counter.textContent = many ? `${index + 1} / ${this.items.length}` : "";
  }
}
