"""ConnectionValidator: never raises, accepts exactly the well-formed frames.

The first half checks the one-to-one view's frames (``ws/chat/<username>/``:
no ``conversation``), the second the user-level socket's (``ws/chat/``) and
the notification bell's.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging.connection_validator import (
    DIRECT_FRAMES,
    ConnectionValidator,
    HistoryFrame,
    MessageFrame,
    safe_get,
)
from messaging.exceptions import ErrorCode, ProtocolError

from .strategies import broken_frames, json_values, raw_frames, valid_frames

CHAT = DIRECT_FRAMES
assert frozenset({"message", "typing", "read", "sync", "history", "ping"}) == CHAT
validator = ConnectionValidator(max_length=4000, max_frame_bytes=65536, conversation_required=False)


def code_of(result: object) -> str | None:
    return result.code.value if isinstance(result, ProtocolError) else None


@given(raw_frames())
def test_parse_never_raises_on_any_frame(raw: str | bytes) -> None:
    if isinstance(raw, bytes):
        result = validator.parse(None, raw, allowed=CHAT)
    else:
        result = validator.parse(raw, allowed=CHAT)
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
    assert ConnectionValidator.validate_connection_data({**good, "user": Anonymous()}, required_kwargs=("username",)) is None
    assert ConnectionValidator.validate_connection_data({"user": user, "url_route": []}, required_kwargs=("username",)) is None


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
