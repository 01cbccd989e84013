"""Email through a real SMTP server (aiosmtpd) from a real daphne, with SMTP killed mid-run."""

from __future__ import annotations

import asyncio
import email
import time
import uuid

import pytest
from aiosmtpd.controller import Controller

from bench.wsclient import ChatClient, login
from tests.servers import free_port, manage, server_query

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def wait_for(predicate, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_offline_users_get_email_online_users_get_the_push_and_smtp_outages_lose_nothing(
    server_env_factory, start_daphne
) -> None:
    inbox = Inbox()
    smtp_port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    env = server_env_factory(
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_TIMEOUT="3",
        MESSAGING_NOTIFICATION_GROUP_SECONDS="0",
        MESSAGING_RETRY_BASE_SECONDS="0.2",
        MESSAGING_RETRY_MAX_SECONDS="1",
    )
    server = start_daphne(env)
    try:
        alice_cookie = login(server.base_url, "alice", PASSWORD)
        bob_cookie = login(server.base_url, "bob", PASSWORD)

        async def send(client: ChatClient, content: str) -> None:
            await client.send({"type": "message", "content": content, "client_id": uuid.uuid4().hex})
            await client.expect("ack")

        async def scenario_offline_then_online() -> None:
            alice = ChatClient(server.base_url, alice_cookie, "bob")
            await alice.connect()
            await send(alice, "bob is away")
            assert wait_for(lambda: len(inbox.messages) == 1)
            mail = inbox.messages[0]
            print("offline bob got an email:", mail["Subject"], "to", mail["To"])
            assert mail["To"] == "bob@example.com" and "New message from alice" in mail["Subject"]

            bell = ChatClient(server.base_url, bob_cookie, "", path="/ws/notifications/")
            await bell.connect()
            assert (await bell.expect("unread_count"))["count"] == 1
            await send(alice, "bob is here")
            pushed = await bell.expect("notification")
            count = await bell.expect("unread_count")
            print("online bob got the push:", pushed["notification"]["title"], "unread", count["count"])
            assert count["count"] == 2
            await bell.close()
            await alice.close()

        asyncio.run(scenario_offline_then_online())
        time.sleep(0.5)
        assert len(inbox.messages) == 1, "an online user must not be emailed"

        smtp.stop()
        print("SMTP stopped")

        async def send_while_smtp_is_down() -> None:
            alice = ChatClient(server.base_url, alice_cookie, "bob")
            await alice.connect()
            for i in range(5):
                await send(alice, f"while smtp is down {i}")
            await alice.close()

        asyncio.run(send_while_smtp_is_down())
        # SMTP comes back only once the five immediate attempts have failed and
        # left their items queued for a retry (tried at least once, pending).
        failed_and_queued = "RetryQueueItem.objects.filter(state='pending', attempts__gte=1).count()"
        assert wait_for(lambda: server_query(env, failed_and_queued) == 5, timeout=30), server_query(
            env, "list(RetryQueueItem.objects.values_list('state', 'attempts', 'last_error'))"
        )
        smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        print("SMTP restarted")
        runs = []
        for _ in range(20):
            runs.append(manage(env, "process_retry_queue").strip())
            if len(inbox.messages) >= 6:
                break
            time.sleep(0.5)
        print("\n".join(runs))
        runs.append(manage(env, "process_retry_queue").strip())
        subjects = [m["Subject"] for m in inbox.messages]
        print(f"emails in the SMTP inbox: {len(subjects)} (1 before the outage, 5 queued during it)")
        assert len(subjects) == 6
        bodies = [m.get_payload() for m in inbox.messages[1:]]
        assert sorted(b.splitlines()[0] for b in bodies) == [f"while smtp is down {i}" for i in range(5)]
    finally:
        smtp.stop()
