"""Access ends when it should: a socket lives only as long as its session signs in.

Real sessions (the test client's login through the auth backend) and
sockets over the project's ASGI application.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from messaging.conf import CLOSE_SIGNED_OUT

from .support import PASSWORD, communicator

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-new-linkup-password-9"
CLOSED = {"type": "websocket.close", "code": CLOSE_SIGNED_OUT}


def signed_in(username: str, password: str = PASSWORD) -> Client:
    client = Client()
    assert client.login(username=username, password=password)
    return client


async def connect(client: Client, path: str = "/ws/notifications/") -> Any:
    comm = communicator(path, client.cookies["sessionid"].value)
    connected, code = await comm.connect(timeout=5)
    assert connected, f"handshake refused with {code}"
    await comm.receive_json_from(timeout=5)  # unread_count or connected
    return comm


async def answers_ping(comm: Any) -> bool:
    """The socket is still open and answering (other frames, e.g. presence, are skipped)."""
    await comm.send_json_to({"type": "ping"})
    while True:
        output = await comm.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            return False
        if json.loads(output["text"])["type"] == "pong":
            return True


async def test_a_password_change_closes_the_other_sessions_sockets_and_keeps_the_changers(alice, bob) -> None:
    other, changer = await database_sync_to_async(signed_in)("alice"), await database_sync_to_async(signed_in)("alice")
    other_sockets = [await connect(other), await connect(other, "/ws/chat/bob/")]
    changer_socket = await connect(changer, "/ws/chat/bob/")

    response = await database_sync_to_async(changer.post)(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content[:500]

    for comm in other_sockets:
        assert await comm.receive_output(timeout=3) == CLOSED
    assert await answers_ping(changer_socket)
    # It follows its session to the key Django gave it: signing out of that session closes it.
    await database_sync_to_async(changer.post)("/accounts/logout/")
    assert await changer_socket.receive_output(timeout=3) == CLOSED


async def test_a_session_that_still_signs_in_keeps_its_sockets_when_the_user_is_saved(alice, bob) -> None:
    client = await database_sync_to_async(signed_in)("alice")
    comm = await connect(client)

    def rename() -> None:
        user = get_user_model().objects.get(pk=alice.pk)
        user.first_name = "Alice"
        user.save()

    await database_sync_to_async(rename)()
    assert await answers_ping(comm)
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


async def test_deactivating_a_user_closes_every_socket_of_theirs(alice, bob) -> None:
    sockets = [await connect(await database_sync_to_async(signed_in)("alice")) for _ in range(2)]
    bobs = await connect(await database_sync_to_async(signed_in)("bob"))

    def deactivate() -> None:
        user = get_user_model().objects.get(pk=alice.pk)
        user.is_active = False
        user.save()

    await database_sync_to_async(deactivate)()
    for comm in sockets:
        assert await comm.receive_output(timeout=3) == CLOSED
    assert await answers_ping(bobs)
    await bobs.disconnect()


async def test_deleting_a_user_closes_their_sockets(alice, bob) -> None:
    comm = await connect(await database_sync_to_async(signed_in)("alice"), "/ws/chat/bob/")
    await database_sync_to_async(lambda: get_user_model().objects.get(pk=alice.pk).delete())()
    assert await comm.receive_output(timeout=3) == CLOSED


async def test_a_password_set_outside_any_request_closes_every_session_of_the_user(alice, bob) -> None:
    comm = await connect(await database_sync_to_async(signed_in)("alice"))

    def change_password() -> None:  # as `manage.py changepassword` does
        user = get_user_model().objects.get(pk=alice.pk)
        user.set_password(NEW_PASSWORD)
        user.save()

    await database_sync_to_async(change_password)()
    assert await comm.receive_output(timeout=3) == CLOSED


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=0.2)
async def test_the_periodic_check_closes_a_socket_whose_user_was_deactivated_without_a_signal(alice, bob) -> None:
    comm = await connect(await database_sync_to_async(signed_in)("alice"), "/ws/chat/bob/")
    # A queryset update sends no signal: only the timer can notice.
    await database_sync_to_async(get_user_model().objects.filter(pk=alice.pk).update)(is_active=False)
    while (output := await comm.receive_output(timeout=5))["type"] != "websocket.close":
        pass
    assert output == CLOSED


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=0.2)
async def test_the_periodic_check_closes_a_socket_whose_session_was_deleted(alice, bob) -> None:
    from django.contrib.sessions.models import Session

    client = await database_sync_to_async(signed_in)("alice")
    comm = await connect(client)
    await database_sync_to_async(Session.objects.filter(session_key=client.cookies["sessionid"].value).delete)()
    assert await comm.receive_output(timeout=5) == CLOSED


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=0.2)
async def test_the_periodic_check_keeps_a_socket_whose_session_still_signs_in(alice, bob) -> None:
    comm = await connect(await database_sync_to_async(signed_in)("alice"), "/ws/chat/bob/")
    assert await comm.receive_nothing(timeout=1.0)  # several periods
    assert await answers_ping(comm)
    await comm.disconnect()


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=3600)
async def test_the_periodic_check_reads_each_session_once_however_many_sockets_it_has(alice, bob, monkeypatch) -> None:
    from messaging.realtime import sessions

    alices, bobs = await database_sync_to_async(signed_in)("alice"), await database_sync_to_async(signed_in)("bob")
    comms = [await connect(alices), await connect(alices, "/ws/chat/bob/"), await connect(alices, "/ws/chat/")]
    comms.append(await connect(bobs))
    checked: list[tuple[str, int]] = []
    real = sessions.session_is_current

    async def counting(session_key: str, user_id: int) -> bool:
        checked.append((session_key, user_id))
        return await real(session_key, user_id)

    monkeypatch.setattr(sessions, "session_is_current", counting)
    await sessions.watch.check_all(grace=0)
    keys = {(alices.cookies["sessionid"].value, alice.pk), (bobs.cookies["sessionid"].value, bob.pk)}
    assert sorted(c for c in checked if c in keys) == sorted(keys)  # each once, for 3 + 1 sockets
    for comm in comms:
        assert await answers_ping(comm)
        await comm.disconnect()
