"""Access ends when it should: a socket lives only as long as its session signs in.

Real sessions (the test client's login through the auth backend) and
sockets over the project's ASGI application.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from messaging.conf import CLOSE_SIGNED_OUT
from messaging.models import MessagingError
from messaging.pubsub import group_send, user_group
from messaging.realtime import sessions
from messaging.signals import SESSION_RECHECK

from .faults import table_unreadable
from .support import PASSWORD, communicator
from .support.waiting import eventually

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


def watched(session_key: str) -> list[sessions.SessionGuard]:
    """The sockets of this process the periodic check watches for ``session_key``."""
    return [guard for guard in sessions.watch.guards if guard.consumer.session_key == session_key]


async def ask_to_recheck(user: Any) -> None:
    """What ``messaging.signals`` sends when an account changes: every socket of ``user`` re-checks its session now."""
    await group_send(user_group(user.pk), {"type": SESSION_RECHECK})


async def deactivated(user: Any) -> None:
    """An admin unticks "active" and saves: the signal asks every socket of ``user`` to re-check."""

    def deactivate() -> None:
        account = get_user_model().objects.get(pk=user.pk)
        account.is_active = False
        account.save()

    await database_sync_to_async(deactivate)()


async def errors_recorded() -> list[MessagingError]:
    return await database_sync_to_async(lambda: list(MessagingError.objects.all()))()


# --- The database cannot answer the check ------------------------------------
#
# ``django_session`` renamed away for the moment (tests/faults.py): the
# session read fails for real, on SQLite and on PostgreSQL alike.


async def test_a_socket_stays_open_while_the_database_cannot_check_its_session(alice, bob) -> None:
    comm = await connect(await database_sync_to_async(signed_in)("alice"))
    async with table_unreadable("django_session"):
        await ask_to_recheck(alice)
        await eventually(errors_recorded, "the failed session check recorded")
        assert await answers_ping(comm)  # not closed with 4401 for a blip of the database
    assert await answers_ping(comm)
    await comm.disconnect()


async def test_a_session_check_the_database_cannot_answer_is_recorded_as_a_database_error(alice, bob) -> None:
    comm = await connect(await database_sync_to_async(signed_in)("alice"))
    async with table_unreadable("django_session"):
        await ask_to_recheck(alice)
        [error] = await eventually(errors_recorded, "the failed session check recorded")
    assert (error.category, error.severity, error.context["code"], error.user_id) == (
        "database_error",
        "warning",
        "session_check_failed",
        alice.pk,
    )
    # SQLite: "OperationalError: no such table: django_session";
    # PostgreSQL: 'ProgrammingError: relation "django_session" does not exist'.
    assert re.fullmatch(
        r"could not re-check a socket's session: (OperationalError|ProgrammingError): .*django_session.*",
        error.message,
        re.DOTALL,
    ), error.message
    await comm.disconnect()


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=0.2)
async def test_the_periodic_check_goes_on_after_a_round_the_database_could_not_answer(alice, bob) -> None:
    from django.contrib.sessions.models import Session

    client = await database_sync_to_async(signed_in)("alice")
    comm = await connect(client)
    async with table_unreadable("django_session"):
        await eventually(errors_recorded, "a periodic round failed to read the session")
    await database_sync_to_async(Session.objects.filter(session_key=client.cookies["sessionid"].value).delete)()
    assert await comm.receive_output(timeout=5) == CLOSED


# --- What the watch holds ---------------------------------------------------


async def test_a_closed_socket_is_no_longer_watched(alice, bob) -> None:
    client = await database_sync_to_async(signed_in)("alice")
    comm = await connect(client)
    session_key = client.cookies["sessionid"].value
    assert len(watched(session_key)) == 1
    await comm.disconnect()
    assert watched(session_key) == []  # not checked every round, nor kept for the life of the process


def periodic_checks_running(watch: sessions.SessionWatch) -> list[asyncio.Task[Any]]:
    """The tasks on this event loop running ``watch``'s periodic check (found by what they run, not by name).

    A coroutine of the task's chain of awaits runs with ``self`` the watch (a
    wrapper, mutmut's say, may stand between the task and ``_run``).
    """

    def runs(task: asyncio.Task[Any]) -> bool:
        coro: Any = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None)
            if frame is not None and frame.f_locals.get("self") is watch:
                return True
            coro = getattr(coro, "cr_await", None)
        return False

    return [task for task in asyncio.all_tasks() if runs(task)]


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=3600)
async def test_one_periodic_check_runs_however_many_sockets_are_open(alice, bob) -> None:
    client = await database_sync_to_async(signed_in)("alice")
    comms = [await connect(client), await connect(client, "/ws/chat/bob/"), await connect(client, "/ws/chat/")]
    assert len(periodic_checks_running(sessions.watch)) == 1  # not one per socket, each reading every session
    for comm in comms:
        await comm.disconnect()


async def test_no_session_key_signs_in(alice, bob) -> None:
    client = await database_sync_to_async(signed_in)("alice")
    assert await sessions.session_is_current(client.cookies["sessionid"].value, alice.pk)
    assert not await sessions.session_is_current(None, alice.pk)
    assert not await sessions.session_is_current("", alice.pk)


def test_the_periodic_check_comes_at_least_every_recheck_interval() -> None:
    delays = [sessions.recheck_interval(60) for _ in range(200)]
    assert all(45 <= delay <= 60 for delay in delays), (min(delays), max(delays))
    assert max(delays) - min(delays) > 5  # spread, so that the processes of a deployment do not check together


# --- Closing once, and only when confirmed -------------------------------------


async def test_a_frame_that_arrives_after_the_session_ended_is_not_answered(alice, bob) -> None:
    comm = await connect(await database_sync_to_async(signed_in)("alice"))
    await deactivated(alice)
    assert await comm.receive_output(timeout=3) == CLOSED
    # The client sent this before it read the close (a frame in flight is legal in WebSocket).
    await comm.send_json_to({"type": "ping"})
    await comm.disconnect()  # the consumer handles its input in order: the ping, then the disconnect
    assert await comm.receive_nothing(timeout=0)  # no pong: nothing of the ended session is acted on


def watch_of(session_key: str) -> sessions.SessionWatch:
    """A periodic check of only this session's sockets (the process's watch also holds what other tests left open)."""
    own = sessions.SessionWatch()
    for guard in watched(session_key):
        own.add(guard)
    return own


async def test_a_frame_that_arrives_after_signing_out_is_not_answered(alice, bob) -> None:
    client = await database_sync_to_async(signed_in)("alice")
    comm = await connect(client)
    await database_sync_to_async(client.post)("/accounts/logout/")
    assert await comm.receive_output(timeout=3) == CLOSED
    await comm.send_json_to({"type": "ping"})  # sent before the client read the close
    await comm.disconnect()
    assert await comm.receive_nothing(timeout=0)


async def failed_round(watch: sessions.SessionWatch) -> set[asyncio.Task[None]]:
    """A round of the periodic check (no grace) that fails; the confirmations it started."""
    await watch.check_all(grace=0)
    confirming = set(watch._confirming)
    assert confirming, "the failed check is waiting for its confirmation"
    return confirming


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=3600)
async def test_a_failed_periodic_check_is_confirmed_before_the_socket_is_closed(alice, bob) -> None:
    """The account is reactivated between a failed round and its confirmation: the socket stays.

    No timing: the reactivation is handed to the database thread (one
    thread, first in first out) before the confirmation runs at all, so it is
    done before the confirmation's read.
    """
    client = await database_sync_to_async(signed_in)("alice")
    comm = await connect(client)
    watch = watch_of(client.cookies["sessionid"].value)
    users = get_user_model().objects.filter(pk=alice.pk)
    await database_sync_to_async(users.update)(is_active=False)  # no signal: only the periodic check sees it
    confirming = await failed_round(watch)
    await database_sync_to_async(users.update)(is_active=True)
    await asyncio.wait(confirming, timeout=5)
    assert await answers_ping(comm)
    await comm.disconnect()


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=3600)
async def test_the_watch_keeps_no_finished_confirmation(alice, bob) -> None:
    client = await database_sync_to_async(signed_in)("alice")
    comm = await connect(client)
    watch = watch_of(client.cookies["sessionid"].value)
    await database_sync_to_async(get_user_model().objects.filter(pk=alice.pk).update)(is_active=False)
    confirming = await failed_round(watch)
    await asyncio.wait(confirming, timeout=5)
    assert await comm.receive_output(timeout=3) == CLOSED

    async def none_left() -> bool:
        return not watch._confirming

    await eventually(none_left, "the finished confirmations dropped (a leak over the life of the process)")


# --- What the log says -------------------------------------------------------


async def test_the_log_says_whose_socket_closed_for_an_account_change(alice, bob, caplog) -> None:
    caplog.set_level(logging.INFO, logger="messaging.sessions")
    comm = await connect(await database_sync_to_async(signed_in)("alice"))
    await deactivated(alice)
    assert await comm.receive_output(timeout=3) == CLOSED
    assert f"closing a socket of user {alice.pk}: its session ended (account change)" in caplog.messages


@override_settings(MESSAGING_SESSION_RECHECK_SECONDS=0.2)
async def test_the_log_says_whose_socket_the_periodic_check_closed(alice, bob, caplog) -> None:
    caplog.set_level(logging.INFO, logger="messaging.sessions")
    comm = await connect(await database_sync_to_async(signed_in)("alice"))
    await database_sync_to_async(get_user_model().objects.filter(pk=alice.pk).update)(is_active=False)
    assert await comm.receive_output(timeout=5) == CLOSED
    assert f"closing a socket of user {alice.pk}: its session ended (periodic check)" in caplog.messages
