"""Live conversation state over real consumers: ticks, typing, presence, many tabs."""

from __future__ import annotations

import asyncio
import datetime
import functools
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings
from django.utils import timezone

from messaging.consumers import MessagingConsumer
from messaging.models import Connection, Conversation, Message, MessagingError, UserStatus
from messaging.realtime.presence import PresenceTracker, tracker
from messaging.store import presence as presence_store

from . import cursors
from .faults import database_locked, on_sqlite_only, table_unreadable
from .support.metrics import metric
from .support.waiting import WITHIN, eventually

pytestmark = pytest.mark.django_db(transaction=True)


async def send(socket, content: str, client_id: str) -> dict:
    await socket.send({"type": "message", "content": content, "client_id": client_id})
    return (await socket.expect("ack", client_id=client_id))["message"]


async def statuses(a, b) -> dict[int, str]:
    """Each message's status in the direct conversation of ``a`` and ``b``, derived from its recipient's cursors."""
    return await database_sync_to_async(lambda: cursors.statuses(Conversation.objects.get(), a, b))()


# --- Ticks ------------------------------------------------------------------


async def test_a_message_pushed_to_the_recipient_becomes_delivered_once_for_all_tabs(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_tabs = [await chat(bob, "alice"), await chat(bob, "alice")]
    await send(alice_socket, "hi", "c1")
    delivered = await alice_socket.expect("status")
    assert delivered["status"] == "delivered" and delivered["up_to"] == 1 and delivered["by"] == "bob"
    for tab in bob_tabs:
        assert (await tab.expect("status"))["status"] == "delivered"
    assert await statuses(alice, bob) == {1: "delivered"}
    # however many tabs are open, one status frame per advance
    assert [f for f in await alice_socket.drain() if f["type"] == "status"] == []


async def test_a_message_to_an_offline_recipient_stays_sent_until_sync(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    for i in range(3):
        await send(alice_socket, f"m{i}", f"c{i}")
    assert await statuses(alice, bob) == {1: "sent", 2: "sent", 3: "sent"}
    bob_socket = await chat(bob, "alice")
    assert bob_socket.connected["unread"] == 3
    await bob_socket.send({"type": "sync", "after": 0})
    page = await bob_socket.expect("sync")
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3]
    assert all(m["status"] == "delivered" for m in page["messages"])
    status = await alice_socket.expect("status")
    assert status["status"] == "delivered" and status["up_to"] == 3


async def test_history_fetched_over_http_tells_the_senders_socket(alice, bob, chat) -> None:
    from django.test import Client

    alice_socket = await chat(alice, "bob")
    await send(alice_socket, "hi", "c1")

    def fetch() -> dict:
        client = Client()
        client.force_login(bob)
        return client.get("/messages/api/alice/history").json()

    page = await database_sync_to_async(fetch)()
    assert page["messages"][0]["status"] == "delivered"
    status = await alice_socket.expect("status")
    assert status["status"] == "delivered" and status["up_to"] == 1 and status["by"] == "bob"


async def test_read_turns_the_whole_range_read_and_clears_unread_in_every_tab(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    for i in range(3):
        await send(alice_socket, f"m{i}", f"c{i}")
    bob_tabs = [await chat(bob, "alice"), await chat(bob, "alice")]
    await bob_tabs[0].send({"type": "read", "up_to": 3})
    for socket in [alice_socket, *bob_tabs]:
        frame = await socket.expect("status", status="read")
        assert frame["up_to"] == 3 and frame["by"] == "bob"
    assert await statuses(alice, bob) == {1: "read", 2: "read", 3: "read"}
    again = await chat(bob, "alice")
    assert again.connected["unread"] == 0


async def test_read_by_the_sender_never_marks_their_own_messages(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    await send(alice_socket, "mine", "c1")
    await alice_socket.send({"type": "read", "up_to": 1})
    # A read moves the reader's own cursor, so it is announced (by alice, up
    # to her cursor); it never marks her own message: that follows bob's cursors.
    # The announcement is batched with other cursor moves: wait for it, then
    # check nothing else came.
    first = await alice_socket.expect("status")
    await alice_socket.send({"type": "ping"})
    status_frames = [first, *(f for f in await alice_socket.drain() if f["type"] == "status")]
    assert {(f["by"], f["up_to"]) for f in status_frames} == {("alice", 1)}
    assert await statuses(alice, bob) == {1: "sent"}


async def test_a_repeated_read_changes_nothing_and_announces_nothing(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    await send(alice_socket, "hi", "c1")
    bob_socket = await chat(bob, "alice")
    await bob_socket.send({"type": "read", "up_to": 1})
    await alice_socket.expect("status", status="read")
    await bob_socket.send({"type": "read", "up_to": 1})
    await bob_socket.send({"type": "read", "up_to": 0})
    assert not [f for f in await alice_socket.drain() if f["type"] == "status"]


# --- Typing -----------------------------------------------------------------


async def test_typing_reaches_only_the_other_participant(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_tabs = [await chat(bob, "alice"), await chat(bob, "alice")]
    await bob_tabs[0].send({"type": "typing", "is_typing": True})
    assert await alice_socket.expect("typing") == {"type": "typing", "user": "bob", "is_typing": True}
    assert not [f for tab in bob_tabs for f in await tab.drain() if f["type"] == "typing"]


async def test_a_burst_of_typing_frames_is_one_broadcast(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    for _ in range(50):
        await bob_socket.send({"type": "typing", "is_typing": True})
    await bob_socket.send({"type": "ping"})
    await bob_socket.expect("pong")
    typing = [f for f in await alice_socket.drain() if f["type"] == "typing"]
    assert typing == [{"type": "typing", "user": "bob", "is_typing": True}]


@override_settings(MESSAGING_TYPING_EXPIRY_SECONDS=0.3)
async def test_typing_that_is_not_refreshed_expires(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await bob_socket.send({"type": "typing", "is_typing": True})
    await alice_socket.expect("typing", is_typing=True)
    assert (await alice_socket.expect("typing", timeout=2))["is_typing"] is False


async def test_sending_a_message_clears_typing(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await bob_socket.send({"type": "typing", "is_typing": True})
    await alice_socket.expect("typing", is_typing=True)
    await send(bob_socket, "done typing", "c1")
    assert (await alice_socket.expect("typing"))["is_typing"] is False


# --- Presence ---------------------------------------------------------------


async def test_presence_follows_the_last_open_socket(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_1 = await chat(bob, "alice")
    online = await alice_socket.expect("presence")
    assert online["user"] == "bob" and online["online"] is True
    bob_2 = await chat(bob, "alice")
    await bob_1.close()
    assert not [f for f in await alice_socket.drain() if f["type"] == "presence"]
    await bob_2.close()
    offline = await alice_socket.expect("presence")
    assert offline["online"] is False and offline["last_seen"]
    reopened = await chat(alice, "bob")
    assert reopened.connected["peer"]["online"] is False
    assert reopened.connected["peer"]["last_seen"] == offline["last_seen"]


async def test_connected_reports_the_peer_online(alice, bob, chat) -> None:
    await chat(bob, "alice")
    alice_socket = await chat(alice, "bob")
    assert alice_socket.connected["peer"]["online"] is True


@override_settings(MESSAGING_PRESENCE_EXPIRY_SECONDS=0.5)
async def test_a_socket_of_a_killed_process_goes_offline_after_the_expiry(alice, bob, chat) -> None:
    """Bob's socket lives on "process B", which dies: no disconnect, no cleanup, no heartbeat."""
    alice_socket = await chat(alice, "bob")
    process_b = PresenceTracker()
    with mock.patch("messaging.consumers.tracker", process_b):
        bob_socket = await chat(bob, "alice")
    await alice_socket.expect("presence", online=True)
    with mock.patch.object(MessagingConsumer, "leave", new=mock.AsyncMock()):
        bob_socket.comm.future.cancel()
        await asyncio.gather(bob_socket.comm.future, return_exceptions=True)
    process_b.stop()
    assert await database_sync_to_async(Connection.objects.filter(user=bob).count)() == 1
    await asyncio.sleep(0.6)
    assert await tracker.beat() == 1  # process A's heartbeat sweeps B's expired row
    offline = await alice_socket.expect("presence")
    assert offline["user"] == "bob" and offline["online"] is False
    status = await database_sync_to_async(UserStatus.objects.get)(user=bob)
    assert status.online is False
    assert await database_sync_to_async(Connection.objects.filter(user=bob).count)() == 0


async def test_the_heartbeat_keeps_live_sockets_online(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    await chat(bob, "alice")
    await alice_socket.expect("presence", online=True)
    with override_settings(MESSAGING_PRESENCE_EXPIRY_SECONDS=0.5):
        await asyncio.sleep(0.6)
        # the beat refreshes this process's rows before sweeping
        assert await tracker.beat() == 0
    assert not [f for f in await alice_socket.drain() if f["type"] == "presence"]


async def test_a_consumer_that_dies_without_disconnect_still_cleans_up(alice, bob, chat) -> None:
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await alice_socket.expect("presence", online=True)
    bob_socket.comm.future.cancel()
    await asyncio.gather(bob_socket.comm.future, return_exceptions=True)
    assert (await alice_socket.expect("presence"))["online"] is False


# --- The heartbeat task -----------------------------------------------------
#
# The tests above call ``tracker.beat()`` themselves; these let the tracker's
# own background task run, with a heartbeat short enough to see it beat
# (``conf.limits()`` reads the settings at every beat, so an override holds).

HEARTBEAT = 0.05


async def heartbeat_of(channel_name: str) -> datetime.datetime | None:
    """The ``last_heartbeat`` of a socket's presence row (None once the row is gone)."""
    return await database_sync_to_async(
        Connection.objects.filter(channel_name=channel_name).values_list("last_heartbeat", flat=True).first
    )()


async def refreshed_after(channel_name: str, since: datetime.datetime, what: str) -> None:
    """Wait until the heartbeat has refreshed a socket's row past ``since``."""

    async def refreshed() -> bool:
        beat = await heartbeat_of(channel_name)
        return beat is not None and beat > since

    await eventually(refreshed, what)


async def refreshed_by_the_heartbeat(channel_name: str, what: str) -> None:
    """Wait until the heartbeat has refreshed a socket's row past the time it was registered."""
    registered = await heartbeat_of(channel_name)
    assert registered is not None
    await refreshed_after(channel_name, registered, what)


async def rows_of(server_id: str) -> dict[str, datetime.datetime]:
    """A server process's presence rows: channel name -> last heartbeat."""
    return await database_sync_to_async(
        lambda: dict(Connection.objects.filter(server_id=server_id).values_list("channel_name", "last_heartbeat"))
    )()


async def channel_of(user) -> str:
    """The channel name of the user's one open socket."""
    return await database_sync_to_async(
        Connection.objects.filter(user=user).values_list("channel_name", flat=True).get
    )()


def database_errors_counted() -> float:
    return metric("linkup_messaging_errors_total", category="database_error")


async def fail_one_beat() -> None:
    """Lock the database until a beat of the heartbeat has failed on it, then let it answer again."""
    failures = database_errors_counted()
    async with database_locked():

        async def failed() -> bool:
            return database_errors_counted() > failures

        await eventually(failed, "a beat failed on the locked database")


@override_settings(MESSAGING_PRESENCE_HEARTBEAT_SECONDS=HEARTBEAT)
async def test_the_heartbeat_refreshes_an_open_sockets_row_by_itself(alice, bob, chat) -> None:
    await chat(alice, "bob")
    await refreshed_by_the_heartbeat(await channel_of(alice), "the open socket's row refreshed by the heartbeat")


@override_settings(MESSAGING_PRESENCE_HEARTBEAT_SECONDS=HEARTBEAT)
@on_sqlite_only
async def test_the_heartbeat_sweeps_a_socket_whose_cleanup_failed_and_announces_its_user_offline(
    alice, bob, chat
) -> None:
    """Bob's socket closes while the database is locked: its row stays behind, and only the heartbeat can drop it."""
    alice_socket = await chat(alice, "bob")
    bob_socket = await chat(bob, "alice")
    await alice_socket.expect("presence", user="bob", online=True)
    bob_channel = await channel_of(bob)
    async with database_locked():
        await bob_socket.close()
        assert await heartbeat_of(bob_channel) is not None  # its cleanup failed: the row stayed
    offline = await alice_socket.expect("presence", user="bob", timeout=WITHIN)
    assert offline["online"] is False
    assert await heartbeat_of(bob_channel) is None
    assert bob_channel not in tracker.channel_names


@override_settings(MESSAGING_PRESENCE_HEARTBEAT_SECONDS=HEARTBEAT)
@on_sqlite_only
async def test_a_beat_that_fails_does_not_end_the_heartbeat(alice, bob, chat) -> None:
    await chat(alice, "bob")
    channel = await channel_of(alice)
    await fail_one_beat()
    await refreshed_after(channel, timezone.now(), "the row refreshed by a beat after the failed one")


@override_settings(MESSAGING_PRESENCE_HEARTBEAT_SECONDS=HEARTBEAT)
@on_sqlite_only
async def test_a_failed_beat_is_recorded_as_a_database_error_naming_the_exception(alice, bob, chat) -> None:
    await chat(alice, "bob")
    await fail_one_beat()

    async def records() -> list[tuple[str, str, str, str]]:
        return await database_sync_to_async(
            lambda: [
                (row.category, row.severity, row.message, row.context.get("exception", ""))
                for row in MessagingError.objects.all()
            ]
        )()

    # Stored by a later beat, from the records kept while the database was locked.
    recorded = await eventually(records, "the failure recorded once the database answers")
    assert set(recorded) == {
        ("database_error", "error", "presence heartbeat failed", "OperationalError: database is locked")
    }


@override_settings(MESSAGING_PRESENCE_HEARTBEAT_SECONDS=HEARTBEAT)
async def test_stopping_the_tracker_ends_its_heartbeat_however_many_sockets_started_it(alice, bob, carol, chat) -> None:
    await chat(alice, "bob")
    await chat(bob, "alice")  # two sockets: two calls to add(), one heartbeat
    await refreshed_by_the_heartbeat(await channel_of(alice), "the heartbeat running before the stop")
    tracker.stop()  # as when the event loop shuts down
    at_stop = await rows_of(tracker.server_id)
    assert len(at_stop) == 2
    # A heartbeat still running here would drop both rows: they are no longer
    # in the (cleared) open set. Another process's heartbeat, with the same
    # period on the same loop, says how long to look.
    process_b = PresenceTracker()
    await database_sync_to_async(presence_store.register_connection)(
        carol.pk, "process-b-socket", "chat", process_b.server_id
    )
    process_b.add("process-b-socket")
    stopped = timezone.now()
    try:

        async def process_b_beat_five_times() -> bool:
            beat = await heartbeat_of("process-b-socket")
            return beat is not None and beat > stopped + datetime.timedelta(seconds=5 * HEARTBEAT)

        await eventually(process_b_beat_five_times, "another process's heartbeat beating after the stop")
    finally:
        process_b.stop()
    assert await rows_of(tracker.server_id) == at_stop


@override_settings(MESSAGING_PRESENCE_HEARTBEAT_SECONDS=HEARTBEAT)
async def test_a_stopped_heartbeat_starts_again_with_the_next_socket(alice, bob, chat) -> None:
    await chat(alice, "bob")
    tracker.stop()
    await chat(bob, "alice")
    await refreshed_by_the_heartbeat(await channel_of(bob), "the next socket's row refreshed by a new heartbeat")


async def test_a_row_this_process_registered_just_now_survives_a_beat_before_its_socket_is_counted(bob) -> None:
    """A socket registers its row, then joins the open set: a beat between the two must not drop the row."""
    await database_sync_to_async(presence_store.register_connection)(bob.pk, "registering", "chat", tracker.server_id)
    assert await tracker.beat() == 0
    assert await heartbeat_of("registering") is not None
    status = await database_sync_to_async(UserStatus.objects.get)(user=bob)
    assert status.online is True


# --- Many tabs --------------------------------------------------------------


async def test_every_tab_of_both_users_sees_the_same_stream(alice, bob, chat) -> None:
    tabs = [await chat(alice, "bob"), await chat(alice, "bob"), await chat(bob, "alice"), await chat(bob, "alice")]
    for i, tab in enumerate(tabs):
        await tab.send({"type": "message", "content": f"m{i}", "client_id": f"c{i}"})
    for i, tab in enumerate(tabs):
        # Wait for what must arrive (this tab's ack and the four messages), keeping every frame in order.
        frames: list[dict] = []
        while not (
            any(f["type"] == "ack" and f["client_id"] == f"c{i}" for f in frames)
            and sum(f["type"] == "message" for f in frames) >= 4
        ):
            frames.append(await tab.receive())
        frames += await tab.drain()  # and nothing more: no message twice
        assert [f["message"]["seq"] for f in frames if f["type"] == "message"] == [1, 2, 3, 4]
    assert await database_sync_to_async(Message.objects.count)() == 4


async def test_a_socket_whose_cleanup_failed_is_recorded_naming_its_user_and_the_cause(alice, bob, chat) -> None:
    """The presence row cannot be removed at the close: the operator sees why (the heartbeat sweeps the row later)."""
    socket = await chat(alice, "bob")
    async with table_unreadable("messaging_connection"):
        await socket.close()
    rows = await database_sync_to_async(list)(MessagingError.objects.all())
    assert [(r.category, r.severity, r.user_id, r.message) for r in rows] == [
        ("database_error", "error", alice.pk, "could not clean up a closed socket")
    ]
    assert "messaging_connection" in rows[0].context["exception"]


# --- The presence store underneath (store.presence: sweep, refresh, viewing, many at once) ---------


def beating(user, channel: str, server: str, *, seconds_ago: float, conversation_id: int | None = None) -> None:
    """A socket row of ``user`` on ``server`` whose last heartbeat was ``seconds_ago``, its user marked online."""
    Connection.objects.create(
        user=user,
        channel_name=channel,
        kind="chat",
        server_id=server,
        conversation_id=conversation_id,
        last_heartbeat=timezone.now() - datetime.timedelta(seconds=seconds_ago),
    )
    UserStatus.objects.update_or_create(user=user, defaults={"online": True})


def test_the_sweep_turns_offline_only_users_left_without_a_live_socket_last_seen_at_their_last_beat(
    alice, bob, carol
) -> None:
    beating(alice, "dead.a1", "dead", seconds_ago=100)
    beating(alice, "dead.a2", "dead", seconds_ago=80)  # her last beat
    beating(bob, "dead.b", "dead", seconds_ago=100)
    beating(bob, "live.b", "live", seconds_ago=1)  # still on another process
    beating(carol, "live.c", "live", seconds_ago=1)
    changes = presence_store.sweep_expired_connections(30)
    assert {c.user_id for c in changes} == {alice.pk}
    assert set(Connection.objects.values_list("channel_name", flat=True)) == {"live.b", "live.c"}
    status = UserStatus.objects.get(user=alice)
    last_beat = timezone.now() - datetime.timedelta(seconds=80)
    assert not status.online and abs((status.last_seen - last_beat).total_seconds()) < 5
    assert UserStatus.objects.get(user=bob).online and UserStatus.objects.get(user=carol).online


def test_the_sweep_records_each_gone_process_once_with_its_socket_count(alice, bob) -> None:
    beating(alice, "gone.a", "gone-1", seconds_ago=100)
    beating(bob, "gone.b", "gone-1", seconds_ago=100)
    beating(bob, "gone.c", "gone-2", seconds_ago=100)
    presence_store.sweep_expired_connections(30)
    rows = MessagingError.objects.filter(context__server_id__isnull=False).order_by("context__server_id")
    assert [(r.severity, r.context) for r in rows] == [
        ("warning", {"server_id": "gone-1", "sockets": 2, "expiry_seconds": 30}),
        ("warning", {"server_id": "gone-2", "sockets": 1, "expiry_seconds": 30}),
    ]


def test_a_heartbeat_refreshes_only_this_processes_named_sockets_in_chunks(alice, bob, monkeypatch) -> None:
    # the real chunker, with pieces of two: five sockets take three statements
    monkeypatch.setattr(presence_store, "_chunks", functools.partial(presence_store._chunks, size=2))
    for n in range(5):
        beating(alice, f"mine.{n}", "me", seconds_ago=20)
    beating(alice, "mine.unnamed", "me", seconds_ago=20)  # this process's, not among the open ones
    beating(bob, "theirs", "other", seconds_ago=20)
    since = timezone.now() - datetime.timedelta(seconds=60)
    presence_store.refresh_connections("me", [f"mine.{n}" for n in range(5)], since)
    fresh = timezone.now() - datetime.timedelta(seconds=5)
    assert set(Connection.objects.filter(last_heartbeat__gte=fresh).values_list("channel_name", flat=True)) == {
        f"mine.{n}" for n in range(5)
    }


def test_chunks_cut_a_list_in_order_into_pieces_of_at_most_the_size() -> None:
    assert presence_store._chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert presence_store._chunks([], 3) == []


def test_viewing_is_set_on_that_socket_only(alice, bob) -> None:
    conversation = cursors.direct(alice, bob)
    beating(alice, "tab.1", "s", seconds_ago=0)
    beating(alice, "tab.2", "s", seconds_ago=0)
    presence_store.set_viewing("tab.1", conversation.pk)
    assert dict(Connection.objects.values_list("channel_name", "conversation_id")) == {
        "tab.1": conversation.pk,
        "tab.2": None,
    }


def test_presence_of_many_answers_for_each_asked_user_from_their_own_live_sockets(alice, bob, carol) -> None:
    beating(alice, "a", "s", seconds_ago=1)
    beating(carol, "c", "s", seconds_ago=100)  # stale
    UserStatus.objects.filter(user=carol).update(online=False, last_seen=timezone.now())
    found = presence_store.presence_of_many([bob.pk, carol.pk], 30)
    assert set(found) == {bob.pk, carol.pk}
    assert found[bob.pk] == (False, None)
    assert found[carol.pk][0] is False and found[carol.pk][1] is not None


@pytest.mark.parametrize("shares", [True, False])
def test_a_socket_opens_with_the_read_receipts_setting_of_the_users_profile(alice, shares) -> None:
    from messaging.models import Profile
    from messaging.store.reading import open_session

    Profile.objects.update_or_create(user=alice, defaults={"read_receipts": shares})
    session = open_session(alice.pk, "tab.1", "chat", "s", max_sockets=None, expiry=30, username="alice")
    assert session.shares_reads is shares
    assert session.me is not None and session.me.pk == alice.pk


def test_opening_a_one_to_one_chat_announces_it_to_both_members_only_when_it_is_made(alice, bob) -> None:
    from messaging.store.reading import open_direct

    first = open_direct(alice, "bob")
    again = open_direct(alice, "bob")
    assert first is not None and sorted(first.notices) == sorted([alice.pk, bob.pk])
    assert again is not None and again.conversation.pk == first.conversation.pk and again.notices == {}


def test_a_users_first_socket_opens_with_their_coming_online_and_a_second_with_none(alice) -> None:
    from messaging.store.reading import open_session

    first = open_session(alice.pk, "tab.1", "chat", "s", max_sockets=None, expiry=30, username="alice")
    second = open_session(alice.pk, "tab.2", "chat", "s", max_sockets=None, expiry=30, username="alice")
    assert first.change is not None and first.change.online and second.change is None


@pytest.mark.parametrize("kind", ["chat", "notifications"])
def test_a_socket_opening_beside_sockets_stale_by_its_expiry_is_not_over_the_socket_limit(alice, kind) -> None:
    from messaging.store.reading import open_notifications, open_session

    opener = open_session if kind == "chat" else open_notifications
    beating(alice, "tab.1", "s", seconds_ago=20)
    opened = opener(alice.pk, "tab.2", kind, "s", max_sockets=1, expiry=10, username="alice")
    assert opened is not None and Connection.objects.filter(user=alice).count() == 2


def test_closing_a_users_last_live_socket_turns_them_offline_though_a_dead_processs_row_is_not_swept_yet(alice) -> None:
    beating(alice, "tab.dead", "gone-process", seconds_ago=90)
    presence_store.register_connection(alice.pk, "tab.live", "chat", "s", max_sockets=None, username="alice")
    change = presence_store.unregister_connection(alice.pk, "tab.live", 30, username="alice")
    assert change is not None and change.online is False
