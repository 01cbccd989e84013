// @ts-check
// The image viewer: a <dialog> with the full image (this site's download URL,
// which checks access), its name, a download link, and arrows to the other
// images of the same message. Esc closes it (the dialog's own behaviour);
// ArrowLeft / ArrowRight move.

export class ImageViewer {
  constructor(dialog) {
    this.dialog = dialog;
    this.img = dialog.querySelector("[data-viewer-image]");
    this.caption = dialog.querySelector("[data-viewer-name]");
    this.download = dialog.querySelector("[data-viewer-download]");
    this.prev = dialog.querySelector("[data-viewer-prev]");
    this.next = dialog.querySelector("[data-viewer-next]");
    this.counter = dialog.querySelector("[data-viewer-count]");
    this.items = [];
    this.index = 0;
    this.prev.addEventListener("click", () => this.move(-1));
    this.next.addEventListener("click", () => this.move(1));
    dialog.querySelector("[data-viewer-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "ArrowLeft") { event.preventDefault(); this.move(-1); }
      if (event.key === "ArrowRight") { event.preventDefault(); this.move(1); }
    });
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  }

  open(items, index) {
    this.items = items;
    this.show(index);
    if (!this.dialog.open) this.dialog.showModal();
  }

  move(step) {
    if (this.items.length < 2) return;
    this.show((this.index + step + this.items.length) % this.items.length);
  }

  show(index) {
    this.index = index;
    const item = this.items[index];
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
