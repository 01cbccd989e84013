// @ts-check
// How files look in the chat: images as thumbnails that open the viewer,
// other files as chips (icon, name, size) that download; files of a message
// still in the outbox with a progress bar and a cancel button each. Names are
// set as text, never as HTML; every src is this site's own URL.

import { h } from "./dom.js";
import { UPLOAD_FAILURES } from "./protocol/uploads.js";

/** @import { Attachment, Event } from "./protocol/frames.js" */
/** @import { OutboxEntry } from "./protocol/outbox.js" */

const SVG = "http://www.w3.org/2000/svg";

/** @param {number} bytes */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function fileIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "file-icon");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M6 2h8l6 6v14H6zM13 3.5V9h5.5");
  svg.append(path);
  return svg;
}

/**
 * The attachments ``A`` of a stored message event (``event.data.attachments``), or [].
 * @param {Pick<Event, "data"> | null | undefined} event
 * @returns {Attachment[]}
 */
export function attachmentsOf(event) {
  const items = event?.data?.attachments;
  return Array.isArray(items) ? items : [];
}

/**
 * The nodes of a stored message's files; ``onOpen(items, index)`` opens an image in the viewer.
 * @param {Attachment[]} items
 * @param {{ onOpen: (images: Attachment[], index: number) => void }} options
 */
export function attachmentNodes(items, { onOpen }) {
  if (!items.length) return null;
  const images = items.filter((a) => a.thumbnail_url);
  return h("ul", { className: "attachments", attrs: { "aria-label": `${items.length} attached file${items.length === 1 ? "" : "s"}` } },
    items.map((item) => {
      if (item.thumbnail_url) {
        const index = images.indexOf(item);
        const img = h("img", { attrs: { src: item.thumbnail_url, alt: item.name, loading: "lazy", width: item.width, height: item.height } });
        return h("li", { className: "attachment image" },
          h("button", { className: "thumbnail", attrs: { type: "button", "aria-label": `Open image ${item.name}` }, dataset: { attachment: item.id }, on: { click: () => onOpen(images, index) } }, img));
      }
      return h("li", { className: "attachment file" },
        h("a", { className: "file-chip", attrs: { href: item.url, download: item.name }, dataset: { attachment: item.id } },
          fileIcon(),
          h("span", { className: "file-name", text: item.name }),
          h("span", { className: "file-size", text: formatSize(item.size) })));
    }));
}

/**
 * The files of a message waiting in the outbox: name, size, progress, and a cancel button while it uploads.
 * @param {Pick<OutboxEntry, "client_id" | "files">} entry
 * @param {{ onCancel: (clientId: string, index: number) => void }} options
 */
export function pendingFileNodes(entry, { onCancel }) {
  const files = Array.isArray(entry.files) ? entry.files : [];
  if (!files.length) return null;
  return h("ul", { className: "attachments pending-files" },
    files.map((f, index) => {
      if (f.state === "cancelled") return null;
      const fraction = f.size ? Math.min(1, (f.loaded || 0) / f.size) : 0;
      const label = f.state === "done" ? "uploaded" : f.state === "failed" ? ((f.error === null ? undefined : UPLOAD_FAILURES[f.error]) ?? "refused") : f.state === "retrying" ? "waiting to retry" : `${Math.round(fraction * 100)}%`;
      return h("li", { className: `attachment file upload-${f.state}` },
        h("div", { className: "file-chip" },
          fileIcon(),
          h("span", { className: "file-name", text: f.name }),
          h("span", { className: "file-size", text: formatSize(f.size) }),
          f.state === "uploading" || f.state === "waiting" || f.state === "retrying"
            ? h("button", { className: "icon-button small cancel-upload", attrs: { type: "button", "aria-label": `Cancel ${f.name}` }, on: { click: () => onCancel(entry.client_id, index) } }, "×")
            : null),
        h("progress", { attrs: { max: "1", value: String(f.state === "done" ? 1 : fraction), "aria-label": `${f.name}: ${label}` } }),
        h("span", { className: "upload-state", text: label }));
    }));
}

/**
 * A signature of what the nodes above show, so a bubble is repainted only when it changed.
 * @param {unknown} value
 */
export function filesSignature(value) {
  return JSON.stringify(value ?? null);
}
