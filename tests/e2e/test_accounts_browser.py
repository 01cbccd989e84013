"""Accounts in a real browser: sign-up to a first message, a password reset by email, the phone header.

Debian's Chromium driven by Playwright against daphne, with the set-up of
``test_browser.py``. The server's emailed links point at itself
(``MESSAGING_SITE_URL``, as a deployment sets it) and its email goes where the
embedded default sends it: files in its ``var/mail/``, which the test reads
as a person would read their inbox. The chat part stays minimal (the chat's
URL, its composer and the text on the page): the chat UI is being rewritten.
"""

from __future__ import annotations

import contextlib
import email
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Daphne, free_port, manage, scratch_database, server_env

from .conftest import PASSWORD
from .test_browser import DESKTOP, SCREENSHOTS, WAIT_MS, Server, browser, people, seeded  # noqa: F401 - fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]

# The phone the bell panel was cut off on.
SMALL_PHONE = {"width": 375, "height": 667}
NEW_PASSWORD = "quiet-harbour-lantern-42"
# What Django's file backend writes after each message.
MAIL_SEPARATOR = "\n" + "-" * 79 + "\n"


class Site(Server):
    """A server on a port chosen beforehand, so that its own URL can be its ``MESSAGING_SITE_URL``."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env = env
        self.daphne = Daphne(env, port=port).start()

    def mail_to(self, address: str) -> list[email.message.Message]:
        """The messages the server's email backend (files in its var/mail/) holds for ``address``."""
        found = []
        for path in sorted((Path(self.env["LINKUP_VAR_DIR"]) / "mail").glob("*.log")):
            for chunk in path.read_text().split(MAIL_SEPARATOR):
                if chunk.strip():
                    message = email.message_from_string(chunk.lstrip())
                    if message["To"] == address:
                        found.append(message)
        return found


def screenshot(page, name: str) -> None:
    """The whole page, saved under artifacts/screenshots/ for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def site(seeded, tmp_path_factory) -> Iterator[Site]:  # noqa: F811 - seeded is a fixture
    """Sign-up on, links in emails pointing here, email to files; the demo users, on a database of its own."""
    port = free_port()
    var_dir = tmp_path_factory.mktemp("accounts")
    env = server_env(var_dir, SIGNUP_ENABLED="true", MESSAGING_SITE_URL=f"http://127.0.0.1:{port}")
    for name in ("EMAIL_HOST", "EMAIL_BACKEND"):
        env.pop(name, None)
    with contextlib.ExitStack() as cleanup:
        if seeded is not None:
            for file in seeded.glob("*.sqlite3*"):
                shutil.copy(file, var_dir / file.name)
        else:
            env = cleanup.enter_context(scratch_database(env))
            manage(env, "migrate", "--no-input", "-v", "0")
            manage(env, "create_demo_users", "--password", PASSWORD)
        server = Site(env, port)
        cleanup.callback(server.daphne.stop)
        yield server


@pytest.fixture
def page(browser) -> Iterator:  # noqa: F811 - browser is a fixture
    """A page of a fresh browser context: no one signed in."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def test_a_newcomer_signs_up_lands_on_the_inbox_and_a_first_message_reaches_alice(site, page, people) -> None:  # noqa: F811
    from playwright.sync_api import expect

    name = f"dana{uuid.uuid4().hex[:6]}"
    page.goto(f"{site.url}/accounts/login/")
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url("**/accounts/signup/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password confirmation").fill(NEW_PASSWORD)
    screenshot(page, "signup")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/messages/")
    expect(page.get_by_role("link", name="Change password")).to_be_visible()

    text = f"Hello alice, I just signed up {uuid.uuid4().hex[:6]}"
    page.goto(f"{site.url}/messages/alice/")
    composer = page.locator("[data-composer-input]")
    composer.fill(text)
    composer.press("Enter")
    expect(page.get_by_text(text).first).to_be_visible()

    alice = people(site, "alice")
    alice.goto(f"{site.url}/messages/{name}/")
    expect(alice.get_by_text(text).first).to_be_visible(timeout=WAIT_MS)
    assert page.errors == [] and alice.errors == []


def test_a_forgotten_password_is_reset_through_the_emailed_link(site, page) -> None:
    from playwright.sync_api import expect

    name = f"erin{uuid.uuid4().hex[:6]}"
    address = f"{name}@example.com"
    manage(
        site.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({name!r}, {address!r}, 'forgotten-long-ago-1')",
    )
    page.goto(f"{site.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/accounts/password_reset/")
    page.get_by_label("Email").fill(address)
    screenshot(page, "password-reset")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    deadline = time.monotonic() + 10
    while not site.mail_to(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    (mail,) = site.mail_to(address)
    assert mail["Subject"] == "Reset your LinkUp password"
    link = re.search(r"http://\S+/accounts/reset/\S+/", mail.get_payload(decode=True).decode()).group(0)
    assert link.startswith(f"{site.url}/")

    page.goto(link)
    page.wait_for_url("**/set-password/")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    screenshot(page, "password-reset-set-new")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/messages/")
    assert page.errors == []


def test_on_a_phone_the_header_fits_and_the_bell_panel_opens_inside_the_screen(site, people) -> None:  # noqa: F811
    from playwright.sync_api import expect

    alice = people(site, "alice", viewport=SMALL_PHONE)
    assert alice.evaluate("() => document.documentElement.scrollWidth") <= SMALL_PHONE["width"]
    expect(alice.get_by_role("link", name="Change password")).to_be_visible()

    alice.get_by_role("button", name=re.compile("^Notifications")).click()
    panel = alice.locator("[data-bell-panel]")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= SMALL_PHONE["width"], box
    assert box["y"] + box["height"] <= SMALL_PHONE["height"], box
    expect(panel.get_by_role("heading", name="Notifications")).to_be_in_viewport(ratio=1)
    screenshot(alice, "bell-phone")
    assert alice.errors == []
