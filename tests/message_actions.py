"""Helpers for the message-action tests: actions through the store, pages as a client gets them, and a scan of every text column."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import TextField
from django.db.models.functions import Cast

from messaging.serializers import JSONSerializer, history_frame, sync_frame
from messaging.store import message_actions, reading


def cid() -> str:
    return uuid.uuid4().hex


def edit(user: Any, conversation_id: int, seq: int, content: str, **options: Any) -> message_actions.Change:
    return message_actions.edit_message(
        user, conversation_id, seq, content, cid(), window=options.pop("window", None), **options
    )


def delete(user: Any, conversation_id: int, seq: int, **options: Any) -> message_actions.Change:
    return message_actions.delete_message(
        user, conversation_id, seq, cid(), window=options.pop("window", None), **options
    )


def react(
    user: Any, conversation_id: int, seq: int, emoji: str, *, add: bool = True, **options: Any
) -> message_actions.Change:
    return message_actions.react(
        user, conversation_id, seq, emoji, cid(), add=add, max_reactions=options.pop("max_reactions", 20), **options
    )


def sync(user: Any, conversation_id: int, after: int = 0) -> dict[str, Any]:
    """A sync page as the wire carries it (serialized and parsed back)."""
    page = reading.sync_page(user.pk, conversation_id, after, 100)
    frame = sync_frame(conversation_id, page.page.events, page.page.has_more, page.last_seq, page.receipts)
    return json.loads(JSONSerializer.dumps(frame))


def history(user: Any, conversation_id: int, before: int | None = None, limit: int = 100) -> dict[str, Any]:
    _, page = reading.history_page(user.pk, conversation_id, before, limit)
    return json.loads(JSONSerializer.dumps(history_frame(conversation_id, page.events, page.has_more)))


def messages_of(page: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {e["seq"]: e for e in page["events"] if e["kind"] == "message" and not e.get("hidden")}


def text_columns() -> list[tuple[type[models.Model], str]]:
    """Every column of every table of the app (and the auth tables) that can hold a user's text."""
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in {"messaging", "auth", "sessions", "admin"} or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, (models.CharField, models.TextField, models.JSONField)):
                found.append((model, field.attname))
    return found


def rows_holding(text: str) -> list[str]:
    """``table.column #pk`` of every row where ``text`` appears (JSON columns as their text)."""
    hits = []
    for model, column in text_columns():
        query = model.objects.annotate(_as_text=Cast(column, TextField())).filter(_as_text__contains=text)
        hits += [f"{model._meta.db_table}.{column} #{pk}" for pk in query.values_list("pk", flat=True)]
    return hits
