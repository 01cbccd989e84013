"""Hypothesis strategies for the wire contract, shared by the property tests."""

from __future__ import annotations

import datetime
import json
from typing import Any

from hypothesis import strategies as st

from messaging.connection_validator import CHAT_FRAMES

MAX_INT = 2**63 - 1

# Every code point, lone surrogates and NUL included.
any_text = st.text(alphabet=st.characters(), max_size=40)
storable_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
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
        st.builds(
            lambda c: {"type": "message", "content": c, "client_id": "x"}, st.sampled_from(["", " ", "\n\t", "\u3000"])
        ),
        st.just({"type": "message", "content": "a\x00b", "client_id": "x"}),
        st.just({"type": "message", "content": "a\ud800b", "client_id": "x"}),
        st.builds(lambda v: {"type": "typing", "is_typing": v}, json_values.filter(lambda v: not isinstance(v, bool))),
        st.builds(lambda v: {"type": "read", "up_to": v}, not_int),
        st.builds(lambda v: {"type": "read", "up_to": v}, st.integers(max_value=-1)),
        st.builds(lambda v: {"type": "read", "up_to": v}, st.integers(min_value=MAX_INT + 1)),
        st.builds(lambda v: {"type": "sync", "after": v}, not_int),
        st.just({"type": "sync"}),
        st.builds(
            lambda n: {"type": "history", "before": None, "limit": n}, st.integers().filter(lambda n: not 1 <= n <= 100)
        ),
        st.builds(
            lambda t: {"type": t},
            storable_text.filter(lambda t: t not in {"message", "typing", "read", "sync", "history", "ping"}),
        ),
        st.builds(lambda t: {"type": t}, json_values.filter(lambda v: not isinstance(v, str))),
    )


# --- ws/chat/: the user-level socket's frames name their conversation ---------------

MAX_REF_INT = 2**53
storable_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
conversation_ids = st.integers(min_value=1, max_value=MAX_INT)
usernames = st.text(alphabet=storable_chars, min_size=1, max_size=150)
refs = st.integers(min_value=0, max_value=MAX_REF_INT) | st.text(alphabet=storable_chars, min_size=1, max_size=64)
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda m: datetime.timezone(datetime.timedelta(minutes=m))
)
mute_untils = (
    st.none()
    | st.just("forever")
    | st.datetimes(min_value=datetime.datetime(1000, 1, 1), timezones=offsets).map(lambda d: d.isoformat())
)


def titles(max_length: int = 120) -> st.SearchStrategy[str]:
    """A group title the validator accepts: not blank, at most ``max_length`` code points once trimmed."""
    return st.text(alphabet=storable_chars, min_size=1, max_size=max_length).filter(lambda t: t.strip())


def member_lists(names: st.SearchStrategy[str] = usernames, most: int = 5) -> st.SearchStrategy[list[str]]:
    return st.lists(names, min_size=1, max_size=most)


#: the seq a message action names: mostly one of the first messages (so it often exists), or any
targets = st.integers(min_value=1, max_value=12) | st.integers(min_value=1, max_value=MAX_INT)
#: reactions: emoji the validator takes (a flag, a skin tone, a keycap, a ZWJ family)
emoji = st.sampled_from(
    [
        "\U0001f44d",
        "\u2764\ufe0f",
        "\U0001f1eb\U0001f1f7",
        "\U0001f44d\U0001f3fd",
        "1\ufe0f\u20e3",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    ]
)
#: text that is no emoji: ASCII has no symbol (So) character, so letters, digits (keycap bases
#: without their keycap), punctuation and spaces are all refused
not_emoji = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=16)
search_cursors = st.none() | st.text(alphabet=storable_chars, min_size=1, max_size=100)


def _with_ref(frames: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Frames with or without a usable ``ref``."""
    return st.builds(lambda f, r: f if r is None else {**f, "ref": r}, frames, st.none() | refs)


def valid_chat_frames(
    max_length: int = 4000,
    conversations: st.SearchStrategy[int] = conversation_ids,
    names: st.SearchStrategy[str] = usernames,
) -> st.SearchStrategy[dict[str, Any]]:
    """Every frame type ``ws/chat/`` must accept, in every shape the contract allows.

    ``conversations`` and ``names`` draw the ids and usernames frames name (the
    fuzzing narrows them to ones that exist, so frames also get past the validator).
    """
    c = conversations
    return _with_ref(
        st.one_of(
            st.builds(
                lambda k, t, i: {"type": "message", "conversation": k, "content": t, "client_id": i},
                c,
                contents(max_length),
                client_ids,
            ),
            st.builds(
                lambda u, t, i: {"type": "message", "to": u, "content": t, "client_id": i},
                names,
                contents(max_length),
                client_ids,
            ),
            st.builds(lambda k, t: {"type": "typing", "conversation": k, "is_typing": t}, c, st.booleans()),
            st.builds(
                lambda kind, k, s: {"type": kind, "conversation": k, "up_to": s},
                st.sampled_from(["read", "received"]),
                c,
                seqs,
            ),
            st.builds(lambda k, s: {"type": "sync", "conversation": k, "after": s}, c, seqs),
            st.builds(lambda k, s, n: {"type": "sync", "conversation": k, "after": s, "limit": n}, c, seqs, limits),
            st.builds(
                lambda k, b, n: {"type": "history", "conversation": k, "before": b, "limit": n},
                c,
                st.none() | seqs,
                limits,
            ),
            st.just({"type": "ping"}),
            st.builds(lambda k: {"type": "view", "conversation": k}, st.none() | c),
            st.builds(
                lambda d: {"type": "resume", "cursors": {str(k): v for k, v in d.items()}},
                st.dictionaries(c, seqs, max_size=5),
            ),
            st.builds(
                lambda b, n: {"type": "conversations", "before": b, "limit": n},
                st.none() | st.text(alphabet=storable_chars, min_size=1, max_size=100),
                limits,
            ),
            st.builds(
                lambda t, m, i: {"type": "create_group", "title": t, "members": m, "client_id": i},
                titles(),
                member_lists(names),
                client_ids,
            ),
            st.builds(
                lambda k, m, i: {"type": "add_members", "conversation": k, "users": m, "client_id": i},
                c,
                member_lists(names),
                client_ids,
            ),
            st.builds(
                lambda k, u, i: {"type": "remove_member", "conversation": k, "user": u, "client_id": i},
                c,
                names,
                client_ids,
            ),
            st.builds(lambda k, i: {"type": "leave", "conversation": k, "client_id": i}, c, client_ids),
            st.builds(
                lambda k, t, i: {"type": "rename", "conversation": k, "title": t, "client_id": i},
                c,
                titles(),
                client_ids,
            ),
            st.builds(
                lambda k, u, r, i: {"type": "set_role", "conversation": k, "user": u, "role": r, "client_id": i},
                c,
                names,
                st.sampled_from(["admin", "member"]),
                client_ids,
            ),
            st.builds(lambda k, u: {"type": "mute", "conversation": k, "until": u}, c, mute_untils),
            st.builds(lambda k, p: {"type": "pin", "conversation": k, "pinned": p}, c, st.booleans()),
            st.builds(lambda k: {"type": "members", "conversation": k}, c),
            # Message actions: on a message of the conversation (or one that is not there).
            st.builds(
                lambda k, s, t, i: {"type": "edit", "conversation": k, "seq": s, "content": t, "client_id": i},
                c,
                targets,
                contents(max_length),
                client_ids,
            ),
            st.builds(
                lambda k, s, i: {"type": "delete", "conversation": k, "seq": s, "client_id": i}, c, targets, client_ids
            ),
            st.builds(
                lambda kind, k, s, e, i: {"type": kind, "conversation": k, "seq": s, "emoji": e, "client_id": i},
                st.sampled_from(["react", "unreact"]),
                c,
                targets,
                emoji,
                client_ids,
            ),
            st.builds(
                lambda k, s, i: {"type": "hide", "conversation": k, "seqs": s, "client_id": i},
                c,
                st.lists(targets, min_size=1, max_size=5),
                client_ids,
            ),
            st.builds(lambda k, i: {"type": "clear", "conversation": k, "client_id": i}, c, client_ids),
            st.builds(lambda k, s: {"type": "edits", "conversation": k, "seq": s}, c, targets),
            st.builds(
                lambda q, cursor, sort, n, count: {
                    "type": "search",
                    "q": q,
                    "cursor": cursor,
                    "sort": sort,
                    "limit": n,
                    "count": count,
                },
                st.text(alphabet=storable_chars, max_size=40),
                search_cursors,
                st.sampled_from(["newest", "relevance"]),
                st.integers(min_value=1, max_value=50),
                st.sampled_from(["estimate", "exact"]),
            ),
        )
    )


def broken_chat_frames() -> st.SearchStrategy[dict[str, Any]]:
    """ws/chat/ frames of a known type with a missing, mistyped or out-of-range field (all ``invalid_frame``)."""
    not_id = json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_INT)
    not_str = json_values.filter(lambda v: not isinstance(v, str))
    not_list = json_values.filter(lambda v: not isinstance(v, list))
    needs_conversation = st.sampled_from(
        [
            {"type": "typing", "is_typing": True},
            {"type": "read", "up_to": 1},
            {"type": "received", "up_to": 1},
            {"type": "sync", "after": 0},
            {"type": "history", "before": None},
            {"type": "add_members", "users": ["bob"], "client_id": "x"},
            {"type": "remove_member", "user": "bob", "client_id": "x"},
            {"type": "leave", "client_id": "x"},
            {"type": "rename", "title": "t", "client_id": "x"},
            {"type": "set_role", "user": "bob", "role": "admin", "client_id": "x"},
            {"type": "mute", "until": None},
            {"type": "pin", "pinned": True},
            {"type": "members"},
            {"type": "message", "content": "hi", "client_id": "x"},
            {"type": "edit", "seq": 1, "content": "hi", "client_id": "x"},
            {"type": "delete", "seq": 1, "client_id": "x"},
            {"type": "react", "seq": 1, "emoji": "\U0001f44d", "client_id": "x"},
            {"type": "hide", "seqs": [1], "client_id": "x"},
            {"type": "clear", "client_id": "x"},
            {"type": "edits", "seq": 1},
        ]
    )
    return st.one_of(
        needs_conversation,
        st.builds(lambda f, v: {**f, "conversation": v}, needs_conversation, not_id),
        st.builds(lambda v: {"type": "view", "conversation": v}, not_id.filter(lambda v: v is not None)),
        st.builds(
            lambda v: {"type": "message", "to": v, "content": "hi", "client_id": "x"},
            not_str.filter(lambda v: v is not None),
        ),
        st.just({"type": "message", "to": "bob", "conversation": 1, "content": "hi", "client_id": "x"}),
        st.builds(lambda v: {"type": "resume", "cursors": v}, json_values.filter(lambda v: not isinstance(v, dict))),
        st.builds(
            lambda k: {"type": "resume", "cursors": {k: 1}},
            storable_text.filter(lambda k: not (k.isascii() and k.isdigit() and 0 < int(k) <= MAX_INT)),
        ),
        st.builds(
            lambda v: {"type": "resume", "cursors": {"1": v}},
            json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_INT),
        ),
        st.builds(
            lambda v: {"type": "conversations", "before": v},
            json_values.filter(lambda v: v is not None and (not isinstance(v, str) or not 1 <= len(v) <= 100)),
        ),
        st.builds(lambda v: {"type": "create_group", "title": v, "members": ["bob"], "client_id": "x"}, not_str),
        st.builds(
            lambda v: {"type": "create_group", "title": v, "members": ["bob"], "client_id": "x"},
            st.sampled_from(["", " ", "\t\n", "a\x00"]),
        ),
        st.builds(
            lambda v: {"type": "create_group", "title": "t", "members": v, "client_id": "x"}, not_list | st.just([])
        ),
        st.builds(
            lambda v: {"type": "create_group", "title": "t", "members": [v], "client_id": "x"},
            not_str | st.just("") | st.just("a" * 151),
        ),
        st.builds(
            lambda v: {"type": "add_members", "conversation": 1, "users": v, "client_id": "x"}, not_list | st.just([])
        ),
        st.builds(
            lambda v: {"type": "remove_member", "conversation": 1, "user": v, "client_id": "x"}, not_str | st.just("")
        ),
        st.builds(
            lambda v: {"type": "set_role", "conversation": 1, "user": "bob", "role": v, "client_id": "x"},
            json_values.filter(lambda v: v not in ("admin", "member")),
        ),
        st.builds(
            lambda v: {"type": "mute", "conversation": 1, "until": v},
            json_values.filter(lambda v: v is not None and v != "forever" and not _is_aware_time(v)),
        ),
        st.builds(
            lambda v: {"type": "mute", "conversation": 1, "until": v}, st.datetimes().map(lambda d: d.isoformat())
        ),
        st.builds(
            lambda v: {"type": "pin", "conversation": 1, "pinned": v},
            json_values.filter(lambda v: not isinstance(v, bool)),
        ),
        st.builds(
            lambda kind, v: {"type": kind, "conversation": 1, "client_id": v},
            st.sampled_from(["leave"]),
            not_str | st.just("") | st.just("x" * 65),
        ),
        st.builds(
            lambda kind, v: {"type": kind, "conversation": 1, "seq": v, "emoji": "\U0001f44d", "client_id": "x"},
            st.sampled_from(["delete", "react", "unreact", "edits"]),
            json_values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_INT),
        ),
        st.builds(
            lambda kind, v: {"type": kind, "conversation": 1, "seq": 1, "emoji": v, "client_id": "x"},
            st.sampled_from(["react", "unreact"]),
            not_emoji | not_str,
        ),
        st.builds(lambda v: {"type": "hide", "conversation": 1, "seqs": v, "client_id": "x"}, not_list | st.just([])),
        st.builds(
            lambda v: {"type": "search", "q": "hi", "sort": v},
            json_values.filter(lambda v: v is not None and v not in ("newest", "relevance")),
        ),
        st.builds(lambda t: {"type": t}, storable_text.filter(lambda t: t not in CHAT_TYPES)),
    )


def _is_aware_time(value: Any) -> bool:
    """Whether ``value`` is what ``mute`` takes as a time: ISO 8601 with an offset, at most 40 characters."""
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        return datetime.datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


#: the frame types ws/chat/ speaks (tests/test_connection_validator.py pins the list)
CHAT_TYPES = CHAT_FRAMES


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
    | st.datetimes(timezones=st.just(datetime.UTC) | st.none())
    | st.dates()
    | st.times()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.timedeltas(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4),
    max_leaves=20,
)


def raw_chat_frames() -> st.SearchStrategy[str | bytes]:
    """Anything a client could put in a frame to ``ws/chat/``."""
    return st.one_of(
        raw_frames(),
        valid_chat_frames().map(json.dumps),
        broken_chat_frames().map(json.dumps),
    )


__all__ = [
    "any_text",
    "broken_chat_frames",
    "broken_frames",
    "client_ids",
    "contents",
    "json_values",
    "raw_chat_frames",
    "raw_frames",
    "serializable_values",
    "valid_chat_frames",
    "valid_frames",
]
