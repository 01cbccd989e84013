// @ts-check
// The /notifications/ page: the server renders the first 50; this adds mark
// read, mark all read, "show older" (`list` with `before`) and live arrivals,
// through the bell's notifications client.

import { announce } from "./dom.js";
import { markItemRead, notificationItem, notifications, openNotification } from "./bell.js";
import { fullStamp } from "./time.js";

const page = document.querySelector("[data-notifications-page]");
const list = page.querySelector("[data-page-list]");
const empty = page.querySelector("[data-page-empty]");
const more = page.querySelector("[data-page-more]");
const markAll = page.querySelector("[data-page-mark-all]");

const markRead = (n, li) => {
  if (notifications.markRead(n.id)) {
    markItemRead(li);
    announce(`Marked read: ${n.title}`);
  }
};

list.addEventListener("click", (event) => {
  const link = event.target.closest(".notification-link");
  if (link && !event.defaultPrevented && link.closest("li").classList.contains("unread")) {
    openNotification(event, { id: Number(link.closest("li").dataset.id), read: false, url: link.getAttribute("href") });
    return;
  }
  const button = event.target.closest("[data-mark-read]");
  if (!button) return;
  const li = button.closest("li");
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
    const { items, has_more: hasMore } = await notifications.list(last ? Number(last.dataset.id) : null, 50);
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
  const d = new Date(time.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) time.textContent = fullStamp(d);
}
