// @ts-check
// The outbox: messages typed but not yet acknowledged, for every conversation
// of one user, persisted through an injected storage object (localStorage in
// the browser, a plain object in tests) so they survive reconnects, reloads
// and a sign-out. Each keeps its client_id for ever: a resend after a
// reconnect is the same message to the server, never a second one.

/**
 * One file of an entry while it uploads (protocol/uploads.js): ``id`` is the upload's once it is done.
 * @typedef {{ name: string, size: number, type: string, loaded: number, id: number | null, error: string | null,
 *   state: "waiting" | "uploading" | "retrying" | "done" | "failed" | "cancelled" }} OutboxFile
 */
/**
 * A message in the outbox: ``conversation``, or ``to`` for a direct chat not started yet; ``state``
 * "pending" (to send), "uploading" (its files first) or "failed" (``error`` says why).
 * @typedef {{ client_id: string, conversation: number | null, to: string | null, content: string,
 *   reply_to: number | null, created_at: string, state: "pending" | "uploading" | "failed", error: string | null,
 *   attachments?: number[], files?: OutboxFile[] }} OutboxEntry
 */
/** @typedef {Pick<Storage, "getItem" | "setItem" | "removeItem">} StorageLike */
/** @import { ClientFrame } from "./frames.js" */

/** @param {Pick<Crypto, "getRandomValues"> & { randomUUID?: () => string }} [cryptoImpl] */
export function newClientId(cryptoImpl = globalThis.crypto) {
  if (cryptoImpl?.randomUUID) {
    try {
      return cryptoImpl.randomUUID();
    } catch {
      // randomUUID needs a secure context; plain http on a LAN address is not one.
    }
  }
  const bytes = cryptoImpl.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A Storage-like object kept in memory: the fallback when localStorage is unavailable, and the tests'. */
export class MemoryStorage {
  constructor() {
    /** @type {Map<string, string>} */
    this.items = new Map();
  }

  /** @param {string} key */
  getItem(key) {
    return this.items.get(key) ?? null;
  }

  /**
   * @param {string} key
   * @param {string} value
   */
  setItem(key, value) {
    this.items.set(key, String(value));
  }

  /** @param {string} key */
  removeItem(key) {
    this.items.delete(key);
  }
}

/**
 * @param {any} e a stored entry, as parsed from JSON
 * @returns {e is OutboxEntry}
 */
function validEntry(e) {
  return e && typeof e.client_id === "string" && typeof e.content === "string"
    && (Number.isInteger(e.conversation) || typeof e.to === "string");
}

export class Outbox {
  /**
   * ``target`` of an entry: ``{conversation: id}`` or ``{to: username}`` (a direct chat not started yet).
   * @param {{ storage: StorageLike, key: string, makeId?: () => string, now?: () => Date }} options
   */
  constructor({ storage, key, makeId = newClientId, now = () => new Date() }) {
    this.storage = storage;
    this.key = key;
    this.makeId = makeId;
    this.now = now;
    this.entries = this.load();
  }

  /** @returns {OutboxEntry[]} */
  load() {
    try {
      const parsed = JSON.parse(this.storage.getItem(this.key) || "[]");
      return Array.isArray(parsed) ? parsed.filter(validEntry) : [];
    } catch {
      return [];
    }
  }

  save() {
    try {
      if (this.entries.length) this.storage.setItem(this.key, JSON.stringify(this.entries));
      else this.storage.removeItem(this.key);
    } catch {
      // Private mode or a full quota: the outbox still works for this page.
    }
  }

  all() {
    return [...this.entries];
  }

  pending() {
    return this.entries.filter((e) => e.state === "pending");
  }

  /** @param {string} clientId */
  get(clientId) {
    return this.entries.find((e) => e.client_id === clientId) ?? null;
  }

  /**
   * Entries meant for a conversation (by id, or by the peer of a direct chat not started yet).
   * @param {number | null} id
   * @param {string | null} [peer]
   */
  forConversation(id, peer = null) {
    return this.entries.filter((e) => (id !== null && e.conversation === id) || (peer !== null && e.conversation == null && e.to === peer));
  }

  /**
   * @param {{ conversation?: number | null, to?: string | null }} target
   * @param {string} content
   * @param {{ replyTo?: number | null }} [options]
   */
  add(target, content, { replyTo = null } = {}) {
    /** @type {OutboxEntry} */
    const entry = {
      client_id: this.makeId(),
      conversation: typeof target.conversation === "number" && Number.isInteger(target.conversation) ? target.conversation : null,
      to: target.to ?? null,
      content,
      reply_to: typeof replyTo === "number" && Number.isInteger(replyTo) ? replyTo : null,
      created_at: this.now().toISOString(),
      state: "pending",
      error: null,
    };
    this.entries.push(entry);
    this.save();
    return entry;
  }

  /**
   * @param {string} clientId
   * @param {Partial<OutboxEntry>} patch
   */
  update(clientId, patch) {
    const entry = this.get(clientId);
    if (!entry) return null;
    Object.assign(entry, patch);
    this.save();
    return entry;
  }

  /** @param {string} clientId */
  remove(clientId) {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.client_id !== clientId);
    if (this.entries.length === before) return false;
    this.save();
    return true;
  }

  /** The frame that sends (or resends) an entry over ws/chat/ (with the ids of its uploaded files, if any). */
  /**
   * @param {OutboxEntry} entry
   * @returns {Extract<ClientFrame, { type: "message" }>}
   */
  static frame(entry) {
    /** @type {Extract<ClientFrame, { type: "message" }>} */
    const frame = { type: "message", content: entry.content, client_id: entry.client_id };
    if (Array.isArray(entry.attachments) && entry.attachments.length) frame.attachments = [...entry.attachments];
    if (typeof entry.conversation === "number" && Number.isInteger(entry.conversation)) frame.conversation = entry.conversation;
    else frame.to = entry.to ?? undefined;
    if (typeof entry.reply_to === "number" && Number.isInteger(entry.reply_to)) frame.reply_to = entry.reply_to;
    return frame;
  }
}
