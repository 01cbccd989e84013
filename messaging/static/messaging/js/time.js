// @ts-check
// Times for people: local clock times, day separators and "last seen …",
// all from the server's ISO 8601 timestamps, in the browser's own time zone.

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "long" });
const shortWeekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const fullDate = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const shortDate = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longStamp = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

const DAY = 86400000;

/** @param {Date} date */
function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** @param {Date} date */
function daysAgo(date, now = new Date()) {
  return Math.round((startOfDay(now) - startOfDay(date)) / DAY);
}

/** @typedef {import("./protocol/frames.js").Time | Date} When a server time, or a Date already made of one */

/** @param {When} iso */
const toDate = (iso) => (iso instanceof Date ? iso : new Date(iso));

/** @param {When} iso */
export function timeOfDay(iso) {
  return clock.format(toDate(iso));
}

/** @param {When} iso */
export function fullStamp(iso) {
  return longStamp.format(toDate(iso));
}

/** "2026-11-27": the local day a message belongs to. @param {When} iso */
export function dayKey(iso) {
  const d = toDate(iso);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** The text of a day separator: Today, Yesterday, Monday, or a full date. @param {When} iso */
export function dayLabel(iso) {
  const d = toDate(iso);
  const ago = daysAgo(d);
  if (ago === 0) return "Today";
  if (ago === 1) return "Yesterday";
  if (ago > 1 && ago < 7) return weekday.format(d);
  return fullDate.format(d);
}

/** The inbox's compact stamp: 14:05, Yesterday, Mon, 3 Mar. @param {When} iso */
export function listStamp(iso) {
  const d = toDate(iso);
  const ago = daysAgo(d);
  if (ago === 0) return clock.format(d);
  if (ago === 1) return "Yesterday";
  if (ago > 1 && ago < 7) return shortWeekday.format(d);
  return shortDate.format(d);
}

/** "online", "last seen just now", "last seen 5 min ago", "last seen yesterday at 21:14". */
/**
 * @param {boolean | undefined} online
 * @param {When | null | undefined} lastSeen
 */
export function presenceText(online, lastSeen) {
  if (online) return "online";
  if (!lastSeen) return "offline";
  const d = toDate(lastSeen);
  const minutes = Math.floor((Date.now() - d.getTime()) / 60000);
  if (minutes < 1) return "last seen just now";
  if (minutes < 60) return `last seen ${minutes} min ago`;
  const ago = daysAgo(d);
  if (ago === 0) return `last seen today at ${clock.format(d)}`;
  if (ago === 1) return `last seen yesterday at ${clock.format(d)}`;
  return `last seen ${shortDate.format(d)}`;
}
