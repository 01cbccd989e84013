"""The SQL of a search: what a user may see, what they asked for, in the order they asked.

One statement per page, built here for the database in use. What a user may
see (the security boundary) is the same on both databases and comes first:

- only entries of conversations the searcher is (or was) a member of, joined
  on their ``Participant`` row ``p``;
- inside the member's window: ``p.joined_seq <= seq <= p.left_seq`` (no
  upper bound while they are a member);
- not hidden for them: :func:`hidden_for_member` (the "delete for me" /
  "clear chat" rule of the message actions, as ``store/visibility.py``);
- deleted messages are not there at all: deleting or purging a message
  removes its entry in the same transaction (the event triggers); archived
  messages are, with the ids they had.

Then the needles, two ways to the same rows:

- **by the index** (:func:`by_index`): SQLite's FTS5 trigram table gives the
  entries whose search text contains every needle, newest first, and the
  window is checked for each until the page is full; PostgreSQL's GIN index
  narrows to the entries holding every needle's lexemes and ``strpos``
  checks each needle exactly. Best when the searcher sees many messages.
- **by the searcher's messages** (:func:`by_member`): walk the entries of
  the searcher's own windows (the ``(conversation, seq)`` index) and test
  each needle with ``instr``/``strpos``. Best when they see few messages:
  its cost is bounded by what they can see, however common the word is
  elsewhere.
- **by the sender** (:func:`by_sender`, ``from:`` only): walk the senders'
  entries newest first (the ``(sender, event_id)`` index) in the
  conversations the searcher shares with them, testing each needle. Its
  cost is bounded by what those senders wrote, however common the word and
  however many messages the searcher sees.

:mod:`messaging.store.search` picks one from the size of the searcher's
windows and the query; all return exactly the same rows.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from .index import FTS, TRIGRAM, quote_lexeme
from .query import Needle

ENTRY = "messaging_searchentry"
HIDDEN = "messaging_hiddenmessage"
ATTACHMENT = "messaging_attachment"
MEMBER = "messaging_participant"


@dataclass
class Filters:
    """A page's conditions beyond the needles, resolved to ids."""

    user_id: int
    senders: list[int] | None = None
    conversations: list[int] | None = None
    after: datetime.datetime | None = None
    before: datetime.datetime | None = None
    #: entries with an id below this (newest-first paging)
    below: int | None = None
    #: entries with an id at least this (one step of the sender walk: :func:`sender_step`)
    above: int | None = None
    #: ``has:attachment``: only messages that carry files
    with_attachments: bool = False
    params: list[Any] = field(default_factory=list)


def hidden_for_member() -> tuple[str, list[Any]]:
    """SQL over ``p`` (the searcher's ``Participant``) and ``se`` (the entry): true for a message hidden for them.

    The same rule as :mod:`messaging.store.visibility`: everything up to the
    member's ``cleared_seq`` ("clear chat"), and the messages they deleted
    for themself (``HiddenMessage`` rows).
    """
    return (
        f"se.seq <= p.cleared_seq OR EXISTS (SELECT 1 FROM {HIDDEN} h "
        "WHERE h.conversation_id = se.conversation_id AND h.user_id = p.user_id AND h.seq = se.seq)",
        [],
    )


def _visible(filters: Filters) -> tuple[list[str], list[Any]]:
    where = [
        "se.seq >= p.joined_seq",
        "(p.left_seq IS NULL OR se.seq <= p.left_seq)",
    ]
    params: list[Any] = []
    hidden, hidden_params = hidden_for_member()
    if hidden:
        where.append(f"NOT ({hidden})")
        params += hidden_params
    if filters.senders is not None:
        where.append(f"se.sender_id IN ({', '.join(['%s'] * len(filters.senders))})")
        params += filters.senders
    if filters.conversations is not None:
        where.append(f"se.conversation_id IN ({', '.join(['%s'] * len(filters.conversations))})")
        params += filters.conversations
    adapt = connection.ops.adapt_datetimefield_value
    if filters.after is not None:
        where.append("se.created_at >= %s")
        params.append(adapt(filters.after))
    if filters.before is not None:
        where.append("se.created_at < %s")
        params.append(adapt(filters.before))
    if filters.below is not None:
        where.append("se.event_id < %s")
        params.append(filters.below)
    if filters.above is not None:
        where.append("se.event_id >= %s")
        params.append(filters.above)
    if filters.with_attachments:
        where.append(f"EXISTS (SELECT 1 FROM {ATTACHMENT} a WHERE a.event_id = se.event_id)")
    return where, params


def _needles_exact(needles: list[Needle]) -> tuple[list[str], list[Any]]:
    """Each needle checked in the search text itself (what both plans end with)."""
    function = "strpos(se.text, %s) > 0" if connection.vendor == "postgresql" else "instr(se.text, %s) > 0"
    return [function] * len(needles), [n.text for n in needles]


COLUMNS = "se.event_id, se.conversation_id, se.seq, se.sender_id, se.created_at, se.text"


def by_member(needles: list[Needle], filters: Filters, limit: int | None) -> tuple[str, list[Any]]:
    """Newest first, from the searcher's windows; ``limit`` None: every match (for counting)."""
    where, params = _visible(filters)
    exact, exact_params = _needles_exact(needles)
    sql = (
        f"SELECT {COLUMNS} FROM {MEMBER} p JOIN {ENTRY} se ON se.conversation_id = p.conversation_id "
        f"WHERE p.user_id = %s AND {' AND '.join(where + exact)} ORDER BY se.event_id DESC"
    )
    params = [filters.user_id, *params, *exact_params]
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    return sql, params


def by_sender(needles: list[Needle], filters: Filters, limit: int | None) -> tuple[str, list[Any]]:
    """Newest first, from the senders' entries (``filters.senders`` must be set); the window checked for each."""
    assert filters.senders is not None, "the sender plan is for from: searches"
    where, params = _visible(filters)
    exact, exact_params = _needles_exact(needles)
    sql = (
        f"SELECT {COLUMNS} FROM {ENTRY} se JOIN {MEMBER} p ON p.conversation_id = se.conversation_id AND p.user_id = %s "
        f"WHERE {' AND '.join(where + exact)} ORDER BY se.event_id DESC"
    )
    params = [filters.user_id, *params, *exact_params]
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    return sql, params


def sender_step(filters: Filters, limit: int) -> tuple[str, list[Any]]:
    """The ids of the senders' next ``limit`` entries below ``filters.below``, newest first.

    Only the ``(sender, event_id)`` index is read (no table row), so a step
    costs the same however common the needles are. :mod:`messaging.store.search`
    then reads the step's range ``[last id, below)`` with :func:`by_sender`:
    bounded that way, PostgreSQL's plan reads at most the step's entries, where
    unbounded (``LIMIT`` 21 or 101, every own message of a busy sender
    visible) it read all of the sender's entries through a bitmap and sorted
    them, or walked the whole table's primary key (docs/benchmark.md, "Third round").
    """
    assert filters.senders is not None, "the sender walk is for from: searches"
    sql = f"SELECT se.event_id FROM {ENTRY} se WHERE se.sender_id IN ({', '.join(['%s'] * len(filters.senders))})"
    params: list[Any] = list(filters.senders)
    if filters.below is not None:
        sql += " AND se.event_id < %s"
        params.append(filters.below)
    sql += " ORDER BY se.event_id DESC LIMIT %s"
    params.append(limit)
    return sql, params


def by_index(needles: list[Needle], filters: Filters, limit: int | None) -> tuple[str, list[Any]]:
    """Newest first, from the full-text index; the window checked for each candidate."""
    where, params = _visible(filters)
    if connection.vendor == "postgresql":
        exact, exact_params = _needles_exact(needles)
        sql = (
            f"SELECT {COLUMNS} FROM {ENTRY} se JOIN {MEMBER} p ON p.conversation_id = se.conversation_id AND p.user_id = %s "
            f"WHERE se.vector @@ %s::tsquery AND {' AND '.join(where + exact)} ORDER BY se.event_id DESC"
        )
        params = [filters.user_id, tsquery(needles), *params, *exact_params]
    else:
        sql = (
            f"SELECT {COLUMNS} FROM {FTS} f JOIN {ENTRY} se ON se.event_id = f.rowid "
            f"JOIN {MEMBER} p ON p.conversation_id = se.conversation_id AND p.user_id = %s "
            f"WHERE f.{FTS} MATCH %s AND {' AND '.join(where)} ORDER BY f.rowid DESC"
        )
        params = [filters.user_id, fts_match(needles), *params]
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    return sql, params


def candidates_estimate(needles: list[Needle]) -> tuple[str, list[Any]]:
    """PostgreSQL only: the plan of reading every entry the GIN index gives for the needles (to ``EXPLAIN``, never run).

    Its estimated rows say how many candidates a bitmap of the word reads:
    :mod:`messaging.store.search` reads a first page's total in steps only
    when there are many (see ``_reads_in_steps`` there).
    """
    return f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {ENTRY} se WHERE se.vector @@ %s::tsquery", [tsquery(needles)]


#: each way of reading a page, by the name :mod:`messaging.store.search` gives it
PLANS = {"member": by_member, "index": by_index, "sender": by_sender}


def fts_match(needles: list[Needle]) -> str:
    """The FTS5 query: every needle as a quoted string (a trigram phrase: exactly a substring).

    Needles hold folded words and spaces only, never a double quote, so
    nothing a user types reaches FTS5's own syntax.
    """
    return " AND ".join('"' + n.text.replace('"', '""') + '"' for n in needles)


def tsquery(needles: list[Needle]) -> str:
    """The PostgreSQL query that narrows to candidates: per word of a needle, what the vector must hold.

    A word bounded by spaces on both sides is a lexeme; one open at its end
    only (a prefix) is a prefix lexeme (``'deplo':*``); one open at its
    start may sit inside a longer word, so its trigrams stand for it. The
    needles themselves are then checked exactly (``strpos``).
    """
    parts: list[str] = []
    for needle in needles:
        found = needle.words
        for index, word in enumerate(found):
            open_start = index == 0 and needle.open_start
            open_end = index == len(found) - 1 and needle.open_end
            if open_start:
                parts += [quote_lexeme(TRIGRAM + word[i : i + 3]) for i in range(len(word) - 2)]
            elif open_end:
                parts.append(quote_lexeme(word) + ":*")
            else:
                parts.append(quote_lexeme(word))
    return " & ".join(dict.fromkeys(parts)) or "''"
