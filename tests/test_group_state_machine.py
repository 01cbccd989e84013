"""A group conversation as a state machine, against the real consumers (``ws/chat/``) and database.

Four users, each a client with its own copy of the log and its cursor,
talking to the real ASGI application. Hypothesis sends (any current member),
appends placeholder events through the store (a ``renamed`` naming a
message, standing in for the mutation events that have no frame yet), adds,
removes, leaves, drops sockets, reconnects with ``resume`` cursors, reads and
confirms receipt. After every step:

- every client holds only events of the user's windows, as stored, each
  pushed once per socket and in seq order; a connected client that caught up
  holds its whole current window;
- the status of each message a client sent, derived from the receipts it got
  by the contract's rule, never moves backwards;
- the unread counts of ``conversations`` and ``resume`` answers equal the
  definition (messages by others past ``read_seq``, inside the window);
- a member who left or was removed receives nothing of the conversation
  after its ``left_seq`` (until it is added again).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from messaging.models import Conversation, Event, EventKind, Participant
from messaging.pubsub import publish_event
from messaging.realtime.presence import tracker
from messaging.store import conversations
from messaging.store.events import Appended, insert_event, lock_for_append

from .groups import new_client_id
from .strategies import contents
from .support import Socket, communicator, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SENT, DELIVERED, READ = 0, 1, 2
USERS = 4
#: how long a client waits for what a step should bring it before the step fails
STEP_TIMEOUT = 8
#: quiet time after a step's expected frames, for the receipts and notices that trail them
TRAILING = 0.03


@dataclass
class GroupClient:
    """One user's app: its copy of the log, its cursor, and what it learnt of the others' cursors."""

    user: Any
    cookie: str
    socket: Socket | None = None
    #: seq -> event ``E`` it holds
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: the highest seq up to which it holds every event of its window
    cursor: int = 0
    #: event pushes on the current socket, in arrival order
    pushed: list[int] = field(default_factory=list)
    #: its membership ended (its leave or removal reached it): nothing more may come
    gone_at: int | None = None
    #: it was told it joined: it must sync from its cursor
    must_sync: bool = False
    #: the other current members it knows of: username -> joined_seq
    members: dict[str, int] = field(default_factory=dict)
    #: the cursors it was told of, the highest of each (they never move backwards): username -> (delivered_seq, read_seq)
    receipts: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the seq of the last membership change it applied: a page read before it is older than its member list
    membership_seq: int = 0
    #: derived status of each message it sent, as last seen
    statuses: dict[int, int] = field(default_factory=dict)
    #: unread counts it was told, to compare with the definition: (where, unread)
    told_unread: list[tuple[str, int]] = field(default_factory=list)

    @property
    def username(self) -> str:
        return self.user.get_username()

    def advance(self, joined_seq: int = 0) -> None:
        """Move the cursor over what it holds without a gap (from its join when it is past the cursor)."""
        self.cursor = max(self.cursor, joined_seq - 1)
        while self.cursor + 1 in self.events:
            self.cursor += 1

    def hold(self, event: dict[str, Any]) -> None:
        held = self.events.get(event["seq"])
        assert held is None or held["id"] == event["id"], f"two events share seq {event['seq']}"
        self.events[event["seq"]] = event

    def apply_membership(self, event: dict[str, Any]) -> None:
        """Follow who is in the group from an event (applied in seq order; idempotent)."""
        kind, seq, data = event["kind"], event["seq"], event["data"]
        if kind in (EventKind.CREATED, EventKind.MEMBERS_ADDED, EventKind.MEMBER_REMOVED, EventKind.MEMBER_LEFT):
            self.membership_seq = max(self.membership_seq, seq)
        if kind == EventKind.CREATED:
            for name in data["members"]:
                self.members[name] = seq
        elif kind == EventKind.MEMBERS_ADDED:
            for name in data["users"]:
                self.members[name] = seq
                self.receipts[name] = (seq, seq)
        elif kind in (EventKind.MEMBER_REMOVED, EventKind.MEMBER_LEFT):
            gone = data["user"] if kind == EventKind.MEMBER_REMOVED else event["sender"]
            self.members.pop(gone, None)
            if gone == self.username:
                self.gone_at = seq

    def take(self, frame: dict[str, Any]) -> None:
        """A frame that came on its socket unasked (a push) or as an answer it does not wait for."""
        kind = frame["type"]
        if kind in ("event", "receipts", "typing"):
            assert self.gone_at is None, f"{self.username} got a {kind} after its membership ended: {frame}"
        if kind == "event":
            event = frame["event"]
            assert event["seq"] not in self.pushed, f"event {event['seq']} pushed twice to one socket"
            assert not self.pushed or event["seq"] > self.pushed[-1], "pushes out of seq order"
            self.pushed.append(event["seq"])
            self.hold(event)
            self.apply_membership(event)
            self.advance()
        elif kind == "ack":
            # A change this client made comes back in its ack, not as a push (echoes_own_events).
            self.hold(frame["event"])
            self.apply_membership(frame["event"])
            self.advance()
        elif kind == "receipts":
            self.take_receipts(frame["receipts"])
        elif kind == "conversation":
            summary = frame["conversation"]
            if summary["left_seq"] is None:
                self.gone_at = None
                self.must_sync = True
                self.members[self.username] = summary["joined_seq"]
                self.advance(summary["joined_seq"])
            else:
                self.gone_at = summary["left_seq"]
        elif kind == "error":
            raise AssertionError(f"{self.username} got an unexpected error: {frame}")

    def take_receipts(self, receipts: list[dict[str, Any]]) -> None:
        """Cursors as the contract tells a client to keep them: the highest seen of each, never backwards."""
        for receipt in receipts:
            delivered, read = self.receipts.get(receipt["user"], (0, 0))
            self.receipts[receipt["user"]] = (max(delivered, receipt["delivered_seq"]), max(read, receipt["read_seq"]))

    def take_page(self, events: list[dict[str, Any]], receipts: list[dict[str, Any]], last_seq: int) -> None:
        """A sync or resume page: its events, and the members and cursors as the server knew them when it read them.

        The page is read beside the commits (on a read thread of its own), so
        a push sent after it was read may overtake it: its cursors count only
        where they are ahead (docs/protocol.md, "Receipts"), and its member
        list only when it was read after the last membership change this
        client applied (``last_seq``, read first, is at least that change).
        """
        for event in events:
            self.hold(event)
        self.advance()
        if last_seq >= self.membership_seq:
            mine = self.members.get(self.username)
            self.members = {r["user"]: r["joined_seq"] for r in receipts}
            if mine is not None and self.gone_at is None:
                self.members[self.username] = mine
        self.take_receipts(receipts)

    def status_of(self, seq: int) -> int:
        """The contract's rule over the other current members who could see ``seq`` (none left: read)."""
        others = [name for name, joined in self.members.items() if name != self.username and joined <= seq]
        cursors = [self.receipts.get(name, (0, 0)) for name in others]
        if all(read >= seq for _, read in cursors):
            return READ
        if all(delivered >= seq for delivered, _ in cursors):
            return DELIVERED
        return SENT


def window_end(member: Participant) -> int:
    return member.left_seq if member.left_seq is not None else member.conversation.last_seq


def unread_by_definition(user: Any, conversation_id: int) -> int:
    """Messages by others with ``read_seq < seq`` inside the user's window, counted here in Python."""
    member = Participant.objects.select_related("conversation").get(user=user, conversation_id=conversation_id)
    return sum(
        1
        for seq, sender_id in Event.objects.filter(conversation_id=conversation_id, kind=EventKind.MESSAGE).values_list(
            "seq", "sender_id"
        )
        if sender_id != user.pk and seq > member.read_seq and member.joined_seq <= seq <= window_end(member)
    )


def append_placeholder(actor: Any, conversation_id: int, target_seq: int | None) -> Appended:
    """A non-message event naming an earlier one, appended as the message actions will append an edit."""
    with transaction.atomic():
        conversation = lock_for_append(conversation_id)
        event = insert_event(
            conversation,
            actor,
            EventKind.RENAMED,
            new_client_id(),
            data={"title": f"edit of {target_seq}"},
            target_seq=target_seq,
        )
        return Appended(event, True, conversation.membership_seq)


class GroupMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        channel_layers.backends.clear()
        tag = uuid.uuid4().hex[:8]
        users = [get_user_model().objects.create_user(f"u{i}{tag}") for i in range(USERS)]
        self.clients = [GroupClient(u, session_cookie(u)) for u in users]
        change = conversations.create_group(
            users[0], "Group", [u.get_username() for u in users[1:3]], new_client_id(), max_members=256
        )
        self.conversation_id = change.conversation.pk
        #: each user's windows so far, as (joined_seq, left_seq or None), from the database
        self.windows: dict[str, list[tuple[int, int | None]]] = {}
        self.record_windows()
        try:
            for client in self.clients:
                self.run(self.connect(client))
            self.settle()
        except BaseException:
            # Hypothesis calls teardown only once __init__ returned.
            self.teardown()
            raise

    # --- Running coroutines and reading the database -------------------------------------

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 30))

    def members(self) -> dict[str, Participant]:
        return {
            p.user.get_username(): p
            for p in Participant.objects.filter(conversation_id=self.conversation_id).select_related(
                "user", "conversation"
            )
        }

    def current(self) -> list[GroupClient]:
        rows = self.members()
        return [c for c in self.clients if c.username in rows and rows[c.username].left_seq is None]

    def record_windows(self) -> None:
        for name, member in self.members().items():
            windows = self.windows.setdefault(name, [])
            window = (member.joined_seq, member.left_seq)
            if windows and windows[-1][0] == member.joined_seq:
                windows[-1] = window
            elif not windows or windows[-1] != window:
                windows.append(window)

    def draw(self, data: st.DataObject, candidates: list[GroupClient], label: str) -> GroupClient:
        return data.draw(st.sampled_from(sorted(candidates, key=lambda c: c.username)), label=label)

    # --- The client side ---------------------------------------------------------------------

    async def connect(self, client: GroupClient) -> None:
        """Open a socket and resume from the client's cursor, following has_more with sync."""
        comm = communicator("/ws/chat/", client.cookie)
        connected, code = await comm.connect(timeout=5)
        assert connected, code
        client.socket = Socket(comm, await comm.receive_json_from(timeout=5))
        client.pushed = []
        answer = await self.request(client, {"type": "resume", "cursors": {str(self.conversation_id): client.cursor}})
        entries = [c for c in answer["conversations"] if c["id"] == self.conversation_id]
        if not entries:
            return
        [entry] = entries
        client.told_unread.append(("resume", entry["unread"]))
        client.gone_at = entry["left_seq"]
        if entry["left_seq"] is None:
            client.members[client.username] = entry["joined_seq"]
        client.advance(entry["joined_seq"])
        client.take_page(entry["events"], entry["receipts"], entry["last_seq"])
        if entry["has_more"]:
            await self.sync(client)

    async def sync(self, client: GroupClient) -> None:
        client.must_sync = False
        while True:
            page = await self.request(
                client, {"type": "sync", "conversation": self.conversation_id, "after": client.cursor}
            )
            client.take_page(page["events"], page["receipts"], page["last_seq"])
            if not page["has_more"] or not page["events"]:
                return

    async def request(self, client: GroupClient, frame: dict[str, Any], expect: str | None = None) -> dict[str, Any]:
        """Send a frame with a ref; take every push until its answer, which is returned."""
        assert client.socket is not None
        ref = uuid.uuid4().hex[:12]
        await client.socket.send({**frame, "ref": ref})
        while True:
            answer = await client.socket.receive(STEP_TIMEOUT)
            if answer.get("ref") == ref and (expect is None or answer["type"] == expect):
                return answer
            if answer.get("ref") == ref and answer["type"] == "error" and expect != "error":
                raise AssertionError(f"{frame['type']} refused: {answer}")
            client.take(answer)

    async def catch_up(self, client: GroupClient, target: int) -> None:
        """Read pushes (syncing when told it joined) until the client holds its window up to ``target``."""
        assert client.socket is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while True:
            if client.must_sync:
                await self.sync(client)
            if client.cursor >= target:
                break
            client.take(await client.socket.receive(max(0.01, deadline - loop.time())))
        for frame in await client.socket.drain(timeout=TRAILING):
            client.take(frame)
        if client.must_sync:
            await self.sync(client)

    def settle(self) -> None:
        """Every connected client reads what the last step sent it; then the windows are recorded."""
        rows = self.members()
        targets = {}
        for client in self.clients:
            if client.socket is None:
                continue
            member = rows.get(client.username)
            targets[client.username] = window_end(member) if member is not None else 0

        async def all_caught_up() -> None:
            await asyncio.gather(*(self.catch_up(c, targets[c.username]) for c in self.clients if c.socket is not None))

        self.run(all_caught_up())
        self.record_windows()
        self.run(self.ask_inboxes())
        self.check_unread()

    async def ask_inboxes(self) -> None:
        await asyncio.gather(*(self.ask_inbox(c) for c in self.clients if c.socket is not None))

    async def ask_inbox(self, client: GroupClient) -> None:
        """The client's inbox row of the group, for its unread count (checked against the definition)."""
        answer = await self.request(client, {"type": "conversations"}, expect="conversations")
        for summary in answer["conversations"]:
            if summary["id"] == self.conversation_id:
                client.told_unread.append(("conversations", summary["unread"]))

    def check_unread(self) -> None:
        for client in self.clients:
            for where, told in client.told_unread:
                assert told == unread_by_definition(client.user, self.conversation_id), (client.username, where)
            client.told_unread.clear()

    # --- Rules --------------------------------------------------------------------------------

    def connected_members(self) -> list[GroupClient]:
        return [c for c in self.current() if c.socket is not None]

    @precondition(lambda self: self.connected_members())
    @rule(data=st.data(), content=contents(40))
    def send(self, data: st.DataObject, content: str) -> None:
        client = self.draw(data, self.connected_members(), "sender")
        frame = {"type": "message", "conversation": self.conversation_id, "content": content}
        ack = self.run(self.request(client, {**frame, "client_id": new_client_id()}, expect="ack"))
        client.take(ack)
        self.settle()

    @precondition(lambda self: any(c.socket is not None and c not in self.current() for c in self.clients))
    @rule(data=st.data())
    def send_as_non_member(self, data: st.DataObject) -> None:
        current = self.current()
        client = self.draw(data, [c for c in self.clients if c.socket is not None and c not in current], "outsider")
        before = Conversation.objects.get(pk=self.conversation_id).last_seq
        frame = {"type": "message", "conversation": self.conversation_id, "content": "let me in"}
        answer = self.run(self.request(client, {**frame, "client_id": new_client_id()}, expect="error"))
        assert answer["code"] == ("forbidden" if client.username in self.windows else "not_found")
        assert Conversation.objects.get(pk=self.conversation_id).last_seq == before
        self.settle()

    @precondition(lambda self: self.current())
    @rule(data=st.data())
    def edit_placeholder(self, data: st.DataObject) -> None:
        actor = self.draw(data, self.current(), "editor")
        messages = list(
            Event.objects.filter(conversation_id=self.conversation_id, kind=EventKind.MESSAGE).values_list(
                "seq", flat=True
            )
        )
        target = data.draw(st.sampled_from(messages), label="target") if messages else None
        appended = append_placeholder(actor.user, self.conversation_id, target)
        self.run(publish_event(appended))
        self.settle()

    def managers(self) -> list[GroupClient]:
        rows = self.members()
        return [c for c in self.connected_members() if rows[c.username].role in ("owner", "admin")]

    @precondition(lambda self: self.managers() and len(self.current()) < USERS)
    @rule(data=st.data())
    def add(self, data: st.DataObject) -> None:
        actor = self.draw(data, self.managers(), "adder")
        current = self.current()
        newcomer = self.draw(data, [c for c in self.clients if c not in current], "newcomer")
        frame = {"type": "add_members", "conversation": self.conversation_id, "users": [newcomer.username]}
        actor.take(self.run(self.request(actor, {**frame, "client_id": new_client_id()}, expect="ack")))
        self.settle()

    @precondition(lambda self: self.managers() and len(self.current()) > 1)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        rows = self.members()
        owners = [c for c in self.managers() if rows[c.username].role == "owner"]
        if not owners:
            return
        actor = owners[0]
        target = self.draw(data, [c for c in self.current() if c is not actor], "removed")
        frame = {"type": "remove_member", "conversation": self.conversation_id, "user": target.username}
        actor.take(self.run(self.request(actor, {**frame, "client_id": new_client_id()}, expect="ack")))
        self.settle()

    @precondition(lambda self: len(self.connected_members()) > 1)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        client = self.draw(data, self.connected_members(), "leaver")
        frame = {"type": "leave", "conversation": self.conversation_id, "client_id": new_client_id()}
        client.take(self.run(self.request(client, frame, expect="ack")))
        self.settle()

    @precondition(lambda self: self.managers() and len(self.current()) > 1)
    @rule(data=st.data())
    def promote(self, data: st.DataObject) -> None:
        rows = self.members()
        owners = [c for c in self.connected_members() if rows[c.username].role == "owner"]
        plain = [c for c in self.current() if rows[c.username].role == "member"]
        if not owners or not plain:
            return
        target = self.draw(data, plain, "promoted")
        frame = {"type": "set_role", "conversation": self.conversation_id, "user": target.username, "role": "admin"}
        owners[0].take(self.run(self.request(owners[0], {**frame, "client_id": new_client_id()}, expect="ack")))
        self.settle()

    @precondition(lambda self: any(c.socket is not None for c in self.clients))
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        client = self.draw(data, [c for c in self.clients if c.socket is not None], "dropped")
        socket, client.socket = client.socket, None
        assert socket is not None
        self.run(socket.close())

    @precondition(lambda self: any(c.socket is None for c in self.clients))
    @rule(data=st.data())
    def reconnect(self, data: st.DataObject) -> None:
        client = self.draw(data, [c for c in self.clients if c.socket is None], "reconnecting")
        self.run(self.connect(client))
        self.settle()

    def readers(self) -> list[GroupClient]:
        return [c for c in self.clients if c.socket is not None and c.username in self.windows]

    @precondition(lambda self: self.readers())
    @rule(data=st.data(), which=st.sampled_from(["read", "received"]))
    def report_cursor(self, data: st.DataObject, which: str) -> None:
        client = self.draw(data, self.readers(), "reader")
        member = self.members()[client.username]
        field_name = "read_seq" if which == "read" else "delivered_seq"
        expected = max(getattr(member, field_name), min(client.cursor, window_end(member)))
        assert client.socket is not None
        self.run(client.socket.send({"type": which, "conversation": self.conversation_id, "up_to": client.cursor}))
        self.run(self.cursor_reaches(client.user, field_name, expected))
        self.settle()

    async def cursor_reaches(self, user: Any, field_name: str, expected: int) -> None:
        """Wait until the reported cursor is stored (it is coalesced for a moment first)."""

        def stored() -> int:
            return Participant.objects.filter(user=user, conversation_id=self.conversation_id).values_list(
                field_name, flat=True
            )[0]

        for _ in range(200):
            if await database_sync_to_async(stored)() >= expected:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{field_name} of {user} never reached {expected}")

    # --- Invariants -----------------------------------------------------------------------------

    @invariant()
    def the_log_is_gap_free_and_each_client_id_stored_once(self) -> None:
        rows = list(Event.objects.filter(conversation_id=self.conversation_id).values_list("seq", "client_id"))
        assert sorted(seq for seq, _ in rows) == list(range(1, len(rows) + 1))
        assert len({cid for _, cid in rows}) == len(rows)

    @invariant()
    def every_client_holds_only_events_of_its_windows_as_stored(self) -> None:
        stored = {
            e["seq"]: e
            for e in Event.objects.filter(conversation_id=self.conversation_id).values(
                "seq", "id", "kind", "content", "client_id", "target_seq"
            )
        }
        for client in self.clients:
            windows = self.windows.get(client.username, [])
            for seq, event in client.events.items():
                assert any(j <= seq and (left is None or seq <= left) for j, left in windows), (client.username, seq)
                expected = stored[seq]
                assert (event["id"], event["kind"], event["content"], event["client_id"], event["target_seq"]) == (
                    expected["id"],
                    expected["kind"],
                    expected["content"],
                    expected["client_id"],
                    expected["target_seq"],
                )

    @invariant()
    def a_connected_client_holds_its_whole_current_window(self) -> None:
        rows = self.members()
        for client in self.clients:
            member = rows.get(client.username)
            if client.socket is None or member is None:
                continue
            window = range(member.joined_seq, window_end(member) + 1)
            assert [s for s in window if s not in client.events] == [], client.username

    @invariant()
    def a_senders_derived_statuses_never_move_backwards(self) -> None:
        for client in self.clients:
            for seq, event in client.events.items():
                if event["kind"] != EventKind.MESSAGE or event["sender"] != client.username or seq > client.cursor:
                    continue
                status = client.status_of(seq)
                assert status >= client.statuses.get(seq, SENT), (client.username, seq, status)
                client.statuses[seq] = status

    def teardown(self) -> None:
        for client in self.clients:
            if client.socket is not None and not client.socket.comm.future.done():
                self.run(client.socket.close())
        tracker.stop()
        self.loop.close()
        channel_layers.backends.clear()


def test_group_state_machine(transactional_db: None) -> None:
    run_state_machine_as_test(
        GroupMachine,
        settings=settings(max_examples=8, stateful_step_count=20, deadline=None),
    )
