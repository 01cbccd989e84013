// @ts-check
// The notification bell on every signed-in page, live over ws/notifications/:
// unread count, a dropdown of recent notifications (`list`), mark read / mark
// all read, and optional desktop alerts (permission asked only on a click).
// Other modules use the exported `notifications` client; it also re-dispatches
// "linkup:unread" and "linkup:notification" events on document.

import { announce, find, h, paintAvatars } from "./dom.js";
import { Emitter, ReconnectingSocket } from "./socket.js";
import { applySettings } from "./theme.js";
import { fullStamp, listStamp } from "./time.js";

/** @import { Notification as Item, NotificationClientFrame, NotificationServerFrame } from "./protocol/frames.js" */

/**
 * @typedef {{
 *   unread: CustomEvent<{ count: number }>,
 *   notification: CustomEvent<{ notification: Item }>,
 * }} NotificationsEvents
 */

/**
 * A request sent and not answered yet; a list waits for its page.
 * @typedef {{ type: string, waiter?: { resolve: (page: { items: Item[], has_more: boolean }) => void, reject: (error: Error) => void } }} Outstanding
 */

/** @extends {Emitter<NotificationsEvents>} */
class NotificationsClient extends Emitter {
  constructor() {
    super();
    // What was sent and is not answered yet, in the order sent: {type, waiter}.
    // The server handles a socket's frames one at a time, so answers come in
    // that order too: "notifications" answers a list, "pong" a ping, and an
    // error the oldest request that can fail (mark_read, mark_all_read or list).
    // A mark that succeeds has no answer of its own, so a ping follows it: its
    // pong says every mark before it went through.
    /** @type {Outstanding[]} */
    this.outstanding = [];
    /** @type {ReconnectingSocket<NotificationServerFrame, NotificationClientFrame>} */
    this.socket = new ReconnectingSocket("/ws/notifications/", { readyType: "unread_count" });
    this.socket.addEventListener("ready", ({ detail: { frame } }) => this.onFrame(frame));
    this.socket.addEventListener("frame", ({ detail: { frame } }) => this.onFrame(frame));
    this.socket.addEventListener("ping", () => this.outstanding.push({ type: "ping" }));
    this.socket.addEventListener("pong", () => this.answer((r) => r.type === "ping"));
    this.socket.addEventListener("state", ({ detail: { state } }) => {
      if (state !== "connected") this.rejectWaiting();
    });
  }

  start() {
    this.socket.start();
    return this;
  }

  /**
   * Tell this client's listeners and the page's (``linkup:<type>`` on document).
   * @template {keyof NotificationsEvents} K
   * @param {K} type
   * @param {NotificationsEvents[K]["detail"]} detail
   */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
    document.dispatchEvent(new CustomEvent(`linkup:${type}`, { detail }));
  }

  /** @param {NotificationServerFrame} frame */
  onFrame(frame) {
    if (frame.type === "unread_count") {
      this.emit("unread", { count: frame.count });
    } else if (frame.type === "notification") {
      this.emit("notification", { notification: frame.notification });
    } else if (frame.type === "notifications") {
      this.answer((r) => r.type === "list")?.waiter?.resolve(frame);
    } else if (frame.type === "settings") {
      applySettings(frame); // every signed-in page has the bell: every tab follows a settings change
    } else if (frame.type === "error") {
      const request = this.answer((r) => r.type !== "ping");
      if (request?.waiter) request.waiter.reject(new Error(frame.code));
      else console.warn("LinkUp notifications:", frame.code, frame.detail);
    }
  }

  /**
   * The oldest outstanding request ``fits`` answers; those before it are done (marks without an error).
   * @param {(request: Outstanding) => boolean} fits
   */
  answer(fits) {
    const index = this.outstanding.findIndex(fits);
    if (index < 0) return null;
    return this.outstanding.splice(0, index + 1).at(-1);
  }

  rejectWaiting() {
    for (const { waiter } of this.outstanding.splice(0)) waiter?.reject(new Error("disconnected"));
  }

  /**
   * A page of notifications, newest first: {items, has_more}.
   * @param {number | null} before
   * @param {number} limit
   * @returns {Promise<{ items: Item[], has_more: boolean }>}
   */
  list(before = null, limit = 10) {
    return new Promise((resolve, reject) => {
      if (!this.socket.send({ type: "list", before, limit })) {
        reject(new Error("not connected"));
        return;
      }
      this.outstanding.push({ type: "list", waiter: { resolve, reject } });
    });
  }

  /** @param {number} id */
  markRead(id) {
    return this.mark({ type: "mark_read", id });
  }

  markAllRead() {
    return this.mark({ type: "mark_all_read" });
  }

  /** @param {NotificationClientFrame} frame */
  mark(frame) {
    if (!this.socket.send(frame)) return false;
    this.outstanding.push({ type: frame.type });
    if (this.socket.send({ type: "ping" })) this.outstanding.push({ type: "ping" });
    return true;
  }
}

export const notifications = new NotificationsClient();

/** A notification's link, if it is a page of this site or plain http(s); never javascript: or data:. */
/** @param {unknown} url */
function safeUrl(url) {
  // "//host" and "/\host" both lead to another site.
  if (typeof url === "string" && ((url.startsWith("/") && !/^\/[/\\]/.test(url)) || /^https?:\/\//i.test(url))) return url;
  return "/notifications/";
}

/**
 * One notification as a list item (text only), for the dropdown and the page.
 * @param {Item} n
 * @param {{ onOpen?: (event: MouseEvent, n: Item) => void, onMarkRead?: (n: Item, li: HTMLElement) => void }} [actions]
 */
export function notificationItem(n, { onOpen, onMarkRead } = {}) {
  const li = h("li", { className: `notification${n.read ? "" : " unread"}`, dataset: { id: n.id } });
  const stamp = n.updated_at ?? n.created_at;
  li.append(h("a", { className: "notification-link", attrs: { href: safeUrl(n.url) }, on: onOpen ? { click: (e) => onOpen(e, n) } : {} },
    h("span", { className: "notification-title", text: n.title }),
    n.body ? h("span", { className: "notification-body", text: n.body }) : null,
    h("time", { attrs: { datetime: stamp, title: fullStamp(stamp) }, text: listStamp(stamp) })));
  if (!n.read && onMarkRead) {
    li.append(h("button", { className: "link-button mark-read", attrs: { type: "button" }, on: { click: () => onMarkRead(n, li) } },
      "Mark read", h("span", { className: "visually-hidden", text: `: ${n.title}` })));
  }
  return li;
}

/**
 * Mark one read, then follow its link once the server counted it (or after a short wait).
 * @param {Event} event
 * @param {{ id: number, read: boolean, url: string | null }} n
 */
export function openNotification(event, n) {
  if (n.read || !notifications.markRead(n.id)) return;
  event.preventDefault();
  const done = new AbortController();
  const go = () => {
    clearTimeout(timer);
    done.abort();
    location.assign(safeUrl(n.url));
  };
  const timer = setTimeout(go, 500);
  notifications.addEventListener("unread", go, { signal: done.signal });
}

/**
 * A list item shown read: no highlight, no "Mark read" button.
 * @param {Element} li
 */
export function markItemRead(li) {
  li.classList.remove("unread");
  li.querySelector(".mark-read")?.remove();
}

// --- The bell in the top bar -----------------------------------------------------------

/** @param {HTMLElement} bell the top bar's bell (base.html) */
function setUpBell(bell) {
  const button = find("[data-bell-button]", HTMLElement, bell);
  const panel = find("[data-bell-panel]", HTMLElement, bell);
  const list = find("[data-bell-list]", HTMLElement, bell);
  const empty = find("[data-bell-empty]", HTMLElement, bell);
  const count = find("[data-bell-count]", HTMLElement, bell);
  const label = find("[data-bell-label]", HTMLElement, bell);
  const markAll = find("[data-bell-mark-all]", HTMLButtonElement, bell);
  const permission = find("[data-bell-permission]", HTMLElement, bell);
  const baseTitle = document.title;

  /** @param {number} n */
  function renderCount(n) {
    count.hidden = !n;
    count.textContent = n > 99 ? "99+" : String(n);
    label.textContent = `Notifications, ${n} unread`;
    markAll.disabled = !n;
    // The messaging app shows its own unread total in the title (it counts the same messages).
    if (!document.querySelector("[data-owns-title]")) document.title = n ? `(${n}) ${baseTitle}` : baseTitle;
  }

  /**
   * @param {Item} n
   * @param {HTMLElement} li
   */
  const markRead = (n, li) => {
    if (!notifications.markRead(n.id)) return;
    markItemRead(li);
    button.focus();
  };

  async function load() {
    try {
      const { items } = await notifications.list(null, 10);
      list.replaceChildren(...items.map((n) => notificationItem(n, { onOpen: openNotification, onMarkRead: markRead })));
      empty.hidden = items.length > 0;
    } catch {
      empty.hidden = false;
      empty.textContent = "Notifications are unavailable while offline.";
    }
  }

  function open() {
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    empty.textContent = "You're all caught up.";
    permission.hidden = !("Notification" in window) || Notification.permission !== "default";
    load();
  }

  function close({ focus = false } = {}) {
    if (panel.hidden) return;
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focus) button.focus();
  }

  button.addEventListener("click", () => (panel.hidden ? open() : close()));
  markAll.addEventListener("click", () => {
    if (!notifications.markAllRead()) return;
    for (const li of list.querySelectorAll(".unread")) markItemRead(li);
    announce("All notifications marked read");
  });
  permission.addEventListener("click", async () => {
    await Notification.requestPermission();
    permission.hidden = Notification.permission !== "default";
  });
  bell.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close({ focus: true });
  });
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Node && bell.contains(event.target))) close();
  });
  bell.addEventListener("focusout", (event) => {
    if (event.relatedTarget instanceof Node && !bell.contains(event.relatedTarget)) close();
  });

  notifications.addEventListener("unread", ({ detail: { count: n } }) => renderCount(n));
  notifications.addEventListener("notification", ({ detail: { notification: n } }) => {
    announce(`New notification: ${n.title}`);
    if (!panel.hidden) {
      list.querySelector(`[data-id="${CSS.escape(String(n.id))}"]`)?.remove();
      list.prepend(notificationItem(n, { onOpen: openNotification, onMarkRead: markRead }));
      empty.hidden = true;
    }
    desktopAlert(n);
  });
  const initial = Number(count.textContent) || 0;
  renderCount(initial);
}

// When this browser gets Web Push, the service worker shows the notification;
// the page does not show a second one.
let pushedHere = false;
navigator.serviceWorker?.ready
  .then((ready) => ready.pushManager?.getSubscription())
  .then((subscription) => { pushedHere = Boolean(subscription); })
  .catch(() => {});

/** @param {Item} n */
function desktopAlert(n) {
  if (pushedHere || !("Notification" in window) || Notification.permission !== "granted" || document.visibilityState === "visible") return;
  // The service worker's tag for the same notification (messaging/notify/webpush.py).
  const alert = new Notification(n.title, { body: n.body, tag: n.url ? `linkup:${n.url}` : `linkup:notification:${n.id}` });
  alert.addEventListener("click", () => {
    window.focus();
    location.assign(safeUrl(n.url));
  });
}

paintAvatars(document);
const bell = document.querySelector("[data-bell]");
if (bell instanceof HTMLElement) {
  setUpBell(bell);
  notifications.start();
}
