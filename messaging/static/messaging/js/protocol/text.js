// @ts-check
// What people read about protocol things: system lines for membership,
// rename and role events, "… is typing", "Read by 2 of 3". No DOM.

/** @import { Event } from "./frames.js" */

/**
 * "bob", "bob and carol", "bob, carol and dave". ``me`` reads as "you".
 * @param {string[]} list
 * @param {string | null} [me]
 */
export function names(list, me = null) {
  const shown = list.map((name) => (name === me ? "you" : name));
  if (shown.length <= 1) return shown.join("");
  return `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
}

/**
 * @param {string | null | undefined} name
 * @param {string | null} me
 * @param {{ start?: boolean }} [options]
 */
function who(name, me, { start = false } = {}) {
  if (name !== me) return name;
  return start ? "You" : "you";
}

/**
 * The system line of a non-message event, or null for a message.
 * @param {Pick<Event, "kind" | "sender"> & { data?: Event["data"] | null }} event
 * @param {string | null} me
 */
export function systemText(event, me) {
  const data = event.data ?? {};
  const actor = who(event.sender, me, { start: true });
  switch (event.kind) {
    case "created":
      return `${actor} created the group “${data.title ?? ""}”`;
    case "members_added":
      return `${actor} added ${names(Array.isArray(data.users) ? data.users : [], me)}`;
    case "member_removed":
      return `${actor} removed ${who(data.user, me)}`;
    case "member_left":
      return data.new_owner ? `${actor} left; ${who(data.new_owner, me)} now own${data.new_owner === me ? "" : "s"} the group` : `${actor} left`;
    case "renamed":
      return `${actor} renamed the group to “${data.title ?? ""}”`;
    case "role_changed":
      return `${actor} made ${who(data.user, me)} ${data.role === "admin" ? "an admin" : "a member"}`;
    case "message":
    case "edited":
    case "deleted":
    case "reaction_added":
    case "reaction_removed":
      return null;
    default:
      return `${actor} changed something (${event.kind})`;
  }
}

/**
 * "alice is typing…", "alice and bob are typing…", "alice, bob and 2 others are typing…".
 * @param {string[]} users
 */
export function typingText(users) {
  if (!users.length) return "";
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users[0]}, ${users[1]} and ${users.length - 2} other${users.length === 3 ? "" : "s"} are typing…`;
}

/**
 * The line under my group message: "Read by 2 of 3", "Read by everyone", or null before anyone read it.
 * @param {{ readBy: string[], total: number }} reads
 */
export function readByText({ readBy, total }) {
  if (!total || !readBy.length) return null;
  if (readBy.length === total) return total === 1 ? `Read by ${readBy[0]}` : "Read by everyone";
  return `Read by ${readBy.length} of ${total}`;
}

/**
 * The inbox preview of a conversation's last message.
 * @param {{ isGroup: boolean, last_message: Event | null }} conv
 * @param {string | null} me
 */
export function previewText(conv, me) {
  const last = conv.last_message;
  if (!last) return conv.isGroup ? "No messages yet" : "No messages yet";
let text = last.deleted ? "This message was deleted" : String(last.content ?? "").replace(/\s+/g, " ").trim().slice(0, 160);
  const files = !last.deleted && Array.isArray(last.data?.attachments) ? last.data.attachments : [];
  if (!text && files.length) text = files.length === 1 ? `📎 ${files[0]?.name}` : `📎 ${files.length} files`;
  if (last.sender === me) return `You: ${text}`;
  return conv.isGroup ? `${last.sender}: ${text}` : text;
}
