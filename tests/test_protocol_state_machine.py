"""The protocol as a state machine, against the real consumers and database.

Two users each run a client (one app with a local store fed by any number of
open tabs). A tab speaks either the one-to-one view (``ws/chat/<peer>/``) or
the user-level socket (``ws/chat/``): both are the same conversation.
Hypothesis sends from either side and from either kind of tab, resends (also
from the other kind of tab), drops tabs, opens tabs (which sync from the
store's last seq), confirms receipt and reads. After every step: every
acknowledged message is stored exactly once, seqs are 1..n without gaps,
status never moved backwards, and a client that just synced holds exactly the
server's list.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from messaging.models import Conversation, Message, Participant
from messaging.realtime.presence import tracker

from . import cursors
from .strategies import contents
from .support import Socket, communicator, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RANK = {"sent": 0, "delivered": 1, "read": 2}
WHO = st.sampled_from(["a", "b"])
KIND = st.sampled_from(["direct", "user"])


class Tab(Socket):
    """An open socket of a client: ``kind`` is "direct" (``ws/chat/<peer>/``) or "user" (``ws/chat/``)."""

    kind = "direct"


class Client:
    """One user's app: a store of messages by seq, fed by every open tab of either kind."""

    def __init__(self, user: Any, peer_username: str) -> None:
        self.user = user
        self.peer_username = peer_username
        self.cookie = session_cookie(user)
        self.tabs: list[Tab] = []
        self.store: dict[int, int] = {}
        self.sent_client_ids: list[str] = []
        #: the direct conversation's id, once a frame named it
        self.conversation: int | None = None

    @property
    def last_seq(self) -> int:
        """The highest seq up to which the store has no gap."""
        seq = 0
        while seq + 1 in self.store:
            seq += 1
        return seq

    def keep(self, seq: int, message_id: int) -> None:
        held = self.store.get(seq)
        assert held is None or held == message_id, "two messages share a seq"
        self.store[seq] = message_id

    def take(self, frame: dict) -> None:
        """Keep what a frame of either endpoint carries."""
        kind = frame["type"]
        if kind in ("message", "ack") and "message" in frame:
            self.keep(frame["message"]["seq"], frame["message"]["id"])
        elif kind in ("event", "ack") and "event" in frame:
            event = frame["event"]
            self.conversation = event["conversation"]
            assert event["kind"] == "message", "a direct conversation has only message events"
            self.keep(event["seq"], event["id"])
        elif kind == "sync":
            for message in frame.get("messages", []):
                self.keep(message["seq"], message["id"])
            for event in frame.get("events", []):
                self.keep(event["seq"], event["id"])
        elif kind == "conversation":
            self.conversation = frame["conversation"]["id"]
        elif kind == "error":
            raise AssertionError(f"unexpected error frame {frame}")


class ProtocolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        channel_layers.backends.clear()
        tag = uuid.uuid4().hex[:8]
        users = get_user_model().objects
        a, b = users.create_user(f"a{tag}"), users.create_user(f"b{tag}")
        self.clients = {"a": Client(a, b.username), "b": Client(b, a.username)}
        self.acked: dict[int, dict] = {}
        self.ranks: dict[int, int] = {}
        self.synced: str | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 10))

    async def settle(self) -> None:
        """Read everything the open tabs have been sent so far into the stores."""
        for client in self.clients.values():
            for tab in client.tabs:
                for frame in await tab.drain(timeout=0.05):
                    client.take(frame)

    async def open_tab(self, client: Client, kind: str) -> None:
        path = f"/ws/chat/{client.peer_username}/" if kind == "direct" else "/ws/chat/"
        comm = communicator(path, client.cookie)
        connected, code = await comm.connect(timeout=5)
        assert connected, code
        tab = Tab(comm, await comm.receive_json_from(timeout=5))
        tab.kind = kind
        client.tabs.append(tab)
        if kind == "user" and client.conversation is None:
            # A fresh app finds its conversation in the inbox.
            await tab.send({"type": "conversations", "ref": "inbox"})
            inbox = await self.answer(client, tab, "conversations")
            for row in inbox["conversations"]:
                if row["peer"] and row["peer"]["username"] == client.peer_username:
                    client.conversation = row["id"]
        await self.sync(client, tab)

    async def sync(self, client: Client, tab: Tab) -> None:
        """Sync the tab's client from its store's last seq, following ``has_more``."""
        if tab.kind == "user" and client.conversation is None:
            return  # nothing was ever said: there is no conversation to sync
        after = client.last_seq
        while True:
            if tab.kind == "direct":
                await tab.send({"type": "sync", "after": after})
            else:
                await tab.send({"type": "sync", "conversation": client.conversation, "after": after})
            frame = await self.answer(client, tab, "sync")
            items = frame.get("messages", frame.get("events", []))
            if not frame["has_more"] or not items:
                break
            after = items[-1]["seq"]

    async def answer(self, client: Client, tab: Tab, frame_type: str) -> dict:
        """Read the tab's frames into the store up to the next ``frame_type``."""
        while True:
            frame = await tab.receive()
            client.take(frame)
            if frame["type"] == frame_type:
                return frame

    # --- Rules ------------------------------------------------------------------

    @rule(who=WHO, kind=KIND)
    def open(self, who: str, kind: str) -> None:
        self.run(self.settle())
        self.run(self.open_tab(self.clients[who], kind))
        self.synced = who

    def draw_client(self, data: st.DataObject, usable: Callable[[Client], bool] = lambda c: bool(c.tabs)) -> Client:
        """One of the clients the rule can act on (the rule's precondition says there is one)."""
        who = data.draw(st.sampled_from(sorted(w for w, c in self.clients.items() if usable(c))), label="who")
        return self.clients[who]

    @precondition(lambda self: any(c.tabs for c in self.clients.values()))
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        client = self.draw_client(data)
        tab = client.tabs.pop(data.draw(st.integers(0, len(client.tabs) - 1)))
        self.run(tab.close())
        self.synced = None

    @precondition(lambda self: any(c.tabs for c in self.clients.values()))
    @rule(data=st.data(), content=contents(20))
    def send(self, data: st.DataObject, content: str) -> None:
        client = self.draw_client(data)
        client_id = uuid.uuid4().hex
        client.sent_client_ids.append(client_id)
        self.run(self._send(client, client.tabs[0], content, client_id))
        self.synced = None

    @precondition(lambda self: any(c.sent_client_ids and c.tabs for c in self.clients.values()))
    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        client = self.draw_client(data, lambda c: bool(c.sent_client_ids and c.tabs))
        client_id = data.draw(st.sampled_from(client.sent_client_ids))
        self.run(self._send(client, client.tabs[-1], "resent", client_id))
        self.synced = None

    async def _send(self, client: Client, tab: Tab, content: str, client_id: str) -> None:
        frame: dict[str, Any] = {"type": "message", "content": content, "client_id": client_id}
        if tab.kind == "user":
            # The first message goes "to" the peer (it makes the conversation); later ones name it.
            if client.conversation is None:
                frame["to"] = client.peer_username
            else:
                frame["conversation"] = client.conversation
        await tab.send(frame)
        while True:
            frame = await tab.receive()
            client.take(frame)
            if frame["type"] == "ack" and frame["client_id"] == client_id:
                break
        message = frame.get("message") or frame["event"]
        first = self.acked.setdefault(message["id"], message)
        assert first["seq"] == message["seq"], "a repeat was acknowledged with another seq"

    @precondition(lambda self: any(c.tabs for c in self.clients.values()))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        client = self.draw_client(data)
        self.run(self.settle())
        self.run(self.report(client, client.tabs[0], "read"))
        self.synced = None

    @precondition(lambda self: any(t.kind == "user" for c in self.clients.values() for t in c.tabs))
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        """A ``ws/chat/`` tab confirms what its client holds (``received``)."""
        client = self.draw_client(data, lambda c: any(t.kind == "user" for t in c.tabs))
        self.run(self.settle())
        self.run(self.report(client, next(t for t in client.tabs if t.kind == "user"), "received"))
        self.synced = None

    async def report(self, client: Client, tab: Tab, kind: str) -> None:
        if tab.kind == "direct":
            await tab.send({"type": kind, "up_to": client.last_seq})
        elif client.conversation is not None:
            await tab.send({"type": kind, "conversation": client.conversation, "up_to": client.last_seq})

    # --- Invariants ---------------------------------------------------------------

    @invariant()
    def every_acknowledged_message_is_stored_exactly_once_without_gaps(self) -> None:
        conversation_ids = set(Message.objects.filter(pk__in=self.acked).values_list("conversation_id", flat=True))
        assert len(conversation_ids) <= 1
        stored = list(Message.objects.filter(conversation_id__in=conversation_ids).values_list("id", "seq"))
        assert sorted(seq for _, seq in stored) == list(range(1, len(stored) + 1))
        assert {pk for pk, _ in stored} == set(self.acked)

    @invariant()
    def status_never_moves_backwards(self) -> None:
        a, b = self.clients["a"].user, self.clients["b"].user
        conversation = Conversation.objects.filter(direct_key=Conversation.direct_key_for(a.pk, b.pk)).first()
        if conversation is None:
            return
        for seq, status in cursors.statuses(conversation, a, b).items():
            assert RANK[status] >= self.ranks.get(seq, 0)
            self.ranks[seq] = RANK[status]
        for member in Participant.objects.filter(conversation=conversation):
            assert member.read_seq <= member.delivered_seq <= conversation.last_seq

    @invariant()
    def a_client_that_just_synced_holds_exactly_the_servers_list(self) -> None:
        if self.synced is None:
            return
        client = self.clients[self.synced]
        server = list(Message.objects.filter(pk__in=self.acked).order_by("seq").values_list("seq", "id"))
        assert sorted(client.store.items()) == server

    def teardown(self) -> None:
        for client in self.clients.values():
            for tab in client.tabs:
                if not tab.comm.future.done():
                    self.run(tab.close())
        tracker.stop()
        self.loop.close()
        channel_layers.backends.clear()


def test_protocol_state_machine(transactional_db: None) -> None:
    run_state_machine_as_test(
        ProtocolMachine,
        settings=settings(max_examples=16, stateful_step_count=14, deadline=None),
    )
