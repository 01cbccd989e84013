"""The search query language, parsed into needles and filters.

What a chat user types::

    deploy staging            every word must match (anywhere inside a word, from 3 letters)
    "exact phrase"            these words, in this order, as whole words
    deplo*                    a word starting with "deplo"
    from:alice from:me        sent by alice (or by me); several from: mean any of them
    in:12 in:alice in:"Trip"  in conversation 12, the direct chat with alice, the group titled "Trip"
    has:attachment            messages that carry files
    before:2026-11-30 after:2026-11-01 on:2026-11-15   dates in the user's time zone

Each term becomes a *needle*: a string that the message's search text
(:mod:`.text`) must contain. A needle has a space at an end where the match
must stop at a word boundary:

- a bare word of 3 or more letters matches anywhere inside words (``ploy``
  finds "deployed"): ``"ploy"``;
- a bare word of 1 or 2 letters matches a whole word (``go`` does not find
  "good"): ``" go "``;
- a character of a script without spaces (``東``) or an emoji is a word of
  its own, so a run of them (``東京``) matches wherever it is written:
  ``" 東 京 "``;
- a term with punctuation inside (``e-mail``, ``10:30``) is the phrase of
  its words; its outer ends follow the two rules above: ``" e mail"``;
- ``"…"`` is a phrase of whole words: ``" exact phrase "``;
- ``deplo*`` anchors at the start of a word: ``" deplo"`` (at least 2
  letters before the ``*``).

Anything the grammar does not know is searched as text: an unknown
``foo:bar`` is the term ``foo:bar``, an unbalanced quote runs to the end of
the query, and characters that mean something to a database's full-text
syntax (``AND``, ``NEAR(``, ``^``, ``-``) are just words or punctuation here:
needles hold folded words and spaces only, and are passed to the databases
as bound values.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass, field

from .text import is_segmented, words

#: the operators the grammar knows (``name:value``)
OPERATORS = frozenset({"from", "in", "has", "before", "after", "on"})
#: what ``has:`` may name
HAS_VALUES = frozenset({"attachment"})
#: a bare word shorter than this matches whole words only (the trigram index needs 3 characters)
MIN_INFIX = 3

_TOKEN = re.compile(
    r'"(?P<phrase>[^"]*)(?:"|$)|(?P<op>[A-Za-z]+):(?:"(?P<quoted>[^"]*)(?:"|$)|(?P<value>\S*))|(?P<term>\S+)'
)


class QueryError(ValueError):
    """The query cannot be searched as typed; the message says how to fix it."""


@dataclass(frozen=True)
class Needle:
    """A string the search text must contain, and what the user typed for it."""

    text: str
    term: str

    @property
    def words(self) -> list[str]:
        return self.text.split()

    @property
    def open_start(self) -> bool:
        """The needle may start inside a word."""
        return not self.text.startswith(" ")

    @property
    def open_end(self) -> bool:
        """The needle may end inside a word (a prefix, or a long bare word)."""
        return not self.text.endswith(" ")


@dataclass
class Query:
    """A parsed query: needles (all must match) and filters."""

    needles: list[Needle] = field(default_factory=list)
    #: usernames after ``from:`` (``me`` already replaced by the searcher's)
    senders: list[str] = field(default_factory=list)
    #: values after ``in:`` (a conversation id, a username or a group title)
    conversations: list[str] = field(default_factory=list)
    has: list[str] = field(default_factory=list)
    #: ``created_at >= after`` and ``created_at < before``
    after: datetime.datetime | None = None
    before: datetime.datetime | None = None

    @property
    def empty(self) -> bool:
        """Nothing to search for: no needle and no filter."""
        return not (self.needles or self.senders or self.conversations or self.has or self.after or self.before)

    def describe(self) -> dict[str, object]:
        """The query as the server understood it (echoed to clients, shown as chips)."""
        return {
            "terms": [n.term for n in self.needles],
            "from": list(self.senders),
            "in": list(self.conversations),
            "has": list(self.has),
            "after": self.after,
            "before": self.before,
        }


def needle_for_term(term: str) -> Needle | None:
    """A bare term (possibly ending with ``*``) as a needle; None when it holds no word."""
    prefix = term.endswith("*")
    found = words(term.rstrip("*") if prefix else term)
    if not found:
        return None
    first, last = found[0], found[-1]
    if prefix:
        if len(found) == 1 and len(first) < 2 and not is_segmented(first):
            raise QueryError(f"a prefix needs at least 2 letters before the '*': {term!r}")
        return Needle(" " + " ".join(found) + (" " if is_segmented(last) else ""), term)
    start = "" if _open(first) else " "
    end = "" if _open(last) else " "
    return Needle(start + " ".join(found) + end, term)


def needle_for_phrase(phrase: str) -> Needle | None:
    found = words(phrase)
    if not found:
        return None
    return Needle(" " + " ".join(found) + " ", f'"{phrase}"')


def _open(word: str) -> bool:
    return not is_segmented(word) and len(word) >= MIN_INFIX


def parse(text: str, *, me: str, time_zone: str = "UTC", now: datetime.datetime | None = None) -> Query:
    """Parse a query; raises :class:`QueryError` for what cannot be searched (a bad date, a 1-letter prefix)."""
    query = Query()
    zone = _zone(time_zone)
    for match in _TOKEN.finditer(text):
        if match.group("phrase") is not None:
            _add(query, needle_for_phrase(match.group("phrase")))
            continue
        op = match.group("op")
        if op is not None and op.lower() in OPERATORS:
            value = match.group("quoted") if match.group("quoted") is not None else match.group("value")
            _operator(query, op.lower(), value.strip(), me=me, zone=zone)
            continue
        _add(query, needle_for_term(match.group(0)))
    return query


def _add(query: Query, needle: Needle | None) -> None:
    if needle is not None and needle.text not in {n.text for n in query.needles}:
        query.needles.append(needle)


def _operator(query: Query, op: str, value: str, *, me: str, zone: datetime.tzinfo) -> None:
    if not value:
        raise QueryError(f"'{op}:' needs a value, e.g. {_EXAMPLES[op]}")
    if op == "from":
        name = me if value.lower() == "me" else value.lstrip("@")
        if name not in query.senders:
            query.senders.append(name)
    elif op == "in":
        if value not in query.conversations:
            query.conversations.append(value)
    elif op == "has":
        if value.lower() not in HAS_VALUES:
            raise QueryError(f"'has:' knows {', '.join(sorted(HAS_VALUES))}, not {value!r}")
        if value.lower() not in query.has:
            query.has.append(value.lower())
    else:
        start, end = _day_or_moment(op, value, zone)
        if op in ("after", "on"):
            query.after = max(query.after, start) if query.after else start
        if op in ("before", "on"):
            bound = start if op == "before" else end
            query.before = min(query.before, bound) if query.before else bound


_EXAMPLES = {
    "from": "from:alice",
    "in": "in:alice or in:12",
    "has": "has:attachment",
    "before": "before:2026-11-30",
    "after": "after:2026-11-01",
    "on": "on:2026-11-15",
}


def _day_or_moment(op: str, value: str, zone: datetime.tzinfo) -> tuple[datetime.datetime, datetime.datetime]:
    """A date (the user's day: its start and the next day's) or a moment with its offset (it, twice)."""
    try:
        if len(value) == 10:
            day = datetime.date.fromisoformat(value)
            start = datetime.datetime.combine(day, datetime.time(), tzinfo=zone)
            return start, datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise QueryError(f"'{op}:' needs a date like {_EXAMPLES[op]} (or a time with its offset), not {value[:40]!r}")
    return moment, moment


def _zone(name: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def matches(search_text: str, query: Query) -> bool:
    """Whether a message's search text satisfies the query's needles (the definition the databases implement)."""
    return all(needle.text in search_text for needle in query.needles)
