// @ts-check
// One conversation's log as this client holds it: events by seq, and the
// contiguous cursor that `sync` and `resume` continue from.
//
// The cursor is "accounted for up to": once anchored (at a history page's
// newest seq, a sync's `after`, or the user's delivered cursor for a
// conversation only shown in the sidebar), every event in (anchor, cursor] is
// held. Older events come from `history` pages, which are contiguous from the
// top down, so what a chat shows is [oldest loaded, cursor] without holes.
// An event above the cursor that is not the next one means a push was lost:
// `hasGap` says so and the client syncs from the cursor.
// No DOM here: this runs under `node --test` as it is.

export class ConversationLog {
  constructor() {
    /** @type {Map<number, import("./frames.js").Event>} */
    this.events = new Map(); // seq -> E
    /** @type {number | null} */
    this.cursor = null; // null until anchored
    this.highest = 0; // the highest seq held
    /** @type {number | null} */
    this.oldest = null; // the lowest seq held
    this.hasOlder = true; // false once a history page said there is nothing before
    /** @type {number | null} */
    this.floor = null; // the lowest seq the newest history pages reach down to: "load older" continues below it
  }

  get anchored() {
    return this.cursor !== null;
  }

  get size() {
    return this.events.size;
  }

  /** @param {number} seq */
  has(seq) {
    return this.events.has(seq);
  }

  /** @param {number} seq */
  get(seq) {
    return this.events.get(seq);
  }

  /**
   * Start counting from ``seq`` if not counting yet; returns whether it anchored.
   * @param {number} seq
   */
  anchor(seq) {
    if (this.anchored) return false;
    this.cursor = Math.max(0, seq);
    this.advance();
    return true;
  }

  /**
   * Store events (any order, repeats ignored); returns the ones not held before, in seq order.
   * @param {Iterable<import("./frames.js").Event | null | undefined>} events
   */
  add(events) {
    /** @type {import("./frames.js").Event[]} */
    const fresh = [];
    for (const event of events) {
      if (!event || !Number.isInteger(event.seq) || this.events.has(event.seq)) continue;
      this.events.set(event.seq, event);
      fresh.push(event);
      if (event.seq > this.highest) this.highest = event.seq;
      if (this.oldest === null || event.seq < this.oldest) this.oldest = event.seq;
    }
    fresh.sort((a, b) => a.seq - b.seq);
    this.advance();
    return fresh;
  }

  /**
   * Replace a held event (same seq) with a newer copy of it, e.g. from an ack.
   * @param {import("./frames.js").Event} event
   */
  replace(event) {
    if (this.events.has(event.seq)) this.events.set(event.seq, event);
  }

  advance() {
    let cursor = this.cursor;
    if (cursor === null) return;
    while (this.events.has(cursor + 1)) cursor += 1;
    this.cursor = cursor;
  }

  /** Something is held above the cursor, or the server said the log goes further. */
  hasGap(knownLastSeq = 0) {
    const cursor = this.cursor;
    if (cursor === null) return false;
    return this.highest > cursor || knownLastSeq > cursor;
  }

  /**
   * Every seq in [from, to] is held (a bounded check; false when the range is huge).
   * @param {number} from
   * @param {number} to
   */
  covers(from, to, limit = 5000) {
    if (to < from) return true;
    if (to - from > limit) return false;
    for (let seq = from; seq <= to; seq += 1) if (!this.events.has(seq)) return false;
    return true;
  }

  /** Held events in seq order (optionally only those with ``seq > after``). */
  ordered(after = 0) {
    return [...this.events.values()].filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq);
  }

  /**
   * A history page came in: remember whether anything is older than what is held.
   * @param {Iterable<import("./frames.js").Event | null | undefined>} events
   * @param {boolean | undefined} hasMore
   */
  olderPage(events, hasMore) {
    const fresh = this.add(events);
    this.hasOlder = Boolean(hasMore);
    return fresh;
  }
}
