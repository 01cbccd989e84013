"""Searching messages: the one face of the search index, whichever database holds it.

:func:`search` answers one page of a query for one user; nothing outside this
package knows whether SQLite's FTS5 or PostgreSQL's GIN index answered it.
The pieces:

- :mod:`.text`: a message's *search text* (folded words between spaces),
  the string every query is matched against;
- :mod:`.query`: the query language, parsed into *needles* (substrings the
  search text must contain) and filters;
- :mod:`.plan`: the SQL, with the visibility rule first;
- :mod:`.index`: the queue the event triggers fill, drained into entries;
- :mod:`.indexer`: the thread that drains it in each server process;
- :mod:`.snippets`: snippets, highlight offsets and relevance scores.

Every function here is one short read (a search first drains what is left
in the queue, in its own short transaction) and raises :mod:`..errors`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection

from ... import conf
from ...connection_validator import DEFAULT_SEARCH_PAGE as DEFAULT_PAGE
from ...connection_validator import MAX_SEARCH_PAGE as MAX_PAGE
from ...connection_validator import SEARCH_COUNTS as COUNTS
from ...connection_validator import SEARCH_SORTS as SORTS
from ...error_models import ErrorCategory
from ...logging_utils import messaging_logger
from ...models import ArchivedEvent, Conversation, Event, NotificationPreference, Participant, SearchQueue
from ..errors import Invalid, LimitExceeded
from ..users import User
from . import index, plan
from .query import Query, QueryError, parse
from .snippets import Snippet, score, snippet

#: above this many events in a searcher's windows, the index finds their
#: matches faster than reading their messages one by one (measured on the
#: corpus benchmark: docs/benchmark.md, "Search")
MEMBER_SCAN_LIMIT = 5000
#: a relevance sort ranks this many of the newest matches (ranking every
#: match of a common word would read them all)
RANK_WINDOW = 500
#: the first page's total is counted up to this many matches, then given as
#: "more than" (``count="exact"`` counts every match: on request only, as
#: counting a common word's matches costs more than the page itself)
COUNT_CAP = 100
#: the sender walk's first step, in entries of the senders (each next step 4 times more): see :func:`_walk_senders`
SENDER_STEP = 1000
#: on PostgreSQL, a first page by the index reads its total in page-sized steps
#: when the GIN index gives more candidates than this (its planner's estimate),
#: else in one read (docs/benchmark.md, "Third round")
STEP_ABOVE_CANDIDATES = 10_000
#: on PostgreSQL, a word the GIN index gives more than STEP_ABOVE_CANDIDATES
#: candidates for is read from the searcher's own messages up to this many
#: events in their windows: finding a page of a word in ~10% of the messages
#: through the index means walking candidates mostly in other people's
#: conversations (1M messages, a searcher of 23,009 events: 466 ms by the
#: index, 83 ms by their messages; at 37,447 the index wins, 51 against 95:
#: docs/benchmark.md, "Fourth round")
COMMON_WORD_MEMBER_LIMIT = 30_000
#: queued messages a search indexes before it reads, the newest (the indexer does the rest)
DRAIN_ON_SEARCH = 200


@dataclass(frozen=True)
class Hit:
    """One message found: where it is, who wrote it when, and its snippet."""

    event_id: int
    conversation_id: int
    seq: int
    sender: str
    created_at: datetime.datetime
    snippet: Snippet
    score: float | None = None


@dataclass(frozen=True)
class Total:
    """How many messages match: ``exact``, or more than ``count`` (a first page's capped count)."""

    count: int
    exact: bool


@dataclass(frozen=True)
class ConversationName:
    """What a result list needs to name a conversation: a group's title, a direct chat's peer."""

    id: int
    kind: str
    title: str | None
    peer: str | None


@dataclass
class SearchPage:
    hits: list[Hit]
    next: str | None
    total: Total | None
    query: Query
    #: the conversations of the hits, for naming them
    conversations: list[ConversationName] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: which way the page was read ("index" or "member"), for the benchmark and the logs
    plan: str = ""


def search(
    user: User,
    text: str,
    *,
    cursor: str | None = None,
    sort: str = "newest",
    limit: int = DEFAULT_PAGE,
    count: str = "estimate",
    force_plan: str | None = None,
) -> SearchPage:
    """One page of the messages ``user`` may see that match ``text``, newest first or by relevance.

    ``cursor`` is the ``next`` of the previous page (same text and sort).
    The total: with ``count="estimate"`` (the default) on the first page
    only, from the page's own read of up to :data:`COUNT_CAP` + 1 matches
    (exact up to the cap, else "more than"); with ``count="exact"`` on any
    page, every match counted (:func:`_count`).
    """
    query = _parse(user, text)
    if sort not in SORTS:
        raise Invalid(f"'sort' must be one of {', '.join(SORTS)}")
    if count not in COUNTS:
        raise Invalid(f"'count' must be one of {', '.join(COUNTS)}")
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"'limit' must be from 1 to {MAX_PAGE}")
    _catch_up()
    page = SearchPage([], None, None, query)
    filters = _filters(user, query, page.warnings)
    if filters is None:
        page.total = Total(0, True)
        return page
    position = _decode_cursor(cursor, sort)
    page.plan = force_plan or _choose_plan(user.pk, query, filters)
    if page.plan == "sender" and filters.senders is None:
        raise Invalid("the sender plan needs from:")
    first = position is None and count == "estimate"
    if sort == "newest":
        filters.below = position[1] if position else None
        if first and not _reads_in_steps(page.plan, query):
            rows = _rows(query, filters, max(limit, COUNT_CAP) + 1, page.plan)
            found: Sequence[tuple[tuple[Any, ...], float | None]] = [(row, None) for row in rows[: limit + 1]]
        else:
            rows = _rows(query, filters, limit + 1, page.plan)
            found = [(row, None) for row in rows]
            if first and len(rows) > limit:
                rows = rows + _more_matches(query, filters, page.plan, rows[-1][0], COUNT_CAP + 1 - len(rows))
    else:
        rows = _rows(query, filters, RANK_WINDOW, page.plan)
        ranked = sorted(((row, score(row[5], query.needles)) for row in rows), key=lambda item: (-item[1], -item[0][0]))
        if position is not None:
            ranked = [(row, s) for row, s in ranked if (-s, -row[0]) > (-position[0], -position[1])]
        found = ranked[: limit + 1]
    has_more = len(found) > limit
    found = found[:limit]
    page.hits = _hits(found, query)
    if has_more and page.hits:
        last = found[-1]
        page.next = _encode_cursor(sort, last[1] or 0.0, last[0][0])
    if first:
        page.total = Total(len(rows), True) if len(rows) <= COUNT_CAP else Total(COUNT_CAP, False)
    elif count == "exact":
        page.total = _count(query, filters, page.plan)
    page.conversations = _conversations(user.pk, {h.conversation_id for h in page.hits})
    return page


def _parse(user: User, text: str) -> Query:
    limit = conf.int_setting("MESSAGING_SEARCH_MAX_QUERY_LENGTH")
    if len(text) > limit:
        raise LimitExceeded(
            f"the query is over {limit} characters", setting="MESSAGING_SEARCH_MAX_QUERY_LENGTH", limit=limit
        )
    try:
        query = parse(text, me=user.get_username(), time_zone=_time_zone(user.pk))
    except QueryError as exc:
        raise Invalid(str(exc)) from None
    if query.empty:
        raise Invalid('type something to search for: words, "a phrase", from:someone, in:a-conversation')
    terms = conf.int_setting("MESSAGING_SEARCH_MAX_TERMS")
    used = len(query.needles) + len(query.senders) + len(query.conversations)
    if used > terms:
        raise LimitExceeded(
            f"the query has {used} terms; at most {terms}", setting="MESSAGING_SEARCH_MAX_TERMS", limit=terms
        )
    return query


def _time_zone(user_id: int) -> str:
    """The zone ``before:``/``after:`` dates are days of: the one the user set for their notifications."""
    zone = NotificationPreference.objects.filter(user_id=user_id).values_list("timezone", flat=True).first()
    return zone or "UTC"


def _catch_up() -> None:
    """Index what is still queued (a searcher sees the message they just sent); never fails the search."""
    try:
        if SearchQueue.objects.exists():
            index.drain(DRAIN_ON_SEARCH, newest_first=True)
    except DatabaseError as exc:
        messaging_logger.error(ErrorCategory.DATABASE_ERROR, "a search could not index the queued messages", exc=exc)


def _filters(user: User, query: Query, warnings: list[str]) -> plan.Filters | None:
    """The query's filters as ids; None when they cannot match anything (the reason in ``warnings``)."""
    filters = plan.Filters(user.pk, after=query.after, before=query.before, with_attachments="attachment" in query.has)
    if query.after and query.before and query.after >= query.before:
        warnings.append("the dates leave no time between after: and before:")
        return None
    if query.senders:
        users = get_user_model()
        field_name = users.USERNAME_FIELD
        found = dict(users.objects.filter(**{f"{field_name}__in": query.senders}).values_list(field_name, "pk"))
        for name in query.senders:
            if name not in found:
                match = users.objects.filter(**{f"{field_name}__iexact": name}).values_list(field_name, "pk").first()
                if match is not None:
                    found[match[0]] = match[1]
                else:
                    warnings.append(f"from:{name}: there is no one called {name!r}")
        if not found:
            return None
        filters.senders = sorted(set(found.values()))
    if query.conversations:
        ids: set[int] = set()
        for value in query.conversations:
            matched = _conversations_named(user, value)
            if not matched:
                warnings.append(f"in:{value}: none of your conversations is called that")
            ids |= matched
        if not ids:
            return None
        filters.conversations = sorted(ids)
    if filters.senders is not None:
        shared = _shared_conversations(user.pk, filters.senders)
        if filters.conversations is not None:
            shared &= set(filters.conversations)
        if not shared:
            return None
        if filters.conversations is not None or len(shared) < Participant.objects.filter(user_id=user.pk).count():
            # (all of the searcher's own conversations, as for from:me, narrow
            # nothing: a list of thousands would only slow the plans down)
            filters.conversations = sorted(shared)
    return filters


def _shared_conversations(user_id: int, senders: list[int]) -> set[int]:
    """The conversations the searcher shares with any of ``senders``: the only ones a ``from:`` hit can be in.

    A message's sender is (or was) a member of its conversation, so this
    narrows a ``from:`` search to a few conversations before any message is
    read: without it, a busy sender plus a common word read every entry of
    the word (or of the sender) to keep the few in the searcher's windows
    (docs/benchmark.md, "Issue 16").
    """
    theirs = Participant.objects.filter(user_id__in=senders).values("conversation_id")
    return set(
        Participant.objects.filter(user_id=user_id, conversation_id__in=theirs).values_list(
            "conversation_id", flat=True
        )
    )


def _conversations_named(user: User, value: str) -> set[int]:
    """The user's conversations ``in:value`` names: an id, the direct chat with a username, or groups with that title."""
    mine = Participant.objects.filter(user_id=user.pk)
    if value.isascii() and value.isdigit():
        return set(mine.filter(conversation_id=int(value)).values_list("conversation_id", flat=True))
    name = value.lstrip("@")
    direct = set(
        Participant.objects.filter(
            conversation__in=mine.values("conversation_id"),
            conversation__kind=Conversation.Kind.DIRECT,
            user__username__iexact=name,
        )
        .exclude(user_id=user.pk)
        .values_list("conversation_id", flat=True)
    )
    groups = set(
        mine.filter(conversation__kind=Conversation.Kind.GROUP, conversation__title__iexact=value).values_list(
            "conversation_id", flat=True
        )
    )
    return direct | groups


def _choose_plan(user_id: int, query: Query, filters: plan.Filters) -> str:
    """``member`` when the searcher's windows (in the conversations the query narrows to) are small, or
    there is no word to look up, or (PostgreSQL) the word is common and the windows not large; else
    ``sender`` for a ``from:`` search, ``index`` for the others."""
    if not query.needles:
        return "member"
    size = window_size(user_id, filters.conversations)
    if size <= MEMBER_SCAN_LIMIT:
        return "member"
    if filters.senders is not None:
        return "sender"
    if size <= COMMON_WORD_MEMBER_LIMIT and _many_candidates(query):
        return "member"
    return "index"


def window_size(user_id: int, conversations: list[int] | None = None) -> int:
    """How many events the user's windows span in all, or in ``conversations`` (an upper bound of the messages they may see)."""
    only = ""
    params: list[Any] = [user_id]
    if conversations is not None:
        only = f" AND p.conversation_id IN ({', '.join(['%s'] * len(conversations))})"
        params += conversations
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(CASE WHEN p.left_seq IS NULL THEN c.last_seq ELSE p.left_seq END - p.joined_seq), 0) "
            f"FROM {Participant._meta.db_table} p JOIN {Conversation._meta.db_table} c ON c.id = p.conversation_id "
            "WHERE p.user_id = %s" + only,
            params,
        )
        return int(cursor.fetchone()[0])


def _rows(query: Query, filters: plan.Filters, limit: int | None, way: str) -> list[tuple[Any, ...]]:
    if way == "sender" and limit is not None and filters.conversations is None:
        return _walk_senders(query, filters, limit)
    sql, params = plan.PLANS[way](query.needles, filters, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def _walk_senders(query: Query, filters: plan.Filters, limit: int) -> list[tuple[Any, ...]]:
    """The sender plan's first ``limit`` rows, read in steps of the senders' entries, newest first.

    For a ``from:`` search not narrowed to a list of conversations (``from:me``,
    or a sender who shares every conversation with the searcher): each step
    takes the ids of the next entries of the senders (:func:`plan.sender_step`,
    the index only), then reads the matches in that id range. The ranges
    follow each other downwards, so the rows are exactly those of one
    unbounded read; a step costs at most its entries, and the steps grow 4
    times each so a rare word still takes a few.
    """
    rows: list[tuple[Any, ...]] = []
    below = filters.below
    step = SENDER_STEP
    while len(rows) < limit:
        sql, params = plan.sender_step(dataclasses.replace(filters, below=below), step)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            break
        bounded = dataclasses.replace(filters, below=below, above=ids[-1])
        sql, params = plan.by_sender(query.needles, bounded, limit - len(rows))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows += cursor.fetchall()
        if len(ids) < step:
            break
        below = ids[-1]
        step *= 4
    return rows


def _reads_in_steps(way: str, query: Query) -> bool:
    """Whether a first page reads its matches for the total in page-sized steps after the page (else all in one read).

    By the index on PostgreSQL for a word with many candidates, steps: at a
    larger ``LIMIT`` its planner trades the newest-first walk (which stops
    once it has the rows) for reading every match of the word through the
    GIN index and sorting them, 10-100 times slower for a common word
    (EXPLAIN ANALYZE on the 1M corpus, docs/benchmark.md "Issue 16"). For a
    word with few candidates each step is that bitmap read and sort again
    (with ``event_id <`` the last step's, PostgreSQL even ANDs in a bitmap of
    the primary key's range: 112 ms for a prefix with 2,155 candidates): one
    read. On SQLite, or by the member or sender plan, one read of the page
    and the total's rows together: a second read would start the FTS5
    match, or the walk and sort of the windows or the sender's entries,
    over again (docs/benchmark.md, "Third round").
    """
    return way == "index" and _many_candidates(query)


def _many_candidates(query: Query) -> bool:
    """PostgreSQL only (False elsewhere): the planner expects the GIN index to give more than
    :data:`STEP_ABOVE_CANDIDATES` candidates for the needles (one planning round trip, not a read)."""
    if connection.vendor != "postgresql":
        return False
    sql, params = plan.candidates_estimate(query.needles)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        estimate = cursor.fetchone()[0]
    if isinstance(estimate, str):
        estimate = json.loads(estimate)
    return float(estimate[0]["Plan"]["Plan Rows"]) > STEP_ABOVE_CANDIDATES


def _more_matches(query: Query, filters: plan.Filters, way: str, below: int, wanted: int) -> list[tuple[Any, ...]]:
    """Up to ``wanted`` more matches older than ``below``, in page-sized steps (see :func:`_reads_in_steps`).

    Each step reads with a copy of ``filters`` (its own ``below``): the
    caller's filters are left as they were.
    """
    more: list[tuple[Any, ...]] = []
    step = DEFAULT_PAGE + 1
    while len(more) < wanted:
        chunk = _rows(query, dataclasses.replace(filters, below=below), step, way)
        more += chunk
        if len(chunk) < step:
            break
        below = chunk[-1][0]
    return more[:wanted]


def _count(query: Query, filters: plan.Filters, way: str) -> Total:
    """Every match counted (``count="exact"``): a read of all of them, so only on request."""
    sql, params = plan.PLANS[way](query.needles, dataclasses.replace(filters, below=None), None)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS hits", params)
        return Total(int(cursor.fetchone()[0]), True)


def _hits(found: Sequence[tuple[tuple[Any, ...], float | None]], query: Query) -> list[Hit]:
    """Hits with their snippets, cut from each message's current text (whichever table holds it)."""
    ids = [row[0] for row, _ in found]
    content: dict[int, str] = {}
    for model in (Event, ArchivedEvent):
        missing = [pk for pk in ids if pk not in content]
        if missing:
            content.update(model.objects.filter(pk__in=missing).values_list("pk", "content"))
    senders = dict(
        get_user_model()
        .objects.filter(pk__in={row[3] for row, _ in found})
        .values_list("pk", get_user_model().USERNAME_FIELD)
    )
    # The raw SQL's times come as the driver gives them: aware on PostgreSQL;
    # naive (UTC, as Django stores them) or text on SQLite, whose operations
    # convert them as the ORM would (PostgreSQL's have no such converter).
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    hits = []
    for row, rank in found:
        event_id, conversation_id, seq, sender_id, created_at, _ = row
        if event_id not in content:
            continue  # deleted since the entry was read
        if convert is not None:
            created_at = convert(created_at, None, connection)
        hits.append(
            Hit(
                event_id,
                conversation_id,
                seq,
                senders.get(sender_id, ""),
                created_at,
                snippet(content[event_id], query.needles),
                rank,
            )
        )
    return hits


def _conversations(user_id: int, ids: set[int]) -> list[ConversationName]:
    if not ids:
        return []
    peers = dict(
        Participant.objects.filter(conversation_id__in=ids, conversation__kind=Conversation.Kind.DIRECT)
        .exclude(user_id=user_id)
        .values_list("conversation_id", f"user__{get_user_model().USERNAME_FIELD}")
    )
    return [
        ConversationName(c.pk, c.kind, c.title if c.kind == Conversation.Kind.GROUP else None, peers.get(c.pk))
        for c in Conversation.objects.filter(pk__in=ids).order_by("pk")
    ]


def _encode_cursor(sort: str, rank: float, event_id: int) -> str:
    raw = f"{sort[0]}:{rank:.3f}:{event_id}" if sort == "relevance" else f"n:{event_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, sort: str) -> tuple[float, int] | None:
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split(":")
        if parts[0] == "n" and sort == "newest" and len(parts) == 2:
            return (0.0, int(parts[1]))
        if parts[0] == "r" and sort == "relevance" and len(parts) == 3:
            return (float(parts[1]), int(parts[2]))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        pass
    raise Invalid("'cursor' is not one this server gave for this sort: pass the 'next' of the previous page")
