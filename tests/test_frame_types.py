"""The frame types of the two sides agree: Python's (``messaging/frames.py``, the validator's dataclasses) and the browser's (``frames.d.ts``).

Both follow docs/protocol.md; mypy checks the server against the first, tsc
the browser against the second. These tests read the frame type names out
of each and compare them, both directions, so a frame added on one side only
fails here instead of drifting.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from messaging import frames
from messaging.connection_validator import (
    CHAT_FRAMES,
    DIRECT_FRAMES,
    NOTIFICATION_FRAMES,
    ConnectionValidator,
    Frame,
)
from tests.servers import ROOT
from tests.support.answers import USER_ANSWERS

FRAMES_D_TS = ROOT / "messaging" / "static" / "messaging" / "js" / "protocol" / "frames.d.ts"
pytestmark = pytest.mark.stack_independent


# --- Reading frames.d.ts -------------------------------------------------------------


def _balanced(text: str, start: int, stop: str) -> str:
    """``text`` from ``start`` up to the first ``stop`` character outside brackets."""
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char == stop and depth == 0:
            return text[start:index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
    raise AssertionError(f"no {stop!r} closes the declaration at {start}")


def _top_level(body: str) -> str:
    """``body`` without the contents of its nested ``{...}`` (an object type's own fields only)."""
    while True:
        flat = re.sub(r"\{[^{}]*\}", "", body)
        if flat == body:
            return body
        body = flat


def _objects(text: str) -> list[str]:
    """The insides of the outermost ``{...}`` of ``text`` (the inline object types of a union)."""
    found, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "{":
            if depth == 0:
                start = index + 1
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                found.append(text[start:index])
    return found


def _literals(fields: str) -> set[str]:
    """The string literals the ``type`` field of these fields may hold."""
    return {
        name
        for union in re.findall(r'\btype:\s*((?:"\w+"\s*\|?\s*)+)', fields)
        for name in re.findall(r'"(\w+)"', union)
    }


def ts_frame_names(alias: str) -> set[str]:
    """The ``type`` names of every frame in the union ``alias`` of frames.d.ts (inline or by interface)."""
    source = re.sub(r"//[^\n]*|/\*.*?\*/", "", FRAMES_D_TS.read_text(), flags=re.DOTALL)
    start = re.search(rf"export type {alias}\s*=", source)
    assert start is not None, f"frames.d.ts declares no {alias}"
    union = _balanced(source, start.end(), ";")
    names = {name for inline in _objects(union) for name in _literals(_top_level(inline))}
    for referenced in set(re.findall(r"\b([A-Z]\w*)\b", _top_level(union))):
        interface = re.search(rf"interface {referenced}\b[^{{]*\{{", source)
        if interface is not None:
            names |= _literals(_top_level(_balanced(source, interface.end(), "}")))
    return names


def ts_interface_frame_names(name: str) -> set[str]:
    """The ``type`` names of the frames.d.ts interface ``name`` (empty when there is none)."""
    source = re.sub(r"//[^\n]*|/\*.*?\*/", "", FRAMES_D_TS.read_text(), flags=re.DOTALL)
    interface = re.search(rf"interface {name}\b[^{{]*\{{", source)
    return set() if interface is None else _literals(_top_level(_balanced(source, interface.end(), "}")))


def ts_request_answers() -> dict[str, str]:
    """frames.d.ts ``RequestAnswers``: each request's ``type``, and the name of the frame type that answers it."""
    source = re.sub(r"//[^\n]*|/\*.*?\*/", "", FRAMES_D_TS.read_text(), flags=re.DOTALL)
    start = re.search(r"export interface RequestAnswers\s*\{", source)
    assert start is not None, "frames.d.ts declares no RequestAnswers"
    body = _balanced(source, start.end(), "}")
    return dict(re.findall(r"(\w+)\s*:\s*(\w+)\s*;", body))


# --- Reading the Python side ---------------------------------------------------------


def py_frame_names(union: object) -> set[str]:
    """The ``type`` names of the ``TypedDict``s (or dataclasses) of ``union``, from their ``Literal`` annotations."""
    names: set[str] = set()
    for member in typing.get_args(union):
        hint = typing.get_type_hints(member)["type"]
        assert typing.get_origin(hint) is typing.Literal, f"{member.__name__}.type is not a Literal"
        names |= set(typing.get_args(hint))
    return names


# --- The checks -------------------------------------------------------------------------


def test_ws_chat_server_frames_are_the_same_in_frames_py_and_frames_d_ts() -> None:
    assert py_frame_names(frames.ChatServerFrame) == ts_frame_names("ServerFrame")


def test_ws_notifications_server_frames_are_the_same_in_frames_py_and_frames_d_ts() -> None:
    assert py_frame_names(frames.NotificationServerFrame) == ts_frame_names("NotificationServerFrame")


def test_ws_chat_client_frames_the_validator_accepts_are_the_ones_frames_d_ts_sends() -> None:
    assert set(CHAT_FRAMES) == ts_frame_names("ClientFrame")


def test_ws_notifications_client_frames_the_validator_accepts_are_the_ones_frames_d_ts_sends() -> None:
    assert set(NOTIFICATION_FRAMES) == ts_frame_names("NotificationClientFrame")


def test_the_validators_dataclasses_describe_every_client_frame_it_accepts_and_no_other() -> None:
    # The one description the consumers read: each accepted type is the Literal of a Frame dataclass.
    described = py_frame_names(Frame)
    builders = set(ConnectionValidator(max_length=1, max_frame_bytes=1)._builders)

    assert described == builders == set(CHAT_FRAMES | NOTIFICATION_FRAMES | DIRECT_FRAMES)
    assert all(dataclasses.is_dataclass(member) for member in typing.get_args(Frame))


def test_the_reader_of_frames_d_ts_sees_a_frame_added_inline_or_by_interface() -> None:
    # The comparison above is only as good as this reader: it must see both ways a union names a frame.
    assert {"ping", "react", "unreact", "search"} <= ts_frame_names("ClientFrame")
    assert {"connected", "edits", "error"} <= ts_frame_names("ServerFrame")
    assert {"unread_count", "settings", "pong"} <= ts_frame_names("NotificationServerFrame")


#: the client frames docs/protocol.md answers with "none": sent, never answered by ref (so never requested)
UNANSWERED = {"received", "read", "typing", "view", "mark_read", "mark_all_read"}


def test_request_answers_names_an_answer_for_every_client_frame_the_server_answers() -> None:
    # The browser's requests (protocol/requests.js) resolve with RequestAnswers[type]: a frame the
    # validator accepts and the server answers by ref must be there, and nothing else.
    answered = set(CHAT_FRAMES | NOTIFICATION_FRAMES) - UNANSWERED

    assert set(ts_request_answers()) == answered


def test_each_request_answer_is_a_server_frame_that_carries_the_ref_in_frames_py_too() -> None:
    # An answer type of RequestAnswers is a frame of the server unions, declared under the same name
    # and with the same type on the Python side, where it is an ``Answer`` (it may carry ``ref``).
    sent = ts_frame_names("ServerFrame") | ts_frame_names("NotificationServerFrame")
    for request, name in ts_request_answers().items():
        ts_types = ts_interface_frame_names(name)
        assert ts_types, f"RequestAnswers.{request}: frames.d.ts has no interface {name} with a type"
        assert ts_types <= sent, f"RequestAnswers.{request}: {name} is not a frame the server sends"
        py_frame = getattr(frames, name, None)
        assert py_frame is not None, f"RequestAnswers.{request}: messaging/frames.py has no {name}"
        hints = typing.get_type_hints(py_frame)
        assert set(typing.get_args(hints["type"])) == ts_types, name
        assert "ref" in hints, f"{name} does not carry the request's ref in frames.py"


def test_request_answers_are_the_answers_the_fuzzing_sees_the_consumers_give() -> None:
    # tests/test_fuzz_frames.py sends every frame type to the real consumers and checks that each
    # is answered with the frame type USER_ANSWERS names; RequestAnswers is what the browser's
    # requests resolve with. The two must be the same table, or the browser awaits a frame the
    # server never sends.
    assert set(USER_ANSWERS) == CHAT_FRAMES, "the fuzzing's table has a row for every frame ws/chat/ speaks"
    answered_by_the_consumers = {request: {answer} for request, answer in USER_ANSWERS.items() if answer is not None}
    answered_by_the_consumers["list"] = {"notifications"}  # ws/notifications/ (expected_answer there)
    promised = {request: ts_interface_frame_names(name) for request, name in ts_request_answers().items()}
    assert promised == answered_by_the_consumers
