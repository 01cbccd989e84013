// @ts-check
// Drafts: a half-typed message kept per conversation, across reloads and
// moving between conversations, as WhatsApp keeps them. They live on this
// device only (localStorage), keyed by user and conversation, so two people
// sharing a browser never see each other's. A draft is cleared when its
// message is sent. The inbox row of a conversation not on screen shows
// "Draft: …".

const PREFIX = "linkup.draft";

/** @typedef {{ id?: number | null, peer?: string | null }} DraftTarget a conversation, or a direct chat by its peer */

export class Drafts {
  /**
   * ``storage``: localStorage, or a MemoryStorage where it is unavailable (private mode).
   * @param {Pick<Storage, "getItem" | "setItem" | "removeItem">} storage
   * @param {string} me the signed-in username
   */
  constructor(storage, me) {
    this.storage = storage;
    this.me = me;
  }

  /**
   * A conversation by id, or a direct chat not started yet by its peer's username.
   * @param {DraftTarget} target
   */
  key({ id = null, peer = null }) {
    if (id !== null && id !== undefined) return `${PREFIX}.${this.me}.c${id}`;
    if (peer) return `${PREFIX}.${this.me}.p:${peer}`;
    return null;
  }

  /** @param {DraftTarget} target */
  get(target) {
    const key = this.key(target);
    if (key === null) return "";
    try {
      return this.storage.getItem(key) ?? "";
    } catch {
      return "";
    }
  }

  /**
   * Keep ``text``; whitespace alone is no draft.
   * @param {DraftTarget} target
   * @param {string} text
   */
  set(target, text) {
    const key = this.key(target);
    if (key === null) return;
    try {
      if (text.trim()) this.storage.setItem(key, text);
      else this.storage.removeItem(key);
    } catch {
      // Storage full or refused: the draft lives as long as the text box.
    }
  }

  /** @param {DraftTarget} target */
  clear(target) {
    this.set(target, "");
  }

  /**
   * A direct chat got its conversation (its first message): its draft follows it.
   * @param {string} peer
   * @param {number} id
   */
  adopt(peer, id) {
    const text = this.get({ peer });
    if (!text) return;
    this.clear({ peer });
    if (!this.get({ id })) this.set({ id }, text);
  }
}
