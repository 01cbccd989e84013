"""Hypothesis strategies for the wire contract, shared by the property tests."""

from __future__ import annotations

import datetime
import json
from typing import Any

from hypothesis import strategies as st

MAX_INT = 2**63 - 1

# Every code point, lone surrogates and NUL included.
any_text = st.text(alphabet=st.characters(), max_size=40)
storable_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4),
    max_leaves=20,
)

client_ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=64
)
seqs = st.integers(min_value=0, max_value=MAX_INT)
limits = st.integers(min_value=1, max_value=100)


def contents(max_length: int = 4000) -> st.SearchStrategy[str]:
    """Storable, non-blank message content of at most ``max_length`` code points."""
    return st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=min(max_length, 200),
    ).filter(lambda s: s.strip())


def valid_frames(max_length: int = 4000) -> st.SearchStrategy[dict[str, Any]]:
    """Frames the chat endpoint must accept."""
    return st.one_of(
        st.builds(lambda c, i: {"type": "message", "content": c, "client_id": i}, contents(max_length), client_ids),
        st.builds(lambda t: {"type": "typing", "is_typing": t}, st.booleans()),
        st.builds(lambda s: {"type": "read", "up_to": s}, seqs),
        st.builds(lambda s: {"type": "sync", "after": s}, seqs),
        st.builds(lambda b, n: {"type": "history", "before": b, "limit": n}, st.none() | seqs, limits),
        st.just({"type": "ping"}),
    )


def broken_frames() -> st.SearchStrategy[dict[str, Any]]:
    """Objects with a known type but a missing, mistyped or out-of-range field."""
    not_str = json_values.filter(lambda v: not isinstance(v, str))
    not_int = json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool))
    return st.one_of(
        st.builds(lambda c: {"type": "message", "content": c, "client_id": "x"}, not_str),
        st.builds(lambda i: {"type": "message", "content": "hi", "client_id": i}, not_str),
        st.just({"type": "message", "content": "hi", "client_id": ""}),
        st.builds(lambda n: {"type": "message", "content": "hi", "client_id": "x" * n}, st.integers(65, 200)),
        st.builds(lambda c: {"type": "message", "content": c, "client_id": "x"}, st.sampled_from(["", " ", "\n\t", "\u3000"])),
        st.just({"type": "message", "content": "a\x00b", "client_id": "x"}),
        st.just({"type": "message", "content": "a\ud800b", "client_id": "x"}),
        st.builds(lambda v: {"type": "typing", "is_typing": v}, json_values.filter(lambda v: not isinstance(v, bool))),
        st.builds(lambda v: {"type": "read", "up_to": v}, not_int),
        st.builds(lambda v: {"type": "read", "up_to": v}, st.integers(max_value=-1)),
        st.builds(lambda v: {"type": "read", "up_to": v}, st.integers(min_value=MAX_INT + 1)),
        st.builds(lambda v: {"type": "sync", "after": v}, not_int),
        st.just({"type": "sync"}),
        st.builds(lambda n: {"type": "history", "before": None, "limit": n}, st.integers().filter(lambda n: not 1 <= n <= 100)),
        st.builds(lambda t: {"type": t}, storable_text.filter(lambda t: t not in {"message", "typing", "read", "sync", "history", "ping"})),
        st.builds(lambda t: {"type": t}, json_values.filter(lambda v: not isinstance(v, str))),
    )


def raw_frames() -> st.SearchStrategy[str | bytes]:
    """Anything a client could put in a frame."""
    return st.one_of(
        any_text,
        st.binary(max_size=64),
        json_values.map(json.dumps),
        valid_frames().map(json.dumps),
        broken_frames().map(lambda f: json.dumps(f)),
    )


# Values the serializer must encode.
serializable_values = st.recursive(
    json_scalars
    | st.datetimes(timezones=st.just(datetime.timezone.utc) | st.none())
    | st.dates()
    | st.times()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.timedeltas(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4),
    max_leaves=20,
)

__all__ = [
    "any_text",
    "broken_frames",
    "client_ids",
    "contents",
    "json_values",
    "raw_frames",
    "serializable_values",
    "valid_frames",
]
