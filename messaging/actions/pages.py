"""Pages bounded by bytes as well as by count.

A page of 100 events is normally a few kilobytes, but 100 messages of 4000
emoji each are over 1.5 MB of JSON, and autobahn refuses to send a frame over
1 MiB: the client got ``server_error`` for ever (a sync has no smaller page).
So every page (``sync``, ``history``, ``resume``, ``conversations``, the
notifications ``list``, their HTTP twins) stops adding items once its JSON
would pass ``MESSAGING_PAGE_BYTES`` and says ``has_more``: the client asks
again from the last item it got. A page keeps at least one item, and one item
always fits: it is never larger than the frame that made it
(``MESSAGING_MAX_FRAME_BYTES``, at most half the page budget, checked in
:func:`messaging.conf.limits`).

Only a page over the budget costs more than its one serialization: the
common page is serialized once, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..frames import ConversationPayload, ResumeAnswer
from ..serializers import JSONSerializer


def size_of(text: str) -> int:
    """Bytes of ``text`` on the wire (UTF-8)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def fit(build: Callable[[int], Mapping[str, object]], count: int, budget: int, *, least: int = 1) -> tuple[str, int]:
    """The serialized ``build(k)`` for the largest ``k <= count`` that fits in ``budget`` bytes, and ``k``.

    ``build(k)`` makes the frame holding the first ``k`` items, with
    ``has_more`` set when ``k < count``. ``k`` is at least ``least`` (1: a
    page always moves the client on) whatever its size.
    """
    text = JSONSerializer.dumps(build(count))
    if count <= least or size_of(text) <= budget:
        return text, count
    # Too large: the largest k that fits, by bisection (each step one serialization).
    low, high = least, count - 1
    best = JSONSerializer.dumps(build(least))
    while low < high:
        middle = (low + high + 1) // 2
        candidate = JSONSerializer.dumps(build(middle))
        if size_of(candidate) <= budget:
            low, best = middle, candidate
        else:
            high = middle - 1
    return best, low


def fit_resume(
    entries: Sequence[Any],
    render: Callable[[Any, int | None], ConversationPayload],
    events_of: Callable[[Any], int],
    build: Callable[[list[ConversationPayload], list[int]], ResumeAnswer],
    conversation_of: Callable[[Any], int],
    budget: int,
) -> str:
    """A ``resume`` answer within ``budget``: whole entries while they fit, then the next with fewer events.

    ``render(entry, k)`` is one conversation's entry with its first ``k``
    events (None: all, ``has_more`` as the store said; fewer: ``has_more``
    set). The conversations that do not fit at all are named in the answer
    (``build(rendered, unanswered)``) so the client resumes them again.
    """
    text = JSONSerializer.dumps(build([render(e, None) for e in entries], []))
    if size_of(text) <= budget or not entries:
        return text
    envelope = size_of(JSONSerializer.dumps(build([], [conversation_of(e) for e in entries])))
    left = budget - envelope
    rendered: list[ConversationPayload] = []
    unanswered: list[int] = []
    for entry in entries:
        if unanswered:
            unanswered.append(conversation_of(entry))
            continue
        whole = render(entry, None)
        size = size_of(JSONSerializer.dumps(whole)) + 1
        if size <= left:
            rendered.append(whole)
            left -= size
            continue
        room = left
        entry_text, k = fit(functools.partial(render, entry), events_of(entry), room, least=0)
        if size_of(entry_text) + 1 <= room or not rendered:
            rendered.append(render(entry, k))
            left -= size_of(entry_text) + 1
        else:
            unanswered.append(conversation_of(entry))
    return JSONSerializer.dumps(build(rendered, unanswered))
