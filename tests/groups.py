"""Helpers for the group tests: groups made through the store, and the database as one comparable value."""

from __future__ import annotations

import uuid
from typing import Any

from messaging.models import Conversation, Event, Participant
from messaging.store import conversations


def new_client_id() -> str:
    return uuid.uuid4().hex


def make_group(owner: Any, members: list[Any], title: str = "Trip", *, max_members: int = 256) -> int:
    """A group made through the store (as ``create_group`` would); its id."""
    change = conversations.create_group(
        owner, title, [m.get_username() for m in members], new_client_id(), max_members=max_members
    )
    return change.conversation.pk


def database_state() -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Every conversation, membership and event row, ordered: equal before and after means nothing changed."""
    return (
        list(Conversation.objects.order_by("pk").values_list()),
        list(Participant.objects.order_by("pk").values_list()),
        list(Event.objects.order_by("pk").values_list()),
    )
