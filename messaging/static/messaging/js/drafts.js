// @ts-check
// Drafts: a half-typed message kept per conversation, across reloads and
// moving between conversations, as WhatsApp keeps them. They live on this
// device only (localStorage), keyed by user and conversation, so two people
// sharing a browser never see each other's. A draft is cleared when its
// message is sent. The inbox row of a conversation not on screen shows
// "Draft: …".

const PREFIX = "linkup.draft";

export class Drafts {
  /** ``storage``: localStorage, or a MemoryStorage where it is unavailable (private mode). */
  constructor(storage, me) {
    this.storage = storage;
    this.me = me;
  }

  /** A conversation by id, or a direct chat not started yet by its peer's username. */
  key({ id = null, peer = null }) {
    if (id !== null && id !== undefined) return `${PREFIX}.${this.me}.c${id}`;
    if (peer) return `${PREFIX}.${this.me}.p:${peer}`;
    return null;
  }

  get(target) {
    const key = this.key(target);
    if (key === null) return "";
    try {
      return this.storage.getItem(key) ?? "";
    } catch {
      return "";
    }
  }

  /** Keep ``text``; whitespace alone is no draft. */
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

  clear(target) {
    this.set(target, "");
  }

  /** A direct chat got its conversation (its first message): its draft follows it. */
  adopt(peer, id) {
    const text = this.get({ peer });
    if (!text) return;
    this.clear({ peer });
    if (!this.get({ id })) this.set({ id }, text);
  }
}
