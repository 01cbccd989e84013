"""JSONSerializer: valid JSON for every supported value, and the contract's payloads."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging.exceptions import SerializationError
from messaging.serializers import (
    Cursors,
    JSONSerializer,
    answer,
    event_ack_frame,
    event_ack_text,
    event_frame,
    event_frame_text,
    event_payload,
    isoformat,
    message_payload,
    rendered_payload,
)

from .strategies import serializable_values


@given(serializable_values)
def test_dumps_emits_valid_json_for_any_supported_value(value: object) -> None:
    text = JSONSerializer.dumps(value)
    json.loads(text)


def test_datetimes_keep_microseconds_and_an_explicit_offset() -> None:
    moment = datetime.datetime(2026, 11, 27, 9, 41, 5, 123456, tzinfo=datetime.UTC)
    assert JSONSerializer.dumps({"at": moment}) == '{"at":"2026-11-27T09:41:05.123456+00:00"}'
    plus_one = moment.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    assert isoformat(plus_one) == "2026-11-27T09:41:05.123456+00:00"


@given(
    st.datetimes(min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(2200, 1, 1)),
    st.one_of(
        st.none(),
        st.just(datetime.UTC),
        st.builds(
            datetime.timezone,
            st.timedeltas(min_value=-datetime.timedelta(hours=23), max_value=datetime.timedelta(hours=23)),
        ),
    ),
)
def test_any_datetime_is_written_as_the_same_moment_in_utc(moment: datetime.datetime, zone: Any) -> None:
    """A naive time is read as UTC; an aware one in any offset (UTC itself skips the conversion) gives the same text."""
    value = moment.replace(tzinfo=zone) if zone is not None else moment
    text = isoformat(value)
    assert text.endswith("+00:00") and len(text) == len("2026-11-27T09:41:05.123456+00:00")
    parsed = datetime.datetime.fromisoformat(text)
    assert parsed == (value if zone is not None else moment.replace(tzinfo=datetime.UTC))


def test_unserializable_values_raise_serialization_error() -> None:
    with pytest.raises(SerializationError):
        JSONSerializer.dumps({"x": object()})
    with pytest.raises(SerializationError):
        JSONSerializer.dumps({"x": float("nan")})


def test_loads_rejects_non_json_constants() -> None:
    with pytest.raises(ValueError):
        JSONSerializer.loads("NaN")


@pytest.mark.parametrize("text", ['{"x": [Infinity]}', "-Infinity", b'{"x": NaN}'])
def test_loads_rejects_non_json_constants_anywhere(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        JSONSerializer.loads(text)
    assert JSONSerializer.loads('{"x": [1.5e3]}') == {"x": [1500.0]}


@pytest.mark.django_db
def test_message_payload_round_trips(make_user) -> None:
    """The first contract's ``M`` of a message event, as the one-to-one view sends it."""
    from messaging.store import conversations, events

    alice, bob = make_user("alice"), make_user("bob")
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    message = events.create_message(conversation.pk, alice, "hi <b>bob</b> 😀", "c-1").event
    payload = json.loads(JSONSerializer.dumps(message_payload(event_payload(message), Cursors("bob"))))
    assert payload["id"] == message.pk
    assert payload["seq"] == 1
    assert payload["sender"] == "alice"
    assert payload["recipient"] == "bob"
    assert payload["content"] == "hi <b>bob</b> 😀"
    assert payload["client_id"] == "c-1"
    assert payload["status"] == "sent"
    assert payload["delivered_at"] is None and payload["read_at"] is None
    assert datetime.datetime.fromisoformat(payload["created_at"]) == message.created_at


@pytest.mark.django_db
def test_an_event_encodes_as_its_payload_e(make_user) -> None:
    from messaging.store import conversations, events

    alice, bob = make_user("alice"), make_user("bob")
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    message = events.create_message(conversation.pk, alice, "hi", "c-1").event
    payload = json.loads(JSONSerializer.dumps(message))
    assert payload == json.loads(JSONSerializer.dumps(event_payload(message)))
    assert payload == {
        "conversation": conversation.pk,
        "seq": 1,
        "id": message.pk,
        "kind": "message",
        "sender": "alice",
        "created_at": isoformat(message.created_at),
        "client_id": "c-1",
        "content": "hi",
        "target_seq": None,
        "data": {},
        # A message's state (message actions): just stored, folded up to its own seq.
        "edited_at": None,
        "deleted": False,
        "reactions": [],
        "reply_to": None,
        "as_of": 1,
    }


@pytest.mark.parametrize(
    ("delivered", "read", "status"),
    [(0, 0, "sent"), (4, 0, "sent"), (5, 0, "delivered"), (9, 4, "delivered"), (5, 5, "read"), (9, 9, "read")],
)
def test_a_status_is_derived_from_the_recipients_cursors(delivered: int, read: int, status: str) -> None:
    moment = datetime.datetime(2026, 11, 27, 9, 41, 5, tzinfo=datetime.UTC)
    recipient = Cursors("bob", delivered, read, moment if delivered else None, moment if read else None)
    event = {"id": 1, "seq": 5, "sender": "alice", "content": "x", "client_id": "c", "created_at": moment}
    payload = message_payload(event, recipient)
    assert payload["status"] == status
    assert (payload["delivered_at"] is not None) == (status != "sent")
    assert (payload["read_at"] is not None) == (status == "read")


@given(
    content=st.text(max_size=40),
    client_id=st.text(min_size=1, max_size=20),
    ref=st.none() | st.integers() | st.text(max_size=10),
)
def test_the_event_and_ack_built_around_a_rendered_payload_are_the_frames_serialized(content, client_id, ref):
    payload = {
        "conversation": 3,
        "seq": 7,
        "id": 11,
        "kind": "message",
        "sender": "ann",
        "content": content,
        "client_id": client_id,
        "created_at": "2026-11-30T12:00:00.000000Z",
        "data": {},
        "reply_to": None,
    }
    rendered = rendered_payload(payload)
    assert rendered == payload
    assert event_frame_text(rendered) == JSONSerializer.dumps(event_frame(payload))
    assert event_ack_text(rendered, ref) == JSONSerializer.dumps(answer(event_ack_frame(payload), ref))
