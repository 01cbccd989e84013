"""What a hit shows: a snippet of the message with the matches marked by offsets, and how well it matches.

Highlights are data, never markup: ``[start, end)`` offsets in Unicode code
points into the snippet's ``text``, which the client sets as text and wraps
in DOM nodes itself. The offsets come from the search text's origin map
(:class:`~messaging.store.search.text.Folded`), so ``Straße`` is found and
marked by ``strasse`` and ``東京`` inside ``東京都``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...frames import SnippetPayload
from .query import Needle
from .text import fold

#: code points a snippet shows at most (a line or two in the result list)
SNIPPET_LENGTH = 160
#: code points kept before the first match, so it is read in its context
LEAD = 40

# How much one needle's best occurrence is worth: a whole word beats the
# start of a word, which beats a piece inside a word.
WHOLE, START, INSIDE = 3.0, 2.0, 1.0


@dataclass(frozen=True)
class Snippet:
    text: str
    #: ``[start, end)`` code-point offsets into ``text``
    highlights: tuple[tuple[int, int], ...]
    #: ``text`` starts after the message's start / ends before its end
    cut_start: bool
    cut_end: bool

    def payload(self) -> SnippetPayload:
        return {
            "text": self.text,
            "highlights": [list(span) for span in self.highlights],
            "cut_start": self.cut_start,
            "cut_end": self.cut_end,
        }


def matches_in(content: str, needles: list[Needle]) -> list[tuple[int, int]]:
    """Every occurrence of every needle, as merged, sorted ``[start, end)`` spans of ``content``."""
    folded = fold(content)
    spans: list[tuple[int, int]] = []
    for needle in needles:
        core = needle.text.strip()
        start = 0
        while True:
            found = folded.text.find(needle.text, start)
            if found < 0:
                break
            inner = found + len(needle.text) - len(needle.text.lstrip(" "))
            span = folded.span(inner, inner + len(core))
            if span[1] > span[0]:
                spans.append(span)
            start = found + 1
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def snippet(content: str, needles: list[Needle], *, length: int = SNIPPET_LENGTH) -> Snippet:
    """A window of ``content`` around its first match (its start when nothing matched: a filter-only search)."""
    chars = list(content)
    spans = matches_in(content, needles)
    if len(chars) <= length:
        start = 0
    else:
        first = spans[0][0] if spans else 0
        start = max(0, min(first - LEAD, len(chars) - length))
        # Start at a word where one is near, not in the middle of one.
        for back in range(start, max(-1, start - 12), -1):
            if back == 0 or chars[back - 1].isspace():
                start = back
                break
    end = min(len(chars), start + length)
    shown = tuple((max(s, start) - start, min(e, end) - start) for s, e in spans if s < end and e > start)
    return Snippet("".join(chars[start:end]), shown, start > 0, end < len(chars))


def score(search_text: str, needles: list[Needle]) -> float:
    """How well a message matches (relevance sort): per needle its best kind of occurrence, plus a little per repeat."""
    total = 0.0
    for needle in needles:
        core = needle.text.strip()
        if not core:
            continue
        if f" {core} " in search_text:
            best = WHOLE
        elif f" {core}" in search_text:
            best = START
        else:
            best = INSIDE
        total += best + 0.1 * min(3, search_text.count(core) - 1)
    return round(total, 3)
