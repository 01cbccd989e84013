"""What one handshake costs the database thread: every reconnect storm pays it once per socket.

The trips are counted, not timed: each ``database_sync_to_async`` call is a hop
into the one database thread, where the handshakes of a storm queue
(docs/benchmark.md, issue 19's storm).
"""

from __future__ import annotations

from collections import Counter

import pytest
from channels.db import DatabaseSyncToAsync, database_sync_to_async

from messaging.store import conversations

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
