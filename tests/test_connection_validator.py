"""ConnectionValidator: never raises, accepts exactly the well-formed frames.

The first half checks the one-to-one view's frames (``ws/chat/<username>/``:
no ``conversation``), the second the user-level socket's (``ws/chat/``) and
the notification bell's.
"""

from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging.connection_validator import (
    CHAT_FRAMES,
    DIRECT_FRAMES,
    FOREVER,
    NOTIFICATION_FRAMES,
    ConnectionValidator,
    ConversationsFrame,
    CreateGroupFrame,
    HistoryFrame,
    ListFrame,
    MarkAllReadFrame,
    MarkReadFrame,
    MessageFrame,
    MuteFrame,
    PinFrame,
    ResumeFrame,
    SyncFrame,
    ViewFrame,
    safe_get,
)
from messaging.exceptions import ErrorCode, ProtocolError

from .strategies import (
    broken_chat_frames,
    broken_frames,
    json_values,
    raw_chat_frames,
    raw_frames,
    valid_chat_frames,
    valid_frames,
)

CHAT = DIRECT_FRAMES
assert frozenset({"message", "typing", "read", "sync", "history", "ping"}) == CHAT
validator = ConnectionValidator(max_length=4000, max_frame_bytes=65536, conversation_required=False)


def code_of(result: object) -> str | None:
    return result.code.value if isinstance(result, ProtocolError) else None


@given(raw_frames())
def test_parse_never_raises_on_any_frame(raw: str | bytes) -> None:
    result = validator.parse(None, raw, allowed=CHAT) if isinstance(raw, bytes) else validator.parse(raw, allowed=CHAT)
    assert isinstance(result, ProtocolError) or result.type in CHAT


@given(valid_frames())
def test_every_well_formed_frame_is_accepted(frame: dict) -> None:
    result = validator.parse(json.dumps(frame), allowed=CHAT)
    assert not isinstance(result, ProtocolError), result
    assert result.type == frame["type"]


@given(broken_frames())
def test_every_broken_frame_is_invalid_frame(frame: dict) -> None:
    result = validator.parse(json.dumps(frame), allowed=CHAT)
    assert code_of(result) == ErrorCode.INVALID_FRAME.value


@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_json_that_is_not_an_object_is_invalid_frame(value: object) -> None:
    assert code_of(validator.parse(json.dumps(value), allowed=CHAT)) == "invalid_frame"


@pytest.mark.parametrize("text", ["", " ", "{", "nope", "{'type': 'ping'}", "NaN", '{"type": NaN}', "[1,]"])
def test_text_that_is_not_json_is_invalid_json(text: str) -> None:
    assert code_of(validator.parse(text, allowed=CHAT)) == "invalid_json"


def test_binary_frame_is_invalid_frame() -> None:
    assert code_of(validator.parse(None, b'{"type":"ping"}', allowed=CHAT)) == "invalid_frame"


def test_frame_over_the_byte_limit_is_too_large() -> None:
    small = ConnectionValidator(max_length=4000, max_frame_bytes=100, conversation_required=False)
    frame = json.dumps({"type": "message", "content": "é" * 40, "client_id": "a"}, ensure_ascii=False)
    assert len(frame) < 100 < len(frame.encode())
    assert code_of(small.parse(frame, allowed=CHAT)) == "too_large"
    assert code_of(small.parse(None, b"x" * 101, allowed=CHAT)) == "too_large"


def test_a_frame_too_large_names_the_limit_and_its_setting() -> None:
    small = ConnectionValidator(max_length=4000, max_frame_bytes=100, conversation_required=False)
    for result in (small.parse("x" * 101, allowed=CHAT), small.parse(None, b"x" * 101, allowed=CHAT)):
        assert result.extra == {"limit": 100, "setting": "MESSAGING_MAX_FRAME_BYTES"}


def test_content_too_long_names_the_limit_and_its_setting() -> None:
    limited = ConnectionValidator(max_length=10, max_frame_bytes=65536, conversation_required=False)
    result = limited.parse(json.dumps({"type": "message", "content": "x" * 11, "client_id": "a"}), allowed=CHAT)
    assert result.extra == {"limit": 10, "setting": "MESSAGING_MAX_LENGTH"}


@given(st.integers(min_value=1, max_value=50))
def test_content_length_counts_code_points(extra: int) -> None:
    limited = ConnectionValidator(max_length=10, max_frame_bytes=65536, conversation_required=False)
    at_limit = {"type": "message", "content": "😀" * 10, "client_id": "a"}
    over = {"type": "message", "content": "😀" * (10 + extra), "client_id": "a"}
    assert isinstance(limited.parse(json.dumps(at_limit), allowed=CHAT), MessageFrame)
    result = limited.parse(json.dumps(over), allowed=CHAT)
    assert code_of(result) == "too_large"
    assert result.client_id == "a"


def test_content_is_kept_exactly_as_sent() -> None:
    content = "  <b>hi</b>\n\u202e ünïcödé 😀  "
    result = validator.parse(json.dumps({"type": "message", "content": content, "client_id": "c"}), allowed=CHAT)
    assert result == MessageFrame(content=content, client_id="c")


def test_history_limit_defaults_and_before_may_be_null() -> None:
    assert validator.parse('{"type": "history"}', allowed=CHAT) == HistoryFrame(before=None, limit=50)
    assert validator.parse('{"type": "history", "before": 7, "limit": 100}', allowed=CHAT) == HistoryFrame(7, 100)


def test_frame_types_outside_the_endpoint_are_invalid() -> None:
    assert code_of(validator.parse('{"type": "mark_all_read"}', allowed=CHAT)) == "invalid_frame"


def test_deeply_nested_json_is_answered_not_raised() -> None:
    deep = "[" * 50000 + "]" * 50000
    big = ConnectionValidator(max_length=4000, max_frame_bytes=200000, conversation_required=False)
    assert code_of(big.parse(deep, allowed=CHAT)) in {"invalid_frame", "invalid_json"}


def test_huge_numbers_are_answered_not_raised() -> None:
    assert code_of(validator.parse('{"type": "read", "up_to": ' + "9" * 5000 + "}", allowed=CHAT)) in {
        "invalid_json",
        "invalid_frame",
    }


@given(json_values, st.lists(st.one_of(st.text(max_size=5), st.integers(-5, 5)), max_size=5))
def test_safe_get_never_raises(data: object, path: list) -> None:
    safe_get(data, *path, default="missing")


def test_safe_get_walks_dicts_and_lists() -> None:
    data = {"a": [{"b": 1}]}
    assert safe_get(data, "a", 0, "b") == 1
    assert safe_get(data, "a", 5, "b", default=None) is None
    assert safe_get(["x"], "get", default="d") == "d"


class AuthenticatedUser:
    is_authenticated = True


class Anonymous:
    is_authenticated = False


@given(json_values)
def test_validate_connection_data_never_raises(scope: object) -> None:
    assert ConnectionValidator.validate_connection_data(scope, required_kwargs=("username",)) is None or isinstance(
        scope, dict
    )


def test_validate_connection_data_requires_user_and_kwargs() -> None:
    user = AuthenticatedUser()
    good = {"user": user, "url_route": {"kwargs": {"username": "bob"}}}
    assert ConnectionValidator.validate_connection_data(good, required_kwargs=("username",)) == {
        "user": user,
        "username": "bob",
    }
    assert (
        ConnectionValidator.validate_connection_data({**good, "user": Anonymous()}, required_kwargs=("username",))
        is None
    )
    assert (
        ConnectionValidator.validate_connection_data({"user": user, "url_route": []}, required_kwargs=("username",))
        is None
    )


@pytest.mark.parametrize(
    "fields, code, echoed",
    [
        ({"content": "hi"}, "invalid_frame", None),
        ({"content": "hi", "client_id": ""}, "invalid_frame", None),
        ({"content": "hi", "client_id": 7}, "invalid_frame", None),
        ({"content": "hi", "client_id": "x" * 65}, "invalid_frame", None),
        ({"content": "hi", "client_id": "a\x00b"}, "invalid_frame", None),
        ({"content": "hi", "client_id": "a\ud800"}, "invalid_frame", None),
        ({"client_id": "c1"}, "invalid_frame", "c1"),
        ({"content": 5, "client_id": "c1"}, "invalid_frame", "c1"),
        ({"content": " \n", "client_id": "c1"}, "invalid_frame", "c1"),
        ({"content": "a\x00", "client_id": "c1"}, "invalid_frame", "c1"),
        ({"content": "x" * 4001, "client_id": "c1"}, "too_large", "c1"),
    ],
)
def test_a_message_error_echoes_the_client_id_only_when_it_is_good(fields: dict, code: str, echoed: str | None) -> None:
    result = validator.validate_message_data({"type": "message", **fields}, allowed=CHAT)
    assert code_of(result) == code
    assert result.client_id == echoed


# --- ws/chat/: the user-level socket (frames name their conversation) ----------------

USER = CHAT_FRAMES
chat_validator = ConnectionValidator(max_length=4000, max_frame_bytes=65536, max_title_length=120)


@given(valid_chat_frames())
def test_every_well_formed_user_socket_frame_is_accepted_with_its_fields(frame: dict) -> None:
    result = chat_validator.parse(json.dumps(frame), allowed=USER)
    assert not isinstance(result, ProtocolError), (frame, result)
    assert result.type == frame["type"]
    assert result.ref == frame.get("ref")
    if "conversation" in frame:
        assert result.conversation == frame["conversation"]
    if "client_id" in frame:
        assert result.client_id == frame["client_id"]
    if "title" in frame:
        assert result.title == frame["title"].strip()


@given(broken_chat_frames())
def test_every_broken_user_socket_frame_is_invalid_frame(frame: dict) -> None:
    assert code_of(chat_validator.parse(json.dumps(frame), allowed=USER)) == "invalid_frame", frame


@given(raw_chat_frames())
def test_parse_never_raises_on_any_user_socket_frame(raw: str | bytes) -> None:
    result = (
        chat_validator.parse(None, raw, allowed=USER)
        if isinstance(raw, bytes)
        else chat_validator.parse(raw, allowed=USER)
    )
    assert isinstance(result, ProtocolError) or result.type in USER


def test_the_endpoints_speak_their_own_frame_types() -> None:
    assert {
        "message",
        "typing",
        "read",
        "received",
        "sync",
        "history",
        "ping",
        "view",
        "resume",
        "conversations",
        "create_group",
        "add_members",
        "remove_member",
        "leave",
        "rename",
        "set_role",
        "mute",
        "pin",
        "members",
        "edit",
        "delete",
        "react",
        "unreact",
        "hide",
        "clear",
        "edits",
        "search",
    } == USER
    assert {"mark_read", "mark_all_read", "list", "ping"} == NOTIFICATION_FRAMES
    for frame_type in USER - DIRECT_FRAMES:
        assert code_of(validator.parse(json.dumps({"type": frame_type}), allowed=DIRECT_FRAMES)) == "invalid_frame"
    for frame_type in NOTIFICATION_FRAMES - {"ping"}:
        assert code_of(chat_validator.parse(json.dumps({"type": frame_type}), allowed=USER)) == "invalid_frame"


def test_defaults_and_parsed_values_of_the_user_socket_frames() -> None:
    def parse(frame: dict) -> object:
        return chat_validator.parse(json.dumps(frame), allowed=USER)

    assert parse({"type": "sync", "conversation": 3, "after": 7}) == SyncFrame(after=7, limit=100, conversation=3)
    assert parse({"type": "history", "conversation": 3}) == HistoryFrame(before=None, limit=50, conversation=3)
    assert parse({"type": "conversations"}) == ConversationsFrame(before=None, limit=50)
    assert parse({"type": "view", "conversation": None}) == ViewFrame(conversation=None)
    assert parse({"type": "view"}) == ViewFrame(conversation=None)
    assert parse({"type": "resume", "cursors": {"12": 4, "7": 0}}) == ResumeFrame(cursors={12: 4, 7: 0})
    assert parse({"type": "mute", "conversation": 2, "until": "forever"}) == MuteFrame(conversation=2, until=FOREVER)
    assert parse({"type": "mute", "conversation": 2, "until": None}) == MuteFrame(conversation=2, until=None)
    assert parse({"type": "pin", "conversation": 2, "pinned": True}) == PinFrame(conversation=2, pinned=True)
    assert parse({"type": "pin", "conversation": 2, "pinned": False}) == PinFrame(conversation=2, pinned=False)
    moment = datetime.datetime(2026, 11, 27, 9, 41, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert parse({"type": "mute", "conversation": 2, "until": moment.isoformat()}) == MuteFrame(2, moment)
    assert parse({"type": "create_group", "title": "  Trip  ", "members": ["bob", "carol"], "client_id": "g"}) == (
        CreateGroupFrame(title="Trip", members=("bob", "carol"), client_id="g")
    )
    assert parse({"type": "message", "to": "bob", "content": "hi", "client_id": "m"}) == MessageFrame(
        content="hi", client_id="m", to="bob"
    )
    # A sender field means nothing; unknown fields are ignored.
    assert parse(
        {"type": "message", "conversation": 1, "content": "hi", "client_id": "m", "sender": "bob", "x": 1}
    ) == (MessageFrame(content="hi", client_id="m", conversation=1))


C1 = {"conversation": 1}
# (frame, code, client_id echoed): every rejected shape of each ws/chat/ frame type.
REJECTED = [
    # message
    ({"type": "message", "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "conversation": None, "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "conversation": 0, "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "conversation": "1", "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "conversation": True, "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "conversation": 2**63, "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "conversation": 1, "to": "bob", "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "to": "", "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "to": 5, "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "to": "b" * 151, "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", "to": "b\x00b", "content": "hi", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", **C1, "content": "  ", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", **C1, "content": "a\ud800", "client_id": "c"}, "invalid_frame", "c"),
    ({"type": "message", **C1, "content": "x" * 4001, "client_id": "c"}, "too_large", "c"),
    ({"type": "message", **C1, "content": "hi"}, "invalid_frame", None),
    ({"type": "message", **C1, "content": "hi", "client_id": "x" * 65}, "invalid_frame", None),
    # typing, read, received
    ({"type": "typing", "is_typing": True}, "invalid_frame", None),
    ({"type": "typing", **C1, "is_typing": "yes"}, "invalid_frame", None),
    ({"type": "typing", **C1}, "invalid_frame", None),
    ({"type": "read", "up_to": 3}, "invalid_frame", None),
    ({"type": "read", **C1}, "invalid_frame", None),
    ({"type": "read", **C1, "up_to": -1}, "invalid_frame", None),
    ({"type": "read", **C1, "up_to": "3"}, "invalid_frame", None),
    ({"type": "received", "up_to": 3}, "invalid_frame", None),
    ({"type": "received", **C1}, "invalid_frame", None),
    ({"type": "received", **C1, "up_to": 2**63}, "invalid_frame", None),
    ({"type": "received", **C1, "up_to": 1.5}, "invalid_frame", None),
    # sync, history
    ({"type": "sync", "after": 0}, "invalid_frame", None),
    ({"type": "sync", **C1}, "invalid_frame", None),
    ({"type": "sync", **C1, "after": -1}, "invalid_frame", None),
    ({"type": "sync", **C1, "after": 0, "limit": 0}, "invalid_frame", None),
    ({"type": "sync", **C1, "after": 0, "limit": 101}, "invalid_frame", None),
    ({"type": "history", "before": None}, "invalid_frame", None),
    ({"type": "history", **C1, "before": -1}, "invalid_frame", None),
    ({"type": "history", **C1, "before": "9"}, "invalid_frame", None),
    ({"type": "history", **C1, "limit": True}, "invalid_frame", None),
    # view
    ({"type": "view", "conversation": 0}, "invalid_frame", None),
    ({"type": "view", "conversation": "3"}, "invalid_frame", None),
    ({"type": "view", "conversation": False}, "invalid_frame", None),
    # resume
    ({"type": "resume"}, "invalid_frame", None),
    ({"type": "resume", "cursors": [[1, 2]]}, "invalid_frame", None),
    ({"type": "resume", "cursors": {"0": 1}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {"-1": 1}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {"x": 1}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {"\u0663": 1}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {str(2**63): 1}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {"1": -1}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {"1": "2"}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {"1": True}}, "invalid_frame", None),
    ({"type": "resume", "cursors": {str(i): 0 for i in range(1, 202)}}, "invalid_frame", None),
    # conversations
    ({"type": "conversations", "before": ""}, "invalid_frame", None),
    ({"type": "conversations", "before": 5}, "invalid_frame", None),
    ({"type": "conversations", "before": "x" * 101}, "invalid_frame", None),
    ({"type": "conversations", "before": "a\x00"}, "invalid_frame", None),
    ({"type": "conversations", "limit": 0}, "invalid_frame", None),
    ({"type": "conversations", "limit": 101}, "invalid_frame", None),
    # create_group
    ({"type": "create_group", "title": "t", "members": ["bob"]}, "invalid_frame", None),
    ({"type": "create_group", "title": "t", "members": ["bob"], "client_id": ""}, "invalid_frame", None),
    ({"type": "create_group", "members": ["bob"], "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": 7, "members": ["bob"], "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "  ", "members": ["bob"], "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "a\x00", "members": ["bob"], "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "t" * 121, "members": ["bob"], "client_id": "g"}, "too_large", "g"),
    ({"type": "create_group", "title": "t"}, "invalid_frame", None),
    ({"type": "create_group", "title": "t", "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "t", "members": [], "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "t", "members": "bob", "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "t", "members": ["bob", 3], "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "t", "members": [""], "client_id": "g"}, "invalid_frame", "g"),
    ({"type": "create_group", "title": "t", "members": ["b" * 151], "client_id": "g"}, "invalid_frame", "g"),
    # add_members
    ({"type": "add_members", "users": ["bob"], "client_id": "a"}, "invalid_frame", "a"),
    ({"type": "add_members", **C1, "client_id": "a"}, "invalid_frame", "a"),
    ({"type": "add_members", **C1, "users": [], "client_id": "a"}, "invalid_frame", "a"),
    ({"type": "add_members", **C1, "users": [None], "client_id": "a"}, "invalid_frame", "a"),
    ({"type": "add_members", **C1, "users": ["bob"]}, "invalid_frame", None),
    # remove_member
    ({"type": "remove_member", "user": "bob", "client_id": "r"}, "invalid_frame", "r"),
    ({"type": "remove_member", **C1, "client_id": "r"}, "invalid_frame", "r"),
    ({"type": "remove_member", **C1, "user": "", "client_id": "r"}, "invalid_frame", "r"),
    ({"type": "remove_member", **C1, "user": ["bob"], "client_id": "r"}, "invalid_frame", "r"),
    ({"type": "remove_member", **C1, "user": "bob", "client_id": 5}, "invalid_frame", None),
    # leave
    ({"type": "leave", "client_id": "l"}, "invalid_frame", "l"),
    ({"type": "leave", "conversation": -4, "client_id": "l"}, "invalid_frame", "l"),
    ({"type": "leave", **C1}, "invalid_frame", None),
    ({"type": "leave", **C1, "client_id": "a\ud800"}, "invalid_frame", None),
    # rename
    ({"type": "rename", "title": "t", "client_id": "n"}, "invalid_frame", "n"),
    ({"type": "rename", **C1, "client_id": "n"}, "invalid_frame", "n"),
    ({"type": "rename", **C1, "title": "", "client_id": "n"}, "invalid_frame", "n"),
    ({"type": "rename", **C1, "title": "\U0001f600" * 121, "client_id": "n"}, "too_large", "n"),
    ({"type": "rename", **C1, "title": "t"}, "invalid_frame", None),
    # set_role
    ({"type": "set_role", "user": "bob", "role": "admin", "client_id": "s"}, "invalid_frame", "s"),
    ({"type": "set_role", **C1, "role": "admin", "client_id": "s"}, "invalid_frame", "s"),
    ({"type": "set_role", **C1, "user": "bob", "client_id": "s"}, "invalid_frame", "s"),
    ({"type": "set_role", **C1, "user": "bob", "role": "owner", "client_id": "s"}, "invalid_frame", "s"),
    ({"type": "set_role", **C1, "user": "bob", "role": "Admin", "client_id": "s"}, "invalid_frame", "s"),
    ({"type": "set_role", **C1, "user": "bob", "role": "admin"}, "invalid_frame", None),
    # pin
    ({"type": "pin", "pinned": True}, "invalid_frame", None),
    ({"type": "pin", **C1}, "invalid_frame", None),
    ({"type": "pin", **C1, "pinned": 1}, "invalid_frame", None),
    ({"type": "pin", **C1, "pinned": "true"}, "invalid_frame", None),
    # mute
    ({"type": "mute", "until": None}, "invalid_frame", None),
    ({"type": "mute", **C1, "until": "tomorrow"}, "invalid_frame", None),
    ({"type": "mute", **C1, "until": "2026-11-27T09:41:05"}, "invalid_frame", None),
    ({"type": "mute", **C1, "until": 1764236465}, "invalid_frame", None),
    ({"type": "mute", **C1, "until": "2026-11-27T09:41:05.123456+00:00" + " " * 10}, "invalid_frame", None),
    ({"type": "mute", **C1, "until": "Forever"}, "invalid_frame", None),
    # members
    ({"type": "members"}, "invalid_frame", None),
    ({"type": "members", "conversation": [1]}, "invalid_frame", None),
]


@pytest.mark.parametrize(
    ("frame", "code", "echoed"), REJECTED, ids=[f"{f['type']}-{i}" for i, (f, _, _) in enumerate(REJECTED)]
)
def test_each_rejected_user_socket_frame_has_its_code_and_echoes_ref_and_a_good_client_id(
    frame: dict, code: str, echoed: str | None
) -> None:
    for ref in ("req-1", 42):
        result = chat_validator.parse(json.dumps({**frame, "ref": ref}), allowed=USER)
        assert code_of(result) == code, (frame, result)
        assert result.ref == ref
        assert result.client_id == echoed
        assert result.detail


@pytest.mark.parametrize("ref", [0, 2**53, "r", "é" * 64, "😀"])
def test_a_usable_ref_is_carried_by_the_frame(ref: object) -> None:
    result = chat_validator.parse(json.dumps({"type": "ping", "ref": ref}), allowed=USER)
    assert not isinstance(result, ProtocolError) and result.ref == ref
    result = chat_validator.parse(json.dumps({"type": "ping", "ref": None}), allowed=USER)
    assert result.ref is None


@pytest.mark.parametrize("ref", ["", "x" * 65, -1, 2**53 + 1, 1.5, True, False, [1], {"a": 1}, "a\x00"])
def test_an_unusable_ref_is_invalid_frame_and_not_echoed(ref: object) -> None:
    result = chat_validator.parse(json.dumps({"type": "ping", "ref": ref}), allowed=USER)
    assert code_of(result) == "invalid_frame" and result.ref is None
    result = chat_validator.parse(json.dumps({"type": "members", **C1, "ref": ref}), allowed=USER)
    assert code_of(result) == "invalid_frame" and result.ref is None


def test_a_lone_surrogate_ref_is_not_echoed() -> None:
    result = chat_validator.parse('{"type": "ping", "ref": "a\\ud800"}', allowed=USER)
    assert code_of(result) == "invalid_frame" and result.ref is None


def test_the_title_limit_is_the_validators_setting_and_member_lists_are_bounded_by_the_frame_only() -> None:
    small = ConnectionValidator(max_length=4000, max_frame_bytes=65536, max_title_length=5)
    title_ok = {"type": "create_group", "title": " abcde ", "members": ["a", "b"], "client_id": "g"}
    assert isinstance(small.parse(json.dumps(title_ok), allowed=USER), CreateGroupFrame)
    too_long = small.parse(json.dumps({**title_ok, "title": "abcdef"}), allowed=USER)
    assert code_of(too_long) == "too_large" and too_long.extra == {"limit": 5, "setting": "MESSAGING_MAX_TITLE_LENGTH"}
    # More users than any group may hold is the store's too_many_members, not a malformed frame.
    many = small.parse(json.dumps({**title_ok, "members": [f"u{i}" for i in range(300)]}), allowed=USER)
    assert isinstance(many, CreateGroupFrame) and len(many.members) == 300


# --- ws/notifications/ ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"type": "mark_read", "id": 7, "ref": "m"}, MarkReadFrame(id=7, ref="m")),
        ({"type": "mark_all_read"}, MarkAllReadFrame()),
        ({"type": "list"}, ListFrame(before=None, limit=50)),
        ({"type": "list", "before": 9, "limit": 100, "ref": 3}, ListFrame(before=9, limit=100, ref=3)),
    ],
)
def test_notification_frames_are_parsed(frame: dict, expected: object) -> None:
    assert validator.parse(json.dumps(frame), allowed=NOTIFICATION_FRAMES) == expected


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "mark_read"},
        {"type": "mark_read", "id": -1},
        {"type": "mark_read", "id": "7"},
        {"type": "list", "before": -1},
        {"type": "list", "limit": 0},
        {"type": "list", "limit": 101},
        {"type": "message", "content": "x", "client_id": "x"},
    ],
)
def test_bad_notification_frames_are_invalid_and_echo_the_ref(frame: dict) -> None:
    result = validator.parse(json.dumps({**frame, "ref": "n-1"}), allowed=NOTIFICATION_FRAMES)
    assert code_of(result) == "invalid_frame" and result.ref == "n-1"


@pytest.mark.parametrize(
    ("endpoint", "frame"),
    [
        (CHAT_FRAMES, {"type": "dance"}),
        (CHAT_FRAMES, {"type": "mark_read", "id": 1}),
        (DIRECT_FRAMES, {"type": "create_group", "title": "t", "members": ["b"], "client_id": "g"}),
        (NOTIFICATION_FRAMES, {"type": "message", "content": "x", "client_id": "x"}),
    ],
)
def test_an_unknown_frame_type_echoes_a_usable_ref(endpoint: frozenset[str], frame: dict) -> None:
    """The contract: the error carries the request's ref whenever the frame had a usable one."""
    result = chat_validator.parse(json.dumps({**frame, "ref": "r-9"}), allowed=endpoint)
    assert code_of(result) == "invalid_frame" and result.ref == "r-9"


@pytest.mark.parametrize("frame_type", ["message", "leave"])
def test_an_unusable_ref_does_not_hide_a_usable_client_id(frame_type: str) -> None:
    frame = {"type": frame_type, **C1, "content": "hi", "client_id": "c-7", "ref": "x" * 65}
    result = chat_validator.parse(json.dumps(frame), allowed=USER)
    assert code_of(result) == "invalid_frame" and result.ref is None and result.client_id == "c-7"


def test_search_and_history_around_frames_parse_with_their_defaults_and_refuse_bad_fields() -> None:
    from messaging.connection_validator import SearchFrame

    def parse(frame: dict) -> object:
        return chat_validator.parse(json.dumps(frame), allowed=USER)

    assert parse({"type": "search", "q": "deplo*"}) == SearchFrame(q="deplo*", cursor=None, sort="newest", limit=20)
    assert parse({"type": "history", "conversation": 3, "around": 9}) == HistoryFrame(
        before=None, limit=50, conversation=3, around=9
    )
    for bad in (
        {"type": "search"},
        {"type": "search", "q": 5},
        {"type": "search", "q": "x", "sort": "random"},
        {"type": "search", "q": "x", "limit": 0},
        {"type": "search", "q": "x", "cursor": 7},
        {"type": "history", "conversation": 3, "around": 2, "before": 5},
    ):
        assert code_of(parse(bad)) == "invalid_frame", bad
