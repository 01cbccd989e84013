"""Issue 17's settings in Chromium: quiet hours, mute, desktop alerts, read receipts, over every open tab.

The server pushes to the loopback push service of ``tests/pushservice.py``
(what a browser's push service would get: encrypted, VAPID-signed) and emails
with the embedded default's file backend (its ``var/mail/``), read as a person
reads their inbox, as ``test_accounts_browser.py`` does. Bob's desktop alerts
are a subscription made through the real API with keys made in Python (a
headless Chromium cannot subscribe without the internet, see
``test_pwa_browser.py``).
"""

from __future__ import annotations

import datetime
import email
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from messaging.notify.webpush import generate_vapid_keys
from tests.pushservice import PushService

from . import test_browser as shared
from .test_browser import DESKTOP, PHONE, WAIT_MS, open_chat, send, unique

# The browser tests' fixtures, shared with this module.
browser, seeded, people = shared.browser, shared.seeded, shared.people

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]

# What Django's file backend writes after each message.
MAIL_SEPARATOR = "\n" + "-" * 79 + "\n"
ZONE = "America/Sao_Paulo"  # the browser's zone here: the settings page offers it by default


@pytest.fixture
def push_server(seeded, tmp_path) -> Iterator[tuple[shared.Server, PushService]]:
    private, _ = generate_vapid_keys()
    settings = {
        "MESSAGING_WEBPUSH_ENABLED": "true",
        "MESSAGING_VAPID_PRIVATE_KEY": private,
        "MESSAGING_VAPID_SUBJECT": "mailto:ops@example.com",
        "MESSAGING_WEBPUSH_ALLOW_HTTP": "true",
        "MESSAGING_NOTIFICATION_GROUP_SECONDS": "0",
    }
    with PushService() as push, shared.started_server(seeded, tmp_path, **settings) as server:
        yield server, push


def mail_to(server: shared.Server, address: str) -> list[email.message.Message]:
    found = []
    for path in sorted((Path(server.env["LINKUP_VAR_DIR"]) / "mail").glob("*.log")):
        for chunk in path.read_text().split(MAIL_SEPARATOR):
            if chunk.strip():
                message = email.message_from_string(chunk.lstrip())
                if message["To"] == address:
                    found.append(message)
    return found


def in_zone(page, zone: str) -> None:
    """The page's browser runs in ``zone`` (DevTools' timezone override), as a browser abroad would."""
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": zone})


def wait_until(page, predicate, timeout_ms: int = WAIT_MS) -> bool:
    for _ in range(timeout_ms // 100):
        if predicate():
            return True
        page.wait_for_timeout(100)
    return predicate()


def away(page) -> None:
    """The person closes LinkUp: no socket of theirs is left open."""
    page.goto("about:blank")
    page.wait_for_timeout(500)


def test_mute_and_quiet_hours_suppress_email_and_desktop_alerts_but_not_the_in_app_unread_count(
    push_server, people
) -> None:
    from playwright.sync_api import expect

    server, push = push_server
    server.direct("bob", "alice")
    server.direct("bob", "carol")
    bob = people(server, "bob")
    subscription, _ = push.browser("bob")
    answer = bob.evaluate(
        "async (s) => (await import('/static/messaging/js/api.js')).postJSON('/messages/api/push/subscribe', s)",
        subscription,
    )
    assert answer["status"] == 201

    # Quiet hours around now, in the browser's own zone (offered by default).
    in_zone(bob, ZONE)
    bob.goto(f"{server.url}/settings/")
    quiet = bob.locator("[data-settings-form=quiet_hours]")
    expect(quiet.get_by_label("Time zone")).to_have_value(ZONE)
    now = datetime.datetime.now(zoneinfo.ZoneInfo(ZONE))
    quiet.get_by_label("No email and no desktop alerts between").check()
    quiet.get_by_label("From").fill((now - datetime.timedelta(hours=1)).strftime("%H:%M"))
    quiet.get_by_label("to", exact=True).fill((now + datetime.timedelta(hours=1)).strftime("%H:%M"))
    quiet.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    quiet.get_by_role("button", name="Save").click()
    expect(quiet.get_by_role("alert")).to_have_text(
        "there is no time zone 'Mars/Olympus_Mons' (an IANA name such as Europe/Paris)"
    )
    quiet.get_by_label("Time zone").fill(ZONE)
    quiet.get_by_role("button", name="Save").click()
    expect(quiet.get_by_role("alert")).to_have_count(0)
    expect(bob.locator("[data-settings-status]")).to_have_text("Saved.")

    # Carol's conversation muted from the chat's header.
    open_chat(bob, server, "carol")
    bob.locator("[data-mute-summary]").click()
    bob.get_by_role("button", name="Mute for 8 hours").click()
    expect(bob.locator("[data-mute-summary]")).to_have_attribute(
        "aria-label", "Notifications from this conversation: muted"
    )
    expect(bob.locator("[data-mute-status]")).to_contain_text("Muted until")
    bob.goto(f"{server.url}/settings/")
    muted = bob.locator("[data-muted-list] li")
    expect(muted).to_have_count(1)
    expect(muted).to_contain_text("carol")
    for size_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        bob.set_viewport_size(viewport)
        shared.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        bob.screenshot(path=str(shared.SCREENSHOTS / f"settings-preferences-{size_name}.png"), full_page=True)
        assert bob.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    bob.set_viewport_size(DESKTOP)
    away(bob)

    alice, carol = people(server, "alice"), people(server, "carol")
    open_chat(alice, server, "bob")
    open_chat(carol, server, "bob")
    send(alice, unique("during quiet hours"))
    send(carol, unique("in a muted chat"))
    alice.wait_for_timeout(3000)
    assert mail_to(server, "bob@example.com") == []
    assert push.to("bob") == []

    # Both still count as unread in the inbox; the muted one shows its mark.
    bob.goto(f"{server.url}/messages/")
    for peer in ("alice", "carol"):
        row = bob.locator(f"a.conversation[data-peer={peer}]")
        expect(row).to_have_attribute("data-unread", "1", timeout=WAIT_MS)
    expect(bob.locator("a.conversation[data-peer=carol] .muted-mark")).to_have_count(1)
    expect(bob.locator("a.conversation[data-peer=alice] .muted-mark")).to_have_count(0)

    # Quiet hours off: the next message reaches bob's browser; with desktop alerts off too, his email.
    bob.goto(f"{server.url}/settings/")
    quiet = bob.locator("[data-settings-form=quiet_hours]")
    quiet.get_by_label("No email and no desktop alerts between").uncheck()
    quiet.get_by_role("button", name="Save").click()
    expect(bob.locator("[data-settings-status]")).to_have_text("Saved.")
    away(bob)
    first = unique("after quiet hours")
    send(alice, first)
    assert wait_until(alice, lambda: len(push.to("bob")) == 1)
    assert push.to("bob")[0].payload["body"] == first
    send(carol, unique("still muted"))

    bob.goto(f"{server.url}/settings/")
    channels = bob.locator("[data-settings-form=notifications]")
    channels.get_by_label("Desktop/phone alerts", exact=False).uncheck()
    channels.get_by_role("button", name="Save").click()
    expect(bob.locator("[data-settings-status]")).to_have_text("Saved.")
    away(bob)
    second = unique("desktop alerts off")
    send(alice, second)
    assert wait_until(alice, lambda: len(mail_to(server, "bob@example.com")) == 1)
    [mail] = mail_to(server, "bob@example.com")
    assert "alice" in mail["Subject"]
    alice.wait_for_timeout(1000)
    assert len(push.to("bob")) == 1  # no alert for the second message, nothing from the muted chat
    assert len(mail_to(server, "bob@example.com")) == 1
    assert bob.errors == [] and alice.errors == [] and carol.errors == []


def test_a_setting_saved_in_one_tab_shows_at_once_in_the_users_other_tabs(push_server, people) -> None:
    from playwright.sync_api import expect

    server, _ = push_server
    first = people(server, "alice")
    first.goto(f"{server.url}/settings/")
    second = first.context.new_page()
    second.goto(f"{server.url}/settings/")
    second.wait_for_timeout(500)  # its socket is open
    receipts = first.locator("[data-settings-form=receipts]")
    receipts.get_by_label("Read receipts").uncheck()
    receipts.get_by_role("button", name="Save").click()
    expect(second.locator("[data-settings-form=receipts]").get_by_label("Read receipts")).not_to_be_checked(
        timeout=WAIT_MS
    )
    first.reload()
    expect(first.locator("[data-settings-form=receipts]").get_by_label("Read receipts")).not_to_be_checked()
