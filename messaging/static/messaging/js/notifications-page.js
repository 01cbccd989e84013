// @ts-check
// The /notifications/ page: the server renders the first 50; this adds mark
// read, mark all read, "show older" (`list` with `before`) and live arrivals,
// through the bell's notifications client.

import { announce, closest, find } from "./dom.js";
import { markItemRead, notificationItem, notifications, openNotification } from "./bell.js";
import { fullStamp } from "./time.js";

/** @import { Notification as Item } from "./protocol/frames.js" */

const page = find("[data-notifications-page]");
const list = find("[data-page-list]", HTMLElement, page);
const empty = find("[data-page-empty]", HTMLElement, page);
const more = find("[data-page-more]", HTMLButtonElement, page);
const markAll = find("[data-page-mark-all]", HTMLElement, page);

/**
 * @param {Item} n
 * @param {HTMLElement} li
 */
const markRead = (n, li) => {
  if (notifications.markRead(n.id)) {
    markItemRead(li);
    announce(`Marked read: ${n.title}`);
  }
};

list.addEventListener("click", (event) => {
  const link = closest(event, ".notification-link");
  const item = link?.closest("li");
  if (link && item && !event.defaultPrevented && item.classList.contains("unread")) {
    openNotification(event, { id: Number(item.dataset.id), read: false, url: link.getAttribute("href") });
    return;
  }
  const button = closest(event, "[data-mark-read]");
  const li = button?.closest("li");
  if (!button || !li) return;
  if (notifications.markRead(Number(button.dataset.markRead))) {
    const next = li.nextElementSibling?.querySelector("a") ?? markAll;
    markItemRead(li);
    next.focus();
    announce("Marked read");
  }
});

markAll.addEventListener("click", () => {
  if (!notifications.markAllRead()) return;
  for (const li of list.querySelectorAll(".unread")) markItemRead(li);
  announce("All notifications marked read");
});

more.addEventListener("click", async () => {
  const last = list.lastElementChild;
  more.disabled = true;
  try {
    const { items, has_more: hasMore } = await notifications.list(last instanceof HTMLElement ? Number(last.dataset.id) : null, 50);
    list.append(...items.map((n) => notificationItem(n, { onOpen: openNotification, onMarkRead: markRead })));
    more.hidden = !hasMore;
  } catch {
    announce("Could not load older notifications; try again when you're back online.");
  } finally {
    more.disabled = false;
  }
});

notifications.addEventListener("notification", ({ detail: { notification: n } }) => {
  list.querySelector(`[data-id="${CSS.escape(String(n.id))}"]`)?.remove();
  list.prepend(notificationItem(n, { onOpen: openNotification, onMarkRead: markRead }));
  empty.hidden = true;
});

// Localise the server's UTC stamps.
for (const time of list.querySelectorAll("time[datetime]")) {
  const d = new Date(time.getAttribute("datetime") ?? "");
  if (!Number.isNaN(d.getTime())) time.textContent = fullStamp(d);
}
