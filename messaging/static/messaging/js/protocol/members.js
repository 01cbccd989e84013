// @ts-check
// The members of one conversation with their receipt cursors, and the status
// of a message derived from them (docs/protocol.md, "Receipts, statuses and
// unread"): a message at seq s counts the other *current* members who could
// see it (joined_seq <= s); it is delivered when each of them has
// delivered_seq >= s, read when each has read_seq >= s. When none of them is
// left it is read: nobody is left to read it (so a status never goes back).
// Cursors only move forward, whatever order the frames arrive in.

/** @import { Event, Member, Receipt, Role, Time } from "./frames.js" */
/**
 * A member as this client holds them: ``joined_seq`` null until known, presence null until told.
 * @typedef {{ username: string, role: Role, joined_seq: number | null, delivered_seq: number, read_seq: number,
 *   online: boolean | null, last_seen: Time | null }} HeldMember
 */
/** @typedef {{ status: "sent" | "delivered" | "read", readBy: string[], deliveredTo: string[], total: number }} MessageStatus */

/** @type {Set<unknown>} */
const ROLES = new Set(["owner", "admin", "member"]);

/**
 * @param {unknown} value
 * @returns {value is Role}
 */
const isRole = (value) => ROLES.has(value);

/** @param {unknown} value a cursor as the server sent it */
function cursor(value) {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;
}

export class Members {
  constructor() {
    /** @type {Map<string, HeldMember>} */
    this.byName = new Map();
    this.complete = false; // true once a full list (a `members` answer, a `created` event) was applied
    this.snapshotSeq = 0; // the list is known as of this seq: older events change nothing
    /** @type {Map<string, number>} username -> seq of the newest event applied to them */
    this.changedAt = new Map();
  }

  /**
   * Events may arrive out of order (a live push, then the sync that fills a gap): apply each change once, newest wins.
   * @param {string} username
   * @param {number} seq
   */
  fresh(username, seq) {
    return seq > (this.changedAt.get(username) ?? this.snapshotSeq);
  }

  /**
   * @param {string} username
   * @param {number} seq
   */
  mark(username, seq) {
    this.changedAt.set(username, seq);
  }

  get size() {
    return this.byName.size;
  }

  /** @param {string} username */
  get(username) {
    return this.byName.get(username) ?? null;
  }

  /** @param {string} username */
  has(username) {
    return this.byName.has(username);
  }

  list() {
    return [...this.byName.values()];
  }

  /**
   * @param {string} username
   * @param {number | null} [joinedSeq]
   * @returns {HeldMember}
   */
  ensure(username, joinedSeq = null) {
    let member = this.byName.get(username);
    if (!member) {
      member = { username, role: "member", joined_seq: joinedSeq, delivered_seq: 0, read_seq: 0, online: null, last_seen: null };
      this.byName.set(username, member);
    } else if (joinedSeq !== null && member.joined_seq === null) {
      member.joined_seq = joinedSeq;
    }
    return member;
  }

  /**
   * A receipt (push ``receipt`` or an ``R`` of a list): cursors move forward only.
   * @param {Partial<Receipt>} receipt
   */
  applyReceipt({ user, delivered_seq: delivered, read_seq: read, joined_seq: joined }) {
    if (typeof user !== "string") return false;
    // A receipt of someone who left (their last cursors move to their leave) does not bring them back.
    if (!this.byName.has(user) && (this.complete || this.changedAt.has(user))) return false;
    const joinedSeq = typeof joined === "number" && Number.isInteger(joined) ? joined : null;
    const member = this.ensure(user, joinedSeq);
    if (joinedSeq !== null) member.joined_seq = joinedSeq;
    const before = [member.delivered_seq, member.read_seq];
    member.read_seq = Math.max(member.read_seq, cursor(read));
    member.delivered_seq = Math.max(member.delivered_seq, cursor(delivered), member.read_seq);
    return member.delivered_seq !== before[0] || member.read_seq !== before[1];
  }

  /**
   * The ``members`` answer: the current members, all of them, as of ``asOfSeq`` (the log's end when it came).
   * @param {(Partial<Member> | null | undefined)[]} list
   */
  replaceAll(list, asOfSeq = 0) {
    /** @type {Map<string, HeldMember>} */
    const next = new Map();
    for (const item of list) {
      if (!item || typeof item.username !== "string") continue;
      const old = this.byName.get(item.username);
      /** @type {HeldMember} */
      const member = {
        username: item.username,
        role: isRole(item.role) ? item.role : "member",
        joined_seq: cursor(item.joined_seq),
        delivered_seq: Math.max(old?.delivered_seq ?? 0, cursor(item.delivered_seq)),
        read_seq: Math.max(old?.read_seq ?? 0, cursor(item.read_seq)),
        online: typeof item.online === "boolean" ? item.online : old?.online ?? null,
        last_seen: item.last_seen ?? old?.last_seen ?? null,
      };
      member.delivered_seq = Math.max(member.delivered_seq, member.read_seq);
      next.set(item.username, member);
    }
    this.byName = next;
    this.complete = true;
    this.snapshotSeq = Math.max(this.snapshotSeq, asOfSeq);
    this.changedAt.clear();
  }

  /**
   * A membership or role event changes who is in, or their role: returns true
   * if the list changed. Each member takes only changes newer than the last
   * one applied to them (or than the list's snapshot).
   * @param {Pick<Event, "kind" | "seq" | "sender"> & { data?: Event["data"] | null }} event
   */
  applyEvent(event) {
    const data = event.data ?? {};
    const seq = event.seq;
    /**
     * @param {unknown} name
     * @param {(name: string) => void} fn
     */
    const change = (name, fn) => {
      if (typeof name !== "string" || !this.fresh(name, seq)) return false;
      fn(name);
      this.mark(name, seq);
      return true;
    };
    let changed = false;
    switch (event.kind) {
      case "created": {
        const names = Array.isArray(data.members) ? data.members : [];
        for (const name of new Set([event.sender, ...names])) {
          changed = change(name, (founder) => {
            // Founders see the group from its `created` event.
            const member = this.ensure(founder, seq);
            member.joined_seq = seq;
            member.role = founder === event.sender ? "owner" : "member";
          }) || changed;
        }
        this.complete = true;
        break;
      }
      case "members_added":
        for (const name of Array.isArray(data.users) ? data.users : []) {
          changed = change(name, (added) => {
            const member = this.ensure(added, seq);
            member.joined_seq = seq;
            member.role = "member";
          }) || changed;
        }
        break;
      case "member_removed":
        changed = change(data.user, (name) => this.byName.delete(name));
        break;
      case "member_left":
        changed = change(event.sender, (name) => this.byName.delete(name));
        if (typeof data.new_owner === "string") changed = change(data.new_owner, (name) => { this.ensure(name).role = "owner"; }) || changed;
        break;
      case "role_changed":
        if (isRole(data.role)) {
          const role = data.role;
          changed = change(data.user, (name) => { this.ensure(name).role = role; });
        }
        break;
      default:
        return false;
    }
    return changed;
  }

  /**
   * @param {string} username
   * @param {boolean} online
   * @param {Time | null | undefined} lastSeen
   */
  setPresence(username, online, lastSeen) {
    const member = this.byName.get(username);
    if (!member) return false;
    member.online = online;
    member.last_seen = lastSeen ?? member.last_seen;
    return true;
  }

  /**
   * The members a message at ``seq`` by ``me`` waits for: the others who could see it.
   * @param {number} seq
   * @param {string | null} me
   */
  audience(seq, me) {
    return this.list().filter((m) => m.username !== me && (m.joined_seq ?? 0) <= seq);
  }

  /**
   * The status of my message at ``seq``: {status, readBy, deliveredTo, total}.
   * ``readBy``/``deliveredTo`` are usernames; ``total`` is how many it waits for.
   * @param {number} seq
   * @param {string | null} me
   * @returns {MessageStatus}
   */
  statusOf(seq, me) {
    const audience = this.audience(seq, me);
    const readBy = audience.filter((m) => m.read_seq >= seq).map((m) => m.username).sort();
    const deliveredTo = audience.filter((m) => m.delivered_seq >= seq).map((m) => m.username).sort();
    /** @type {MessageStatus["status"]} */
    let status = "sent";
    // An empty audience means "read" only once the list is known, not before it came.
    if (!audience.length && !this.complete) status = "sent";
    else if (readBy.length === audience.length) status = "read";
    else if (deliveredTo.length === audience.length) status = "delivered";
    return { status, readBy, deliveredTo, total: audience.length };
  }
}
