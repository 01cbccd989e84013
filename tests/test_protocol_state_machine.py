"""The protocol as a state machine, against the real consumers and database.

Two users each run a client (one app with a local store fed by any number of
open tabs). Hypothesis sends from either side, resends, drops tabs, opens
tabs (which sync from the store's last seq), and reads. After every step:
every acknowledged message is stored exactly once, seqs are 1..n without gaps,
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

from messaging.models import Message
from messaging.realtime.presence import tracker

from .conftest import Socket, communicator, session_cookie
from .strategies import contents

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RANK = {"sent": 0, "delivered": 1, "read": 2}
WHO = st.sampled_from(["a", "b"])


class Client:
    """One user's app: a store of messages by seq, fed by every open tab."""

    def __init__(self, user: Any, peer_username: str) -> None:
        self.user = user
        self.peer_username = peer_username
        self.cookie = session_cookie(user)
        self.tabs: list[Socket] = []
        self.store: dict[int, dict] = {}
        self.sent_client_ids: list[str] = []

    @property
    def last_seq(self) -> int:
        """The highest seq up to which the store has no gap."""
        seq = 0
        while seq + 1 in self.store:
            seq += 1
        return seq

    def take(self, frame: dict) -> None:
        if frame["type"] in ("message", "ack"):
            message = frame["message"]
            held = self.store.get(message["seq"])
            assert held is None or held["id"] == message["id"], "two messages share a seq"
            self.store[message["seq"]] = message
        elif frame["type"] == "sync":
            for message in frame["messages"]:
                self.take({"type": "message", "message": message})


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

    async def open_tab(self, client: Client) -> None:
        comm = communicator(f"/ws/chat/{client.peer_username}/", client.cookie)
        connected, code = await comm.connect(timeout=5)
        assert connected, code
        tab = Socket(comm, await comm.receive_json_from(timeout=5))
        client.tabs.append(tab)
        after = client.last_seq
        while True:
            await tab.send({"type": "sync", "after": after})
            while True:
                frame = await tab.receive()
                client.take(frame)
                if frame["type"] == "sync":
                    break
            if not frame["has_more"] or not frame["messages"]:
                break
            after = frame["messages"][-1]["seq"]

    # --- Rules ------------------------------------------------------------------

    @rule(who=WHO)
    def open(self, who: str) -> None:
        self.run(self.settle())
        self.run(self.open_tab(self.clients[who]))
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

    async def _send(self, client: Client, tab: Socket, content: str, client_id: str) -> None:
        await tab.send({"type": "message", "content": content, "client_id": client_id})
        while True:
            frame = await tab.receive()
            client.take(frame)
            if frame["type"] == "ack" and frame["client_id"] == client_id:
                break
        message = frame["message"]
        first = self.acked.setdefault(message["id"], message)
        assert first["seq"] == message["seq"], "a repeat was acknowledged with another seq"

    @precondition(lambda self: any(c.tabs for c in self.clients.values()))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        client = self.draw_client(data)
        self.run(self.settle())
        self.run(client.tabs[0].send({"type": "read", "up_to": client.last_seq}))
        self.synced = None

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
        for pk, status in Message.objects.filter(pk__in=self.acked).values_list("id", "status"):
            assert RANK[status] >= self.ranks.get(pk, 0)
            self.ranks[pk] = RANK[status]

    @invariant()
    def a_client_that_just_synced_holds_exactly_the_servers_list(self) -> None:
        if self.synced is None:
            return
        client = self.clients[self.synced]
        server = list(Message.objects.filter(pk__in=self.acked).order_by("seq").values_list("seq", "id"))
        assert [(seq, m["id"]) for seq, m in sorted(client.store.items())] == server

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
        settings=settings(max_examples=12, stateful_step_count=14, deadline=None),
    )
