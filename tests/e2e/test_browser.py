"""The browser app in a real browser: Debian's Chromium driven by Playwright against daphne.

Each browser context is a person. Everything is observed the way a person
would: text on the page, the tick on a bubble (``data-status`` and its icon),
"Read by", the divider, the connection pill, the signed-out banner; and the
database is checked through ``manage.py shell`` so the same test holds on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, Daphne, manage, scratch_database, server_env

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]

CHROMIUM = os.environ.get("LINKUP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# Long enough for a reconnect after the server came back (backoff is capped at 10 s).
WAIT_MS = 30_000


def _playwright():
    """Playwright, or a loud failure: CI must never skip the browser tests silently."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - requirements.txt pins it
        reason = f"the playwright package is not installed ({exc}); run scripts/install"
    if reason is None and not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        reason = f"Chromium is not at {CHROMIUM}; run scripts/system-deps (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("LINKUP_SKIP_BROWSER") == "1":
            pytest.skip(f"LINKUP_SKIP_BROWSER=1 and {reason}")
        pytest.fail(f"{reason}, or set LINKUP_SKIP_BROWSER=1 to skip the browser tests on this machine", pytrace=False)
    return sync_playwright


# Runs in every frame of every page before the page's own scripts: each
# Content-Security-Policy violation is reported to the test (exposed binding,
# so reports survive navigations).
RECORD_POLICY_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__linkupPolicyViolation({
    directive: event.effectiveDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
  });
}, true);
"""


class PolicyCheckedBrowser:
    """Playwright's browser, whose every context records Content-Security-Policy violations.

    ``policy_holds`` (autouse) fails any test that leaves one: no page may need
    an inline script or style, a ``data:`` image or a foreign connection.
    """

    def __init__(self, browser) -> None:
        self._browser = browser
        self.violations: list[dict] = []

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.expose_binding(
            "__linkupPolicyViolation",
            lambda source, report: self.violations.append({**report, "page": source["page"].url}),
        )
        context.add_init_script(RECORD_POLICY_VIOLATIONS)
        return context

    def take_violations(self) -> list[dict]:
        """The violations so far, forgotten: for a test that causes some on purpose."""
        taken, self.violations = self.violations, []
        return taken

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[PolicyCheckedBrowser]:
    sync_playwright = _playwright()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield PolicyCheckedBrowser(chromium)
        chromium.close()


@pytest.fixture(autouse=True)
def policy_holds(request) -> Iterator[None]:
    """Every browser test ends with no Content-Security-Policy violation on any of its pages."""
    if "browser" not in request.fixturenames:
        yield
        return
    checked = request.getfixturevalue("browser")
    checked.take_violations()
    yield
    assert checked.take_violations() == [], "the page broke its Content-Security-Policy"


class Server:
    """A daphne with its environment, so a test can query its database or restart it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.daphne = Daphne(env).start()

    @property
    def url(self) -> str:
        return self.daphne.base_url

    def restart_after_kill(self) -> None:
        """SIGKILL, then a new process on the same port and database."""
        port = self.daphne.port
        self.daphne.kill()
        self.daphne = Daphne(self.env, port=port).start()

    def shell(self, code: str) -> str:
        """Run Python in ``manage.py shell`` on this server's database; the last line printed."""
        lines = manage(self.env, "shell", "-c", code).strip().splitlines()
        return lines[-1] if lines else ""

    def messages_between(self, a: str, b: str) -> list[dict]:
        """The direct conversation's messages, with the status the other person's cursors give them."""
        code = (
            "import json; from django.contrib.auth import get_user_model; "
            "from messaging.models import Conversation, Event, Participant; "
            f"U = get_user_model(); a, b = U.objects.get(username={a!r}), U.objects.get(username={b!r}); "
            "c = Conversation.objects.filter(direct_key=Conversation.direct_key_for(a.pk, b.pk)).first(); "
            "p = {m.user_id: m for m in Participant.objects.filter(conversation=c)}; "
            "other = lambda e: p[b.pk if e.sender_id == a.pk else a.pk]; "
            "status = lambda e: 'read' if other(e).read_seq >= e.seq else 'delivered' if other(e).delivered_seq >= e.seq else 'sent'; "
            "q = Event.objects.filter(conversation=c, kind='message').order_by('seq') if c else []; "
            "print(json.dumps([{'sender': e.sender.username, 'content': e.content, 'seq': e.seq, "
            "'client_id': e.client_id, 'status': status(e)} for e in q]))"
        )
        return json.loads(self.shell(code))

    def group(self, owner: str, title: str, members: list[str]) -> int:
        """A group made in the database (the dialog has its own test); its id."""
        code = (
            "from django.contrib.auth import get_user_model; import uuid; "
            "from messaging.store.conversations import create_group; "
            f"owner = get_user_model().objects.get(username={owner!r}); "
            f"change = create_group(owner, {title!r}, {members!r}, uuid.uuid4().hex, max_members=256); "
            "print(change.conversation.pk)"
        )
        return int(self.shell(code))

    def say(
        self, conversation_id: int, lines: list[tuple[str, str]], read: dict[str, int | None] | None = None
    ) -> None:
        """Store messages (sender, text) in a conversation; ``read`` sets read cursors (None: to the end)."""
        code = (
            "from django.contrib.auth import get_user_model; import uuid; "
            "from messaging.models import Conversation, Participant; from messaging.store.events import create_message; "
            "U = get_user_model(); "
            f"[create_message({conversation_id}, U.objects.get(username=who), text, uuid.uuid4().hex) for who, text in {lines!r}]; "
            f"end = Conversation.objects.get(pk={conversation_id}).last_seq; "
            f"[Participant.objects.filter(conversation_id={conversation_id}, user__username=who).update("
            "read_seq=end if seq is None else seq, delivered_seq=end if seq is None else seq) "
            f"for who, seq in {dict(read or {})!r}.items()]"
        )
        self.shell(code)

    def direct(self, a: str, b: str) -> int:
        """The id of the direct conversation of two people (made if needed)."""
        code = (
            "from django.contrib.auth import get_user_model; from messaging.store.conversations import get_or_create_direct; "
            f"U = get_user_model(); print(get_or_create_direct(U.objects.get(username={a!r}), U.objects.get(username={b!r}))[0].pk)"
        )
        return int(self.shell(code))


def own_database() -> bool:
    """Each server has its own SQLite file (the embedded default), so one seeded file can be copied."""
    return not (os.environ.get("DATABASE_URL") or os.environ.get("SQLITE_PATH"))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path | None:
    """A var dir with the migrated database and the demo users, made once for the module (SQLite only)."""
    if not own_database():
        return None
    var_dir = tmp_path_factory.mktemp("seed")
    env = server_env(var_dir)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "create_demo_users", "--password", PASSWORD)
    return var_dir


@contextlib.contextmanager
def started_server(seeded: Path | None, var_dir: Path, **settings: str) -> Iterator[Server]:
    """A server on a database of its own: a copy of the seeded SQLite file, or a scratch PostgreSQL database."""
    if seeded is not None:
        for file in seeded.glob("*.sqlite3*"):
            shutil.copy(file, var_dir / file.name)
        server = Server(server_env(var_dir, **settings))
        try:
            yield server
        finally:
            server.daphne.stop()
        return
    with scratch_database(server_env(var_dir, **settings)) as env:
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "create_demo_users", "--password", PASSWORD)
        server = Server(env)
        try:
            yield server
        finally:
            server.daphne.stop()


@pytest.fixture(scope="module")
def server(seeded, tmp_path_factory) -> Iterator[Server]:
    """One server for the tests that only add their own, uniquely worded, messages."""
    with started_server(seeded, tmp_path_factory.mktemp("browser")) as server:
        yield server


@pytest.fixture
def own_server(seeded, tmp_path) -> Iterator[Server]:
    with started_server(seeded, tmp_path) as server:
        yield server


@pytest.fixture
def strict_server(seeded, tmp_path) -> Iterator[Server]:
    """A server that lets a sender store only three messages a minute."""
    with started_server(seeded, tmp_path, MESSAGING_RATE_LIMIT="3/60s") as server:
        yield server


@pytest.fixture
def people(browser, request) -> Iterator:
    """``people(server, "alice")``: a signed-in page in a browser context of its own."""
    contexts = []

    def sign_in(server: Server, username: str, viewport: dict | None = None, setup=None):
        context = browser.new_context(viewport=viewport or DESKTOP)
        contexts.append(context)
        # Headless Chromium does not say which of several windows has the focus,
        # and reading needs a focused window: each page is focused unless a test
        # says otherwise (unfocus/refocus).
        context.add_init_script("document.hasFocus = () => window.__focused !== false;")
        if setup is not None:
            setup(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("dialog", lambda dialog: (page.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.goto(f"{server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/messages/")
        return page

    yield sign_in
    for context in contexts:
        for page in context.pages:
            page.evaluate("0")  # a round trip: violation reports already sent have arrived
        context.close()


def open_chat(page, server: Server, peer: str, state: str = "connected") -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/messages/{peer}/")
    expect(page.locator("[data-connection]")).to_have_attribute("data-state", state, timeout=WAIT_MS)


def send(page, text: str) -> None:
    box = page.get_by_label(re.compile("^Message to"))
    box.fill(text)
    box.press("Enter")


def bubble(page, text: str):
    return page.locator("li.message").filter(has=page.locator(".content", has_text=text))


def contents(page) -> list[str]:
    return page.locator("li.message .content").all_text_contents()


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:6]}"


def test_a_message_reaches_the_peer_with_ticks_typing_shows_and_reading_turns_them_blue(server, people) -> None:
    from playwright.sync_api import expect

    server.direct("alice", "bob")  # they talked before: presence is shared between them
    alice, bob = people(server, "alice"), people(server, "bob")
    open_chat(alice, server, "bob")
    open_chat(bob, server, "alice")
    expect(alice.locator("[data-presence]")).to_have_text("online")
    # Bob's window loses focus: what reaches him is delivered, not read.
    bob.evaluate("() => { window.__focused = false; document.hasFocus = () => window.__focused; }")

    alice.get_by_label(re.compile("^Message to")).press_sequentially("Hi bob", delay=20)
    expect(bob.locator("[data-typing]")).to_have_text("alice is typing…")

    text = unique("Hi bob")
    send(alice, text)
    mine = bubble(alice, text)
    expect(bubble(bob, text)).to_have_count(1)
    expect(bubble(bob, text)).to_have_class(re.compile(r"\btheirs\b"))
    expect(bob.locator("[data-typing]")).to_have_text("")
    expect(mine).to_have_attribute("data-status", "delivered")
    expect(mine.locator(".status-delivered svg path")).to_have_count(2)

    bob.evaluate("() => { window.__focused = true; window.dispatchEvent(new Event('focus')); }")
    expect(mine).to_have_attribute("data-status", "read")
    tick = mine.locator(".status-read")
    expect(tick).to_have_attribute("aria-label", "Read")
    assert tick.evaluate("el => getComputedStyle(el).color") == "rgb(10, 95, 209)"  # --tick-read

    reply = unique("Hi alice")
    send(bob, reply)
    expect(bubble(alice, reply)).to_have_count(1)
    expect(bubble(bob, reply)).to_have_attribute("data-status", "read")
    stored = {m["content"]: m["status"] for m in server.messages_between("alice", "bob")}
    assert stored[text] == "read" and stored[reply] == "read"
    assert alice.errors == [] and bob.errors == []


def test_markup_in_a_message_is_shown_as_text_and_never_runs(server, people) -> None:
    from playwright.sync_api import expect

    alice, bob = people(server, "alice"), people(server, "bob")  # bob stays on his inbox
    expect(bob.locator("[data-bell-count]")).to_be_hidden()
    open_chat(alice, server, "bob")
    evil = f'<script>alert(1)</script><img src=x onerror="window.__pwned=1;alert(2)"> {uuid.uuid4().hex[:6]}'
    send(alice, evil)
    expect(bubble(alice, evil)).to_have_count(1)
    assert alice.locator("li.message .content").last.text_content() == evil

    # Bob is not in the conversation: a notification arrives live, and his inbox refreshes.
    expect(bob.locator("[data-bell-count]")).to_have_text("1")
    row = bob.locator(".conversation[data-peer=alice]")
    expect(row.locator(".conversation-preview .text")).to_have_text(evil)
    expect(row.locator("[data-unread-badge]")).to_be_visible()
    bob.get_by_role("button", name=re.compile(r"^Notifications, 1 unread")).click()
    item = bob.locator("[data-bell-list] .notification").first
    expect(item.locator(".notification-body")).to_have_text(evil)
    bob.get_by_role("button", name="Mark all read").click()
    expect(bob.locator("[data-bell-count]")).to_be_hidden()

    bob.goto(f"{server.url}/messages/alice/")
    expect(bubble(bob, evil)).to_have_count(1)
    for page in (alice, bob):
        assert page.locator("[data-messages] img, [data-messages] script").count() == 0
        assert page.evaluate("() => window.__pwned") is None
        assert page.errors == []


def test_after_a_server_kill_and_restart_every_message_arrives_once_and_in_order(own_server, people) -> None:
    from playwright.sync_api import expect

    server = own_server
    tag = uuid.uuid4().hex[:6]  # on a shared database, this test's messages are the tagged ones
    alice, bob = people(server, "alice"), people(server, "bob")
    open_chat(alice, server, "bob")
    open_chat(bob, server, "alice")
    expected = [f"before the crash {tag}"]
    send(alice, expected[0])
    expect(bubble(bob, expected[0])).to_have_count(1)

    server.daphne.kill()
    expect(alice.locator("[data-connection]")).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    for i in range(1, 4):
        expected.append(f"while the server is down {i} {tag}")
        send(alice, expected[-1])
        expect(bubble(alice, expected[-1])).to_have_attribute("data-status", "pending")
    expect(bubble(alice, expected[-1]).locator(".status-pending svg")).to_have_count(1)
    alice.get_by_label(re.compile("^Message to")).press_sequentially("still typing", delay=10)

    server.daphne = Daphne(server.env, port=server.daphne.port).start()
    for page in (alice, bob):
        expect(page.locator("[data-connection]")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(bubble(alice, expected[-1])).to_have_attribute(
        "data-status", re.compile("sent|delivered|read"), timeout=WAIT_MS
    )
    alice.get_by_label(re.compile("^Message to")).fill("")
    expected.append(f"after the restart {tag}")
    send(alice, expected[-1])
    expect(bubble(bob, expected[-1])).to_have_count(1, timeout=WAIT_MS)

    for page in (alice, bob):
        ours = page.locator("li.message").filter(has_text=tag)
        expect(ours.locator(".content")).to_have_text(expected, timeout=WAIT_MS)
        seqs = [int(seq) for seq in ours.evaluate_all("els => els.map(e => e.dataset.seq)")]
        assert seqs == list(range(seqs[0], seqs[0] + len(expected)))
    stored = [m for m in server.messages_between("alice", "bob") if tag in m["content"]]
    assert [m["content"] for m in stored] == expected
    assert [m["seq"] for m in stored] == seqs
    assert alice.evaluate("() => localStorage.getItem('linkup.outbox.alice')") is None


def test_without_a_socket_the_outbox_survives_a_reload_and_sends_over_http(server, people) -> None:
    from playwright.sync_api import expect

    def no_chat_socket(context) -> None:
        context.route_web_socket(re.compile(r"/ws/chat/"), lambda ws: ws.close())

    alice = people(server, "alice", setup=no_chat_socket)
    bob = people(server, "bob")
    open_chat(bob, server, "alice")
    # The conversation's send, or the first contract's send when the conversation is not made yet.
    send_url = re.compile(r"/messages/api/(bob/send|conversations/\d+/messages)$")
    answers = []

    def refuse_send(route) -> None:
        answers.append("rate_limited")
        route.fulfill(status=429, json={"type": "error", "code": "rate_limited", "detail": "slow down"})

    alice.context.route(send_url, refuse_send)
    open_chat(alice, server, "bob", state="offline")

    text = unique("sent without a socket")
    send(alice, text)
    mine = bubble(alice, text)
    expect(mine).to_have_attribute("data-status", "failed")
    expect(mine.locator(".failure")).to_contain_text("sending too fast")
    client_id = mine.get_attribute("data-client-id")
    assert answers == ["rate_limited"]

    # The server cannot be reached at all now: Retry leaves it waiting in the outbox.
    alice.context.unroute(send_url)
    alice.context.route(send_url, lambda route: route.abort())
    mine.get_by_role("button", name="Retry").click()
    expect(mine).to_have_attribute("data-status", "pending")
    alice.reload()
    expect(alice.locator("[data-connection]")).to_have_attribute("data-state", "offline", timeout=WAIT_MS)
    expect(mine).to_have_attribute("data-status", "pending")
    assert mine.get_attribute("data-client-id") == client_id

    alice.context.unroute(send_url)
    expect(mine).to_have_attribute("data-status", re.compile("sent|delivered|read"), timeout=WAIT_MS)
    expect(bubble(bob, text)).to_have_count(1)
    stored = [m for m in server.messages_between("alice", "bob") if m["content"] == text]
    assert len(stored) == 1 and stored[0]["client_id"] == client_id
    assert alice.errors == []


def test_a_message_the_socket_refuses_shows_retry_and_delete(strict_server, people) -> None:
    from playwright.sync_api import expect

    server = strict_server
    alice = people(server, "alice")
    open_chat(alice, server, "bob")
    texts = [unique(f"allowed {i}") for i in range(3)]
    for text in texts:
        send(alice, text)
        expect(bubble(alice, text)).to_have_attribute("data-status", "sent")
    over = unique("one too many")
    send(alice, over)
    refused = bubble(alice, over)
    expect(refused).to_have_attribute("data-status", "failed")
    expect(refused.locator(".failure")).to_contain_text("sending too fast")
    refused.get_by_role("button", name="Retry").click()
    expect(refused).to_have_attribute("data-status", "failed")  # still over the allowance
    refused.get_by_role("button", name="Delete").click()
    expect(refused).to_have_count(0)
    assert alice.evaluate("() => localStorage.getItem('linkup.outbox.alice')") is None
    stored = [m["content"] for m in server.messages_between("alice", "bob") if m["content"] in [*texts, over]]
    assert stored == texts
    assert alice.errors == []


def test_the_chat_loads_the_last_50_and_older_messages_on_scrolling_up(server, people) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:6]
    conversation = server.direct("carol", "bob")
    # Carol has read everything: the chat opens at the bottom, not at a divider.
    server.say(
        conversation,
        [(("bob", "carol")[i % 2], f"history {tag} {i}") for i in range(70)],
        read={"carol": None, "bob": None},
    )
    carol = people(server, "carol")
    open_chat(carol, server, "bob")
    ours = carol.locator("li.message").filter(has_text=tag)
    expect(ours).to_have_count(50)
    expect(ours.last.locator(".content")).to_have_text(f"history {tag} 69")
    expect(carol.locator("[data-load-older]")).to_be_visible()

    # Scrolled to the top as a person does, again if the page was still settling at the bottom
    # (on a loaded machine the first scroll can land before the chat's own scroll to the newest).
    carol.wait_for_function(
        """([tag, want]) => {
            document.querySelector('[data-scroller]').scrollTop = 0;
            return [...document.querySelectorAll('li.message')].filter((li) => li.textContent.includes(tag)).length >= want;
        }""",
        arg=[tag, 70],
        polling=500,
        timeout=WAIT_MS,
    )
    expect(ours).to_have_count(70)
    expect(ours.locator(".content")).to_have_text([f"history {tag} {i}" for i in range(70)])
    expect(carol.locator("[data-history-start]")).to_be_visible()
    expect(carol.locator("[data-load-older]")).to_be_hidden()
    assert carol.errors == []


def test_start_a_conversation_from_the_inbox_with_the_keyboard(server, people) -> None:
    from playwright.sync_api import expect

    carol = people(server, "carol")
    search = carol.get_by_label("Start a conversation")
    search.focus()
    carol.keyboard.type("bo")
    result = carol.locator("[data-people-results] a[data-username=bob]")
    expect(result).to_be_visible()
    assert carol.locator("[data-people-results] a[data-username=carol]").count() == 0
    carol.keyboard.press("ArrowDown")
    expect(result).to_be_focused()
    carol.keyboard.press("Enter")
    carol.wait_for_url("**/messages/bob/")
    expect(carol.locator("#chat-title")).to_have_text("bob")
    # The new, still empty conversation is listed in its own page's sidebar (once
    # the socket has made it), marked as the current page.
    row = carol.locator(".sidebar .conversation[data-peer=bob]")
    expect(row).to_have_attribute("aria-current", "page", timeout=WAIT_MS)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def test_screenshots_of_the_inbox_and_the_chat_on_desktop_and_phone(own_server, people) -> None:
    """Saved under artifacts/screenshots/ for a person to look at; nothing spills sideways."""
    from playwright.sync_api import expect

    server = own_server
    carol = people(server, "carol")
    open_chat(carol, server, "alice")
    send(carol, "Are we still on for the design review tomorrow?")
    alice, bob = people(server, "alice"), people(server, "bob")
    open_chat(alice, server, "bob")
    open_chat(bob, server, "alice")
    script = [
        (bob, "Morning! Did you see the new build?"),
        (alice, "Yes, the reconnect banner is much clearer now 🎉"),
        (
            bob,
            "A long one, to check wrapping: " + "the outbox keeps every message until the server acknowledges it, " * 3,
        ),
        (alice, "Perfect. Shipping it after lunch."),
    ]
    for page, text in script:
        send(page, text)
        expect(bubble(alice, text)).to_have_count(1)
        expect(bubble(bob, text)).to_have_count(1)
    expect(bubble(alice, script[-1][1])).to_have_attribute("data-status", "read")
    bob.get_by_label(re.compile("^Message to")).press_sequentially("On my way", delay=20)
    expect(alice.locator("[data-typing]")).to_have_text("bob is typing…")

    shots = []
    for size_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        alice.set_viewport_size(viewport)
        alice.goto(f"{server.url}/messages/")
        expect(alice.locator(".conversation[data-peer=carol] [data-unread-badge]")).to_be_visible()
        shots.append(screenshot(alice, f"inbox-{size_name}"))
        assert alice.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        open_chat(alice, server, "bob")
        expect(alice.locator("li.message")).to_have_count(len(script))
        # A fresh "typing" from bob: clearing the box tells the server he stopped.
        bob.get_by_label(re.compile("^Message to")).fill("")
        bob.get_by_label(re.compile("^Message to")).press_sequentially("On my way", delay=20)
        expect(alice.locator("[data-typing]")).to_have_text("bob is typing…")
        shots.append(screenshot(alice, f"chat-{size_name}"))
        assert alice.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    assert all(path.stat().st_size > 10_000 for path in shots)
    assert alice.errors == [] and bob.errors == [] and carol.errors == []


# --- groups, the divider, the end of a session -------------------------------------------------


def wait_for(condition, attempts: int = 50) -> bool:
    """Poll ``condition`` a few times a second until it holds (or give up and say so)."""
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.2)
    return False


def unfocus(page) -> None:
    """The window loses focus: what reaches it is delivered, not read."""
    page.evaluate("() => { window.__focused = false; }")


def refocus(page) -> None:
    page.evaluate("() => { window.__focused = true; window.dispatchEvent(new Event('focus')); }")


def create_group_in_the_dialog(page, title: str, members: list[str]) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="New group").click()
    dialog = page.get_by_role("dialog", name="New group")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Group name").fill(title)
    search = dialog.get_by_role("searchbox", name="Members")
    for name in members:
        search.fill(name)
        expect(dialog.locator(f"[data-picker-results] button[data-username={name}]")).to_be_visible()
        # Keyboard only: the down arrow into the results, Enter adds the person.
        search.press("ArrowDown")
        expect(dialog.locator(f"[data-picker-results] button[data-username={name}]")).to_be_focused()
        page.keyboard.press("Enter")
        expect(dialog.locator("[data-picker-chosen]")).to_contain_text(name)
    dialog.get_by_role("button", name="Create group").click()
    expect(dialog).to_be_hidden()
    page.wait_for_url(re.compile(r".*/messages/c/\d+/$"))
    expect(page.locator("#chat-title")).to_have_text(title)


def test_a_group_of_three_talks_with_ticks_and_read_by_k_of_n(server, people) -> None:
    from playwright.sync_api import expect

    title = unique("Trip")
    alice, bob, carol = people(server, "alice"), people(server, "bob"), people(server, "carol")
    create_group_in_the_dialog(alice, title, ["bob", "carol"])
    expect(alice.locator("li.system").first).to_have_text(re.compile(f"You created the group “{title}”"))
    # The new group shows up live in the others' sidebars; they open it there.
    for page in (bob, carol):
        row = page.locator(".conversation", has_text=title)
        row.click()
        expect(page.locator("#chat-title")).to_have_text(title)
        expect(page.locator("[data-connection]")).to_have_attribute("data-state", "connected")
        expect(page.locator("li.system").first).to_have_text(re.compile(f"alice created the group “{title}”"))
    unfocus(carol)

    carol.get_by_label(re.compile("^Message to")).press_sequentially("Hi", delay=20)
    expect(alice.locator("[data-typing]")).to_have_text("carol is typing…")
    carol.get_by_label(re.compile("^Message to")).fill("")

    text = unique("Where do we meet?")
    send(alice, text)
    mine = bubble(alice, text)
    for page in (bob, carol):
        expect(bubble(page, text)).to_have_count(1)
        expect(bubble(page, text).locator(".sender")).to_have_text("alice")
    expect(mine).to_have_attribute("data-status", "delivered")
    read_by = mine.locator("[data-read-by]")
    expect(read_by).to_have_text("Read by 1 of 2")
    read_by.focus()
    expect(mine.locator(".read-by-names")).to_be_visible()
    expect(mine.locator(".read-by-names")).to_have_text("Read by bob")

    refocus(carol)
    expect(mine).to_have_attribute("data-status", "read")
    expect(read_by).to_have_text("Read by everyone")
    expect(mine.locator(".status-read")).to_have_attribute("aria-label", "Read")

    reply = unique("At the station")
    send(carol, reply)
    expect(bubble(alice, reply).locator(".sender")).to_have_text("carol")
    expect(bubble(bob, reply)).to_have_count(1)
    for page in (alice, bob, carol):
        assert page.errors == []


def test_a_member_removed_mid_conversation_sees_the_removal_and_nothing_after(server, people) -> None:
    from playwright.sync_api import expect

    title = unique("Band")
    group = server.group("alice", title, ["bob", "carol"])
    alice, bob, carol = people(server, "alice"), people(server, "bob"), people(server, "carol")
    for page in (alice, bob, carol):
        page.goto(f"{server.url}/messages/c/{group}/")
        expect(page.locator("[data-connection]")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    before = unique("before the removal")
    send(bob, before)
    expect(bubble(carol, before)).to_have_count(1)

    alice.get_by_role("button", name="Members").click()
    members = alice.get_by_role("dialog", name=title)
    expect(members.locator("[data-member=carol]")).to_be_visible()
    members.get_by_role("button", name="Remove carol from the group").click()
    expect(members.locator("[data-member=carol]")).to_have_count(0)
    alice.keyboard.press("Escape")
    expect(members).to_be_hidden()
    expect(alice.get_by_role("button", name="Members")).to_be_focused()

    for page, line in ((alice, "You removed carol"), (bob, "alice removed carol"), (carol, "alice removed you")):
        expect(page.locator("li.system").last).to_have_text(re.compile(line))
    expect(carol.locator("[data-chat-closed]")).to_have_text("alice removed you from this group.")
    expect(carol.locator("[data-composer]")).to_be_hidden()
    expect(bob.locator("[data-presence]")).to_have_text("alice and you")

    after = unique("after the removal")
    send(bob, after)
    expect(bubble(alice, after)).to_have_count(1)
    # Bob's message needs only alice now: read by everyone once she saw it.
    expect(bubble(bob, after).locator("[data-read-by]")).to_have_text("Read by alice")
    carol.reload()
    expect(carol.locator("[data-connection]")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(bubble(carol, before)).to_have_count(1)
    expect(carol.locator("li.system").last).to_have_text(re.compile("alice removed you"))
    assert bubble(carol, after).count() == 0
    for page in (alice, bob, carol):
        assert page.errors == []


def test_a_chat_with_unread_messages_opens_at_the_new_messages_divider(server, people) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:6]
    conversation = server.direct("alice", "carol")
    server.say(conversation, [("alice", f"read {tag} {i}") for i in range(25)], read={"carol": None, "alice": None})
    server.say(conversation, [("alice", f"unread {tag} {i}") for i in range(30)])
    carol = people(server, "carol")
    row = carol.locator(".conversation[data-peer=alice]")
    expect(row.locator("[data-unread-badge]")).to_contain_text("30")
    expect(carol).to_have_title(re.compile(r"^\((\d+)\) Messages · LinkUp$"))
    row.click()

    divider = carol.locator(".unread-divider")
    expect(divider).to_be_visible()
    expect(divider).to_have_text("New messages")
    first_unread = carol.locator(".unread-divider + li.message .content")
    expect(first_unread).to_have_text(f"unread {tag} 0")
    # Opened at the divider, not at the bottom: the newest message is out of sight.
    scroller = carol.locator("[data-scroller]")
    top = divider.evaluate(
        "(el) => el.getBoundingClientRect().top - el.closest('[data-scroller]').getBoundingClientRect().top"
    )
    assert 0 <= top < 120
    assert not bubble(carol, f"unread {tag} 29").evaluate(
        "(el) => { const r = el.getBoundingClientRect(), s = el.closest('[data-scroller]').getBoundingClientRect(); return r.top < s.bottom; }"
    )
    jump = carol.get_by_role("button", name=re.compile("^Jump to latest"))
    expect(jump).to_be_visible()
    jump.click()
    expect(jump).to_be_hidden()
    assert scroller.evaluate("(el) => el.scrollHeight - el.scrollTop - el.clientHeight") < 80
    expect(row.locator("[data-unread-badge]")).to_have_count(0)
    expect(carol).to_have_title(re.compile(r"^alice · LinkUp$"))
    # The divider stays where it was while the chat is open.
    expect(divider).to_be_visible()
    # The read report goes out a moment later (coalesced): wait for the database to have it.
    assert wait_for(
        lambda: all(m["status"] == "read" for m in server.messages_between("alice", "carol") if tag in m["content"])
    )
    assert carol.errors == []


def test_a_signed_out_tab_says_so_and_sends_its_outbox_after_signing_in_again(own_server, people) -> None:
    from playwright.sync_api import expect

    server = own_server
    bob = people(server, "bob")
    open_chat(bob, server, "alice")
    first = unique("before signing out")
    send(bob, first)
    expect(bubble(bob, first)).to_have_attribute("data-status", re.compile("sent|delivered|read"))

    # Bob signs out in another tab; this one learns it when its socket comes back.
    other = bob.context.new_page()
    other.goto(f"{server.url}/messages/")
    other.get_by_role("button", name="Sign out").click()
    # The sign-out form goes out after pwa.js has cleaned up this browser: wait for it.
    expect(other.get_by_role("button", name="Sign out")).to_have_count(0, timeout=WAIT_MS)
    other.close()
    server.restart_after_kill()  # the open socket goes; the next handshake is refused
    banner = bob.locator("[data-signed-out]")
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner).to_contain_text("You were signed out")
    expect(bob.locator("[data-connection]")).to_have_attribute("data-state", "signed-out")
    expect(bob.locator("[data-connection]")).to_have_text("Signed out")

    kept = unique("typed while signed out")
    send(bob, kept)
    expect(bubble(bob, kept)).to_have_attribute("data-status", "pending")
    link = bob.get_by_role("link", name="Sign in again")
    assert link.get_attribute("href") == "/accounts/login/?next=%2Fmessages%2Falice%2F"
    link.click()
    bob.get_by_label("Username").fill("bob")
    bob.get_by_label("Password").fill(PASSWORD)
    bob.get_by_role("button", name="Sign in").click()
    bob.wait_for_url("**/messages/alice/")
    expect(bubble(bob, kept)).to_have_attribute("data-status", re.compile("sent|delivered|read"), timeout=WAIT_MS)
    expect(bob.locator("[data-signed-out]")).to_be_hidden()
    assert [m["content"] for m in server.messages_between("alice", "bob") if m["content"] in (first, kept)] == [
        first,
        kept,
    ]
    assert bob.evaluate("() => localStorage.getItem('linkup.outbox.bob')") is None


def test_screenshots_of_the_group_chat_and_the_new_group_dialog_on_desktop_and_phone(own_server, people) -> None:
    """Saved under artifacts/screenshots/ for a person to look at; nothing spills sideways."""
    from playwright.sync_api import expect

    server = own_server
    group = server.group("alice", "Weekend trip", ["bob", "carol"])
    server.say(
        group,
        [
            ("bob", "Saturday it is. Who brings the tent?"),
            ("carol", "I have one for three people 🏕️"),
            ("alice", "Perfect, I'll bring the stove and coffee."),
        ],
        read={"bob": None, "carol": None, "alice": None},
    )
    alice = people(server, "alice")
    bob = people(server, "bob")
    bob.goto(f"{server.url}/messages/c/{group}/")
    shots = []
    for size_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        alice.set_viewport_size(viewport)
        alice.goto(f"{server.url}/messages/c/{group}/")
        expect(alice.locator("[data-connection]")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
        expect(alice.locator("li.message")).to_have_count(3 if size_name == "desktop" else 4)
        if size_name == "desktop":
            send(alice, "See you at 8 at the station!")
            expect(alice.locator("li.message").last.locator("[data-read-by]")).to_have_text(re.compile("Read by"))
        bob.get_by_label(re.compile("^Message to")).fill("")
        bob.get_by_label(re.compile("^Message to")).press_sequentially("On my way", delay=20)
        expect(alice.locator("[data-typing]")).to_have_text("bob is typing…")
        shots.append(screenshot(alice, f"group-chat-{size_name}"))
        assert alice.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]

        alice.goto(f"{server.url}/messages/")
        if size_name == "phone":
            expect(alice.locator("[data-chat]")).to_be_hidden()
        alice.get_by_role("button", name="New group").click()
        dialog = alice.get_by_role("dialog", name="New group")
        dialog.get_by_label("Group name").fill("Book club")
        dialog.get_by_role("searchbox", name="Members").fill("car")
        dialog.locator("[data-picker-results] button[data-username=carol]").click()
        dialog.get_by_role("searchbox", name="Members").fill("b")
        expect(dialog.locator("[data-picker-results] button[data-username=bob]")).to_be_visible()
        shots.append(screenshot(alice, f"new-group-{size_name}"))
        alice.keyboard.press("Escape")  # clears the search
        alice.keyboard.press("Escape")  # closes the dialog
        expect(dialog).to_be_hidden()
        assert alice.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    assert all(path.stat().st_size > 10_000 for path in shots)
    assert alice.errors == [] and bob.errors == []


# What a page must not do under the policy, and the directive that stops it.
FORBIDDEN = {
    "inline script": (
        "script-src-elem",
        "const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.append(s);",
    ),
    "style attribute": ("style-src-attr", "document.body.setAttribute('style', 'background: red');"),
    "data: image": ("img-src", "new Image().src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';"),
    "socket to another origin": (
        "connect-src",
        "new WebSocket(location.origin.replace('http://127.0.0.1', 'ws://localhost') + '/ws/notifications/');",
    ),
}


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_the_policy_blocks_what_no_page_may_do_and_the_check_sees_it(server, people, browser, what: str) -> None:
    directive, attempt = FORBIDDEN[what]
    alice = people(server, "alice")
    # The attempt is part of the evaluated source (Playwright's evaluate is not
    # subject to the page's policy; the script element, attribute, image or
    # socket it creates is).
    seen = alice.evaluate(
        """() => new Promise((resolve) => {
          document.addEventListener("securitypolicyviolation", (e) => resolve(e.effectiveDirective), {once: true});
          setTimeout(() => resolve("no violation"), 5000);
          ATTEMPT
        })""".replace("ATTEMPT", attempt)
    )
    assert seen == directive
    assert alice.evaluate("() => window.__ran") is None
    alice.evaluate("0")
    assert [v["directive"] for v in browser.take_violations()] == [directive]


def test_self_lets_the_page_open_a_socket_to_this_site(server, people) -> None:
    """connect-src 'self' covers this site's ws: in Chromium (CSP Level 3); policy_holds checks no violation."""
    alice = people(server, "alice")
    opened = alice.evaluate(
        """() => new Promise((resolve) => {
          const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws/notifications/");
          ws.onmessage = (e) => { resolve(JSON.parse(e.data).type); ws.close(); };
          ws.onerror = () => resolve("error");
        })"""
    )
    assert opened == "unread_count"


def test_ctrl_k_searches_messages_and_enter_opens_the_hit_in_its_history_highlighted(server, people) -> None:
    """One story: Ctrl+K, a prefix query, grouped hits with marked snippets, arrows, a filter chip, no results, jump."""
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:6]
    conversation = server.direct("carol", "bob")
    # The hit is 80 messages back: opening it loads older pages until it is on screen.
    lines = [("bob", f"filler {tag} {i}") for i in range(80)]
    lines[5] = ("bob", f"the Zq{tag}deployment <b>went</b> fine")
    server.say(conversation, lines, read={"carol": None, "bob": None})
    carol = people(server, "carol")
    carol.keyboard.press("Control+k")
    box = carol.get_by_role("combobox", name="Search messages")
    expect(box).to_be_focused()
    box.fill(f"zq{tag}deplo* from:bob")
    hit = carol.locator(".search-hit")
    expect(hit).to_have_count(1)
    expect(carol.locator(".search-group-name")).to_have_text("bob")
    expect(hit.locator("mark")).to_have_text(f"Zq{tag}deplo")  # the part the prefix matched
    expect(hit.locator(".search-hit-text")).to_have_text(f"the Zq{tag}deployment <b>went</b> fine")
    assert hit.locator("b").count() == 0, "a snippet is text, never markup"
    expect(hit).to_have_attribute("aria-selected", "true")
    expect(carol.locator("[data-search-chips] .chip")).to_have_text(["from: bob×"])

    carol.get_by_role("button", name="Remove the filter from: bob").click()
    expect(box).to_have_value(f"zq{tag}deplo*")
    box.fill(f"zq{tag}nothing")
    expect(carol.locator("[data-search-status]")).to_contain_text("No messages found")

    box.fill(f"zq{tag}deplo*")
    expect(hit).to_have_count(1)
    box.press("ArrowDown")
    box.press("Enter")
    carol.wait_for_url("**/messages/bob/")
    target = bubble(carol, f"Zq{tag}deployment")
    expect(target).to_be_in_viewport(timeout=WAIT_MS)
    expect(target).to_have_class(re.compile(r"\bsearch-target\b"))
    assert carol.errors == []
