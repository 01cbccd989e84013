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

export const ACTION_KINDS = new Set(["edited", "deleted", "reaction_added", "reaction_removed"]);

function asOf(event) {
  return Number.isInteger(event.as_of) ? event.as_of : 0;
}

export class MessageStates {
  constructor() {
    this.bases = new Map(); // seq -> the message E with the newest state
    this.actions = new Map(); // target seq -> Map(seq -> action event)
    this.hidden = new Set(); // seqs I may not see (placeholders) or deleted for me
    this.clearedSeq = 0; // "clear chat": nothing up to here is shown
    this.views = new Map(); // seq -> cached view
  }

  /** Take one event of the log (any kind); returns the message seqs whose view may have changed. */
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
    if (!ACTION_KINDS.has(event.kind) || !Number.isInteger(event.target_seq)) return [];
    const target = event.target_seq;
    if (!this.actions.has(target)) this.actions.set(target, new Map());
    const held = this.actions.get(target);
    if (held.has(event.seq)) return [];
    held.set(event.seq, event);
    if (event.kind === "deleted") this.scrub(target);
    return this.changed([target, ...this.repliesTo(target)]);
  }

  changed(seqs) {
    for (const seq of seqs) this.views.delete(seq);
    return seqs;
  }

  /** A message deleted for everyone: nothing of its text stays in memory. */
  scrub(target) {
    for (const action of this.actions.get(target)?.values() ?? []) if (action.kind === "edited") action.content = "";
    const base = this.bases.get(target);
    if (base) this.bases.set(target, { ...base, content: "", deleted: true, reactions: [] });
  }

  repliesTo(target) {
    const seqs = [];
    for (const [seq, base] of this.bases) if (base.reply_to?.seq === target) seqs.push(seq);
    return seqs;
  }

  /** Delete for me (this tab or another of mine). */
  hide(seqs) {
    for (const seq of seqs) this.hidden.add(seq);
    return this.changed(seqs);
  }

  clear(seq) {
    if (!Number.isInteger(seq) || seq <= this.clearedSeq) return false;
    this.clearedSeq = seq;
    this.views.clear();
    return true;
  }

  /** Whether the message at ``seq`` is shown (held, not hidden, not cleared). */
  shown(seq) {
    return this.bases.has(seq) && !this.hidden.has(seq) && seq > this.clearedSeq;
  }

  /** Whether it counts as unread-able: shown and not deleted. */
  counts(seq) {
    return this.shown(seq) && !this.view(seq).deleted;
  }

  /**
   * The message as it is now: {seq, sender, content, deleted, edited_at,
   * reactions: [{emoji, users, count}], reply_to}, or null when not held.
   */
  view(seq) {
    if (this.views.has(seq)) return this.views.get(seq);
    const base = this.bases.get(seq);
    if (!base) return null;
    const view = this.fold(base, seq);
    this.views.set(seq, view);
    return view;
  }

  fold(base, seq) {
    let content = base.content ?? "";
    let deleted = Boolean(base.deleted);
    let editedAt = base.edited_at ?? null;
    const reactions = new Map();
    for (const r of base.reactions ?? []) reactions.set(r.emoji, { users: new Set(r.users ?? []), extra: Math.max(0, (r.count ?? 0) - (r.users ?? []).length) });
    const floor = Number.isInteger(base.as_of) ? base.as_of : seq;
    const actions = [...(this.actions.get(seq)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
    if (actions.some((a) => a.kind === "deleted")) deleted = true;
    if (!deleted) {
      for (const a of actions) {
        if (a.seq <= floor) continue;
        const emoji = a.data?.emoji;
        if (a.kind === "edited") {
          content = a.content;
          editedAt = a.created_at;
        } else if (a.kind === "reaction_added" && emoji) {
          if (!reactions.has(emoji)) reactions.set(emoji, { users: new Set(), extra: 0 });
          reactions.get(emoji).users.add(a.sender);
        } else if (a.kind === "reaction_removed" && emoji && reactions.has(emoji)) {
          const r = reactions.get(emoji);
          if (r.users.has(a.sender)) r.users.delete(a.sender);
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

  /** A reply's quote: from the original when held (so an edit or a deletion shows), else as the server gave it. */
  quote(reply) {
    if (!reply || !Number.isInteger(reply.seq)) return null;
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

  /** My newest message that is shown and not deleted (↑ in an empty composer edits it). */
  lastOf(user) {
    let best = null;
    for (const [seq, base] of this.bases) {
      if (base.sender === user && this.shown(seq) && !this.view(seq).deleted && (best === null || seq > best)) best = seq;
    }
    return best;
  }
}

const PREVIEW_LENGTH = 100;

export function preview(content) {
  const text = String(content ?? "").replace(/\s+/g, " ").trim();
  return text.length <= PREVIEW_LENGTH ? text : `${text.slice(0, PREVIEW_LENGTH - 1)}…`;
}
