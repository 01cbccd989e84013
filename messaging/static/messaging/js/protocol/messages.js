// @ts-check
// The state of one conversation's messages as this client knows it: what
// was edited, deleted (for everyone, or for me), reacted to, and what a
// reply quotes (docs/protocol.md, "Message actions"). No DOM.
//
// The server gives each message in a state folded up to a seq, ``as_of``
// (a history, sync or resume page; a new message is its own state). Edits,
// deletions and reactions are events of the log naming their message in
// ``target_seq``; they may arrive in any order, late or twice (a live push
// before the sync that fills a gap). So the view of a message is always
// recomputed: the newest state given, then every action held with a higher
// seq, in seq order. A deletion is final, and its text is dropped from every
// copy held here.

/** @import { Event, Reaction, ReplyQuote } from "./frames.js" */
/** @typedef {ReplyQuote & { held: boolean }} Quote a reply's quote, ``held`` when made from the original held here */
/**
 * A message as it is now (:meth:`MessageStates.view`).
 * @typedef {{ seq: number, sender: string | null, created_at: string, client_id: string | null | undefined,
 *   content: string, deleted: boolean, edited_at: string | null, reactions: Reaction[], reply_to: Quote | null }} MessageView
 */

/** @type {Set<string>} */
export const ACTION_KINDS = new Set(["edited", "deleted", "reaction_added", "reaction_removed"]);

/** @param {Event} event */
function asOf(event) {
  return typeof event.as_of === "number" && Number.isInteger(event.as_of) ? event.as_of : 0;
}

export class MessageStates {
  constructor() {
    /** @type {Map<number, Event>} seq -> the message E with the newest state */
    this.bases = new Map();
    /** @type {Map<number, Map<number, Event>>} target seq -> (seq -> action event) */
    this.actions = new Map();
    /** @type {Set<number>} seqs I may not see (placeholders) or deleted for me */
    this.hidden = new Set();
    this.clearedSeq = 0; // "clear chat": nothing up to here is shown
    /** @type {Map<number, MessageView>} seq -> cached view */
    this.views = new Map();
  }

  /**
   * Take one event of the log (any kind); returns the message seqs whose view may have changed.
   * @param {Event | null | undefined} event
   * @returns {number[]}
   */
  take(event) {
    if (!event || !Number.isInteger(event.seq)) return [];
    if (event.hidden) {
      this.hidden.add(event.seq);
      this.bases.delete(event.seq);
      return this.changed([event.seq]);
    }
    if (event.kind === "message") {
      const held = this.bases.get(event.seq);
      if (held && asOf(event) < asOf(held) && !event.deleted) return [];
      this.bases.set(event.seq, held?.deleted ? { ...event, content: "", deleted: true, reactions: [] } : event);
      return this.changed([event.seq]);
    }
    const target = event.target_seq;
    if (!ACTION_KINDS.has(event.kind) || typeof target !== "number" || !Number.isInteger(target)) return [];
    let held = this.actions.get(target);
    if (!held) {
      held = new Map();
      this.actions.set(target, held);
    }
    if (held.has(event.seq)) return [];
    held.set(event.seq, event);
    if (event.kind === "deleted") this.scrub(target);
    return this.changed([target, ...this.repliesTo(target)]);
  }

  /**
   * @param {number[]} seqs
   * @returns {number[]}
   */
  changed(seqs) {
    for (const seq of seqs) this.views.delete(seq);
    return seqs;
  }

  /**
   * A message deleted for everyone: nothing of its text stays in memory.
   * @param {number} target
   */
  scrub(target) {
    for (const action of this.actions.get(target)?.values() ?? []) if (action.kind === "edited") action.content = "";
    const base = this.bases.get(target);
    if (base) this.bases.set(target, { ...base, content: "", deleted: true, reactions: [] });
  }

  /** @param {number} target */
  repliesTo(target) {
    /** @type {number[]} */
    const seqs = [];
    for (const [seq, base] of this.bases) if (base.reply_to?.seq === target) seqs.push(seq);
    return seqs;
  }

  /**
   * Delete for me (this tab or another of mine).
   * @param {number[]} seqs
   */
  hide(seqs) {
    for (const seq of seqs) this.hidden.add(seq);
    return this.changed(seqs);
  }

  /** @param {number} seq */
  clear(seq) {
    if (!Number.isInteger(seq) || seq <= this.clearedSeq) return false;
    this.clearedSeq = seq;
    this.views.clear();
    return true;
  }

  /**
   * Whether the message at ``seq`` is shown (held, not hidden, not cleared).
   * @param {number} seq
   */
  shown(seq) {
    return this.bases.has(seq) && !this.hidden.has(seq) && seq > this.clearedSeq;
  }

  /**
   * Whether it counts as unread-able: shown and not deleted.
   * @param {number} seq
   */
  counts(seq) {
    return this.shown(seq) && !this.view(seq)?.deleted;
  }

  /**
   * The message as it is now: {seq, sender, content, deleted, edited_at,
   * reactions: [{emoji, users, count}], reply_to}, or null when not held.
   * @param {number} seq
   * @returns {MessageView | null}
   */
  view(seq) {
    const cached = this.views.get(seq);
    if (cached) return cached;
    const base = this.bases.get(seq);
    if (!base) return null;
    const view = this.fold(base, seq);
    this.views.set(seq, view);
    return view;
  }

  /**
   * @param {Event} base
   * @param {number} seq
   * @returns {MessageView}
   */
  fold(base, seq) {
    let content = base.content ?? "";
    let deleted = Boolean(base.deleted);
    let editedAt = base.edited_at ?? null;
    /** @type {Map<string, { users: Set<string>, extra: number }>} */
    const reactions = new Map();
    for (const r of base.reactions ?? []) reactions.set(r.emoji, { users: new Set(r.users ?? []), extra: Math.max(0, (r.count ?? 0) - (r.users ?? []).length) });
    const floor = typeof base.as_of === "number" && Number.isInteger(base.as_of) ? base.as_of : seq;
    const actions = [...(this.actions.get(seq)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
    if (actions.some((a) => a.kind === "deleted")) deleted = true;
    if (!deleted) {
      for (const a of actions) {
        if (a.seq <= floor) continue;
        // A reaction always has its sender (only a placeholder has none, and it is no action).
        const emoji = a.sender === null ? undefined : a.data?.emoji;
        const sender = a.sender ?? "";
        if (a.kind === "edited") {
          content = a.content;
          editedAt = a.created_at;
        } else if (a.kind === "reaction_added" && emoji) {
          let r = reactions.get(emoji);
          if (!r) {
            r = { users: new Set(), extra: 0 };
            reactions.set(emoji, r);
          }
          r.users.add(sender);
        } else if (a.kind === "reaction_removed" && emoji && reactions.has(emoji)) {
          const r = reactions.get(emoji);
          if (!r) continue;
          if (r.users.has(sender)) r.users.delete(sender);
          else r.extra = Math.max(0, r.extra - 1);
        }
      }
    }
    if (deleted) {
      content = "";
      editedAt = null;
      reactions.clear();
    }
    const list = [...reactions]
      .map(([emoji, r]) => ({ emoji, users: [...r.users], count: r.users.size + r.extra }))
      .filter((r) => r.count > 0);
    return {
      seq,
      sender: base.sender,
      created_at: base.created_at,
      client_id: base.client_id,
      content,
      deleted,
      edited_at: editedAt,
      reactions: list,
      reply_to: this.quote(base.reply_to),
    };
  }

  /**
   * A reply's quote: from the original when held (so an edit or a deletion shows), else as the server gave it.
   * @param {ReplyQuote | null | undefined} reply
   * @returns {Quote | null}
   */
  quote(reply) {
    if (!reply || !Number.isInteger(reply.seq)) return null;
    /** @type {MessageView | null} */
    const original = this.bases.has(reply.seq) ? this.view(reply.seq) : null;
    if (original) {
      return { seq: reply.seq, sender: original.sender, preview: original.deleted ? "" : preview(original.content), deleted: original.deleted, held: true };
    }
    const actions = [...(this.actions.get(reply.seq)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
    let { preview: text = null, deleted = false } = reply;
    for (const a of actions) {
      if (a.kind === "deleted") deleted = true;
      else if (a.kind === "edited" && text !== null) text = preview(a.content);
    }
    return { seq: reply.seq, sender: reply.sender ?? null, preview: deleted ? "" : text, deleted, held: false };
  }

  /**
   * My newest message that is shown and not deleted (↑ in an empty composer edits it).
   * @param {string | null} user
   */
  lastOf(user) {
    /** @type {number | null} */
    let best = null;
    for (const [seq, base] of this.bases) {
      if (base.sender === user && this.shown(seq) && !this.view(seq)?.deleted && (best === null || seq > best)) best = seq;
    }
    return best;
  }
}

const PREVIEW_LENGTH = 100;

/** @param {string | null | undefined} content */
export function preview(content) {
  const text = String(content ?? "").replace(/\s+/g, " ").trim();
  return text.length <= PREVIEW_LENGTH ? text : `${text.slice(0, PREVIEW_LENGTH - 1)}…`;
}
