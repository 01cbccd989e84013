"""Any interleaving of message actions converges every client to the database's view.

Three members of a group, each a client holding the events it was given:
sync pages (in pieces, from its cursor), newest history pages, and the live
pushes of every change (delivered late, out of order, or twice). A client
keeps, per message, the newest state it was given (``as_of``) and folds the
edits, deletions and reactions above it in seq order, as the browser's
``protocol/messages.js`` does. Hypothesis sends, replies, edits, deletes for
everyone and for oneself, clears, reacts and repeats actions with a known
``client_id``; after a client has synced to the end, what it shows equals what
a history page serves it. A deleted message's text is then in no table and
in no page served afterwards, and a repeated ``client_id`` stores nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from messaging.models import Event, EventKind
from messaging.serializers import JSONSerializer, event_payload
from messaging.store import errors, message_actions, reading
from messaging.store.events import create_message

from .groups import make_group
from .message_actions import history, rows_holding, sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EMOJI = ["👍", "🎉", "😮"]
ACTIONS = (errors.NotFound, errors.Forbidden, errors.WindowClosed)


def wire(value: Any) -> Any:
    return json.loads(JSONSerializer.dumps(value))


class Client:
    """One user's copy of the log, as the browser keeps it."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.events: dict[int, dict[str, Any]] = {}
        self.cursor = 0
        self.cleared = 0
        self.hidden: set[int] = set()

    def take(self, event: dict[str, Any]) -> None:
        held = self.events.get(event["seq"])
        if (
            held is None
            or event.get("hidden")
            or (
                event["kind"] == EventKind.MESSAGE
                and not held.get("hidden")
                # The newest state wins; a state without as_of is the row alone.
                and (event.get("as_of") or 0) >= (held.get("as_of") or 0)
            )
        ):
            self.events[event["seq"]] = event
        while self.cursor + 1 in self.events:
            self.cursor += 1

    def shows(self) -> dict[int, tuple]:
        """seq -> (content, deleted, reply_to seq, {emoji: sorted users}) of every message it shows."""
        by_target: dict[int, list[dict[str, Any]]] = {}
        for e in self.events.values():
            if e["kind"] in (
                EventKind.EDITED,
                EventKind.DELETED,
                EventKind.REACTION_ADDED,
                EventKind.REACTION_REMOVED,
            ) and not e.get("hidden"):
                by_target.setdefault(e["target_seq"], []).append(e)
        shown = {}
        for seq, e in self.events.items():
            if e["kind"] != EventKind.MESSAGE or e.get("hidden") or seq <= self.cleared or seq in self.hidden:
                continue
            content, deleted = e["content"], e["deleted"]
            reactions = {r["emoji"]: set(r["users"]) for r in e["reactions"]}
            for m in sorted(by_target.get(seq, []), key=lambda m: m["seq"]):
                if m["seq"] <= (e["as_of"] or seq) or deleted:
                    continue
                if m["kind"] == EventKind.EDITED:
                    content = m["content"]
                elif m["kind"] == EventKind.DELETED:
                    content, deleted, reactions = "", True, {}
                elif m["kind"] == EventKind.REACTION_ADDED:
                    reactions.setdefault(m["data"]["emoji"], set()).add(m["sender"])
                else:
                    reactions.get(m["data"]["emoji"], set()).discard(m["sender"])
            reply = (e.get("reply_to") or {}).get("seq")
            shown[seq] = (content, deleted, reply, {k: sorted(v) for k, v in reactions.items() if v})
        return shown


class MessageActions(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        from django.contrib.auth import get_user_model

        User = get_user_model()
        suffix = uuid.uuid4().hex[:6]
        self.users = [User.objects.create_user(f"{n}{suffix}", password="x") for n in ("ann", "ben", "cat")]
        self.group = make_group(self.users[0], self.users[1:])
        self.clients = [Client(u) for u in self.users]
        self.pushes: list[dict[str, Any]] = []
        self.messages: list[int] = []
        self.versions: dict[int, list[str]] = {}
        self.purged: set[str] = set()
        self.done: list[tuple[int, str, str, tuple]] = []  # (user, kind, client_id, args) of stored actions
        self.counter = 0

    def text(self) -> str:
        self.counter += 1
        return f"txt{self.counter}q{uuid.uuid4().hex[:8]}"

    def push(self, appended: Any) -> None:
        if appended is not None and appended.created:
            self.pushes.append(wire(event_payload(appended.event)))

    @rule(who=st.integers(0, 2), reply=st.booleans(), pick=st.integers(0, 50))
    def send(self, who: int, reply: bool, pick: int) -> None:
        text = self.text()
        reply_to = self.messages[pick % len(self.messages)] if reply and self.messages else None
        try:
            appended = create_message(self.group, self.users[who], text, uuid.uuid4().hex, reply_to=reply_to)
        except errors.NotFound:
            return  # the original is hidden for them or was cleared
        self.messages.append(appended.event.seq)
        self.versions[appended.event.seq] = [text]
        self.push(appended)

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 2), pick=st.integers(0, 50))
    def edit(self, who: int, pick: int) -> None:
        seq = self.messages[pick % len(self.messages)]
        text, client_id = self.text(), uuid.uuid4().hex
        try:
            change = message_actions.edit_message(self.users[who], self.group, seq, text, client_id, window=None)
        except ACTIONS:
            return
        self.versions[seq].append(text)
        self.push(change.appended)
        self.done.append((who, "edit", client_id, (seq, text)))

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 2), pick=st.integers(0, 50))
    def delete_for_everyone(self, who: int, pick: int) -> None:
        seq = self.messages[pick % len(self.messages)]
        client_id = uuid.uuid4().hex
        try:
            change = message_actions.delete_message(self.users[who], self.group, seq, client_id, window=None)
        except ACTIONS:
            return
        if change.appended is not None:
            self.purged.update(self.versions[seq])
            self.done.append((who, "delete", client_id, (seq,)))
        self.push(change.appended)
        assert [r for text in self.versions[seq] for r in rows_holding(text)] == []

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 2), pick=st.integers(0, 50), emoji=st.sampled_from(EMOJI), add=st.booleans())
    def react(self, who: int, pick: int, emoji: str, add: bool) -> None:
        seq = self.messages[pick % len(self.messages)]
        client_id = uuid.uuid4().hex
        try:
            change = message_actions.react(
                self.users[who], self.group, seq, emoji, client_id, add=add, max_reactions=20
            )
        except ACTIONS:
            return
        self.push(change.appended)
        if change.appended is not None:
            self.done.append((who, "react" if add else "unreact", client_id, (seq, emoji)))

    @precondition(lambda self: self.messages)
    @rule(who=st.integers(0, 2), picks=st.lists(st.integers(0, 50), min_size=1, max_size=3))
    def delete_for_me(self, who: int, picks: list[int]) -> None:
        seqs = [self.messages[p % len(self.messages)] for p in picks]
        client = self.clients[who]
        try:
            hidden = message_actions.hide_messages(self.users[who], self.group, seqs)
        except errors.NotFound:
            return
        client.hidden.update(hidden.seqs)

    @rule(who=st.integers(0, 2))
    def clear(self, who: int) -> None:
        hidden = message_actions.clear_conversation(self.users[who], self.group)
        self.clients[who].cleared = hidden.cleared_seq

    @precondition(lambda self: self.done)
    @rule(pick=st.integers(0, 50))
    def repeat(self, pick: int) -> None:
        who, kind, client_id, args = self.done[pick % len(self.done)]
        before = Event.objects.count()
        user = self.users[who]
        if kind == "edit":
            change = message_actions.edit_message(user, self.group, args[0], args[1], client_id, window=None)
        elif kind == "delete":
            change = message_actions.delete_message(user, self.group, args[0], client_id, window=None)
        else:
            change = message_actions.react(
                user, self.group, args[0], args[1], client_id, add=kind == "react", max_reactions=20
            )
        assert not change.appended.created
        assert Event.objects.count() == before

    @rule(who=st.integers(0, 2), data=st.data())
    def live_pushes(self, who: int, data: st.DataObject) -> None:
        """Some of the pushes reach a client, late and in any order, some twice."""
        if not self.pushes:
            return
        chosen = data.draw(st.lists(st.sampled_from(self.pushes), max_size=6))
        for event in chosen:
            self.clients[who].take(event)

    @rule(who=st.integers(0, 2), step=st.integers(1, 7))
    def sync_some(self, who: int, step: int) -> None:
        client = self.clients[who]
        page = reading.sync_page(client.user.pk, self.group, client.cursor, step)
        served = wire({"events": [event_payload(e) for e in page.page.events]})
        self.check_served(served)
        for event in served["events"]:
            client.take(event)

    @rule(who=st.integers(0, 2))
    def newest_history(self, who: int) -> None:
        page = history(self.users[who], self.group, limit=5)
        self.check_served(page)
        for event in page["events"]:
            self.clients[who].take(event)

    @rule(who=st.integers(0, 2))
    def catch_up_and_compare(self, who: int) -> None:
        client = self.clients[who]
        while True:
            page = sync(client.user, self.group, after=client.cursor)
            self.check_served(page)
            for event in page["events"]:
                client.take(event)
            if not page["has_more"]:
                break
        served = history(client.user, self.group)
        self.check_served(served)
        database = Client(client.user)
        for event in served["events"]:
            database.take(event)
        assert client.shows() == database.shows()

    def check_served(self, page: dict[str, Any]) -> None:
        text = json.dumps(page, ensure_ascii=False)
        assert not [t for t in self.purged if t in text], "a page served a deleted message's text"

    @invariant()
    def seqs_have_no_gaps(self) -> None:
        if hasattr(self, "group"):
            seqs = list(Event.objects.filter(conversation_id=self.group).order_by("seq").values_list("seq", flat=True))
            assert seqs == list(range(1, len(seqs) + 1))


def test_every_client_converges_to_the_database_view_and_deleted_text_is_gone(transactional_db: None) -> None:
    run_state_machine_as_test(MessageActions, settings=settings(max_examples=25, stateful_step_count=25, deadline=None))
