"""What one handshake costs the database thread: every reconnect storm pays it once per socket.

The trips are counted, not timed: each ``database_sync_to_async`` call is a hop
into the one database thread, where the handshakes of a storm queue
(docs/benchmark.md, issue 19's storm).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter

import pytest
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import Connection
from messaging.store import conversations, events, presence, reading

from .support import communicator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trips(monkeypatch) -> Counter[str]:
    """The database-thread trips made from now on, by function."""
    counted: Counter[str] = Counter()
    original = DatabaseSyncToAsync.thread_handler

    def counting(self, loop, *args, **kwargs):
        counted[getattr(self.func, "__name__", repr(self.func))] += 1
        return original(self, loop, *args, **kwargs)

    monkeypatch.setattr(DatabaseSyncToAsync, "thread_handler", counting)
    return counted


@pytest.mark.parametrize(
    ("path", "ready", "expected"),
    [
        ("/ws/chat/", "connected", {"get_user": 1, "open_session": 1}),
        ("/ws/notifications/", "unread_count", {"get_user": 1, "open_notifications": 1}),
    ],
)
async def test_a_handshake_is_the_session_lookup_and_one_trip_of_its_own(
    path, ready, expected, alice, bob, cookies, trips
) -> None:
    await database_sync_to_async(conversations.get_or_create_direct)(alice, bob)
    cookie = await database_sync_to_async(cookies)(alice)
    opened = []
    for _ in range(2):  # the first makes alice online; the second is every later tab's handshake
        trips.clear()
        comm = communicator(path, cookie)
        assert (await comm.connect(timeout=5))[0]
        assert (await comm.receive_json_from(timeout=5))["type"] == ready
        assert dict(trips) == expected
        opened.append(comm)
    for comm in opened:
        await comm.disconnect()


def _shapes(queries: list[dict[str, str]]) -> list[str]:
    """Each statement as its verb and the first table it names: what the counts below compare."""
    shapes = []
    for query in queries:
        sql = query["sql"]
        table = re.search(r'"((?:messaging|auth)_\w+)"', sql)
        shapes.append(f"{sql.split()[0].upper()} {table.group(1) if table else ''}".strip())
    return shapes


def _open_a_chat(user, conversation_id: int, channel_name: str) -> list[str]:
    """What ``bench_growth``'s "open a chat" runs: the socket's session and the first history page."""
    with CaptureQueriesContext(connection) as captured:
        reading.open_session(
            user.pk, channel_name, Connection.Kind.CHAT, "test", max_sockets=None, expiry=60, username=user.username
        )
        reading.history_page(user.pk, conversation_id, None, 50)
    return _shapes(captured.captured_queries)


def test_opening_a_chat_runs_each_lookup_once_and_a_first_socket_two_statements_more(alice, bob) -> None:
    """A later tab's opening is 11 statements; the user's first socket adds the flip online and the peers to tell.

    bench_growth's "open a chat" counted 11 or 13 depending on whether the
    hub's seeded socket was still live (docs/benchmark.md, "Why open a chat
    ran 11 or 13 queries"): the two are the presence change, which the
    guarantees need (peers learn the user came online), not a repeated read.
    """
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(3):
        events.create_message(conversation.pk, bob, f"m{n}", uuid.uuid4().hex)
    # alice has been online before (her status row exists, as every corpus user's does) and is offline now
    presence.register_connection(alice.pk, "test.earlier", Connection.Kind.CHAT, "test", username="alice")
    presence.unregister_connection(alice.pk, "test.earlier", 60, username="alice")
    first = _open_a_chat(alice, conversation.pk, "test.first")
    later = _open_a_chat(alice, conversation.pk, "test.later")
    assert later == [
        "BEGIN",
        "SELECT messaging_userstatus",  # the status row, locked: already online
        "INSERT messaging_connection",
        "COMMIT",
        "SELECT auth_user",  # the user with their profile
        "SELECT messaging_participant",  # the user's windows
        "SELECT messaging_participant",  # the history page's membership check
        "SELECT messaging_event",
        "SELECT messaging_archivedevent",  # the page is not full from the hot table
        "SELECT messaging_hiddenmessage",
        "SELECT messaging_reaction",
    ]
    # the first socket: the status flipped online, and the direct conversations whose peers are told
    assert first == [*later[:3], "UPDATE messaging_userstatus", "SELECT messaging_participant", *later[3:]]
