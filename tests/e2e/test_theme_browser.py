"""The theme and drafts in a real browser (issue 17): axe-core's contrast check in light and dark.

Debian's Chromium driven by Playwright against daphne, with the set-up of
``test_browser.py``. axe-core is vendored (``tests/e2e/vendor/axe-core/``,
version in ``AXE_VERSION``, from the npm registry's tarball with its licence)
and added to the page as an init script, which the DevTools protocol runs
before the page's own scripts and outside its Content-Security-Policy: the
pages keep their policy, and ``policy_holds`` still checks it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.servers import ROOT

from . import test_browser
from .test_browser import DESKTOP, PHONE, SCREENSHOTS, WAIT_MS, open_chat, unique

# test_browser.py's fixtures: its module-wide server and browser, a signed-in page per person.
browser, people, seeded, server = test_browser.browser, test_browser.people, test_browser.seeded, test_browser.server
policy_holds = test_browser.policy_holds  # every page keeps its Content-Security-Policy, axe-core or not

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]

AXE = ROOT / "tests" / "e2e" / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"
# A page's background in each theme (app.css --bg), as the browser computes it.
BACKGROUND = {"light": "rgb(238, 240, 246)", "dark": "rgb(13, 16, 28)"}


def with_axe(context) -> None:
    context.add_init_script(path=str(AXE))


def axe_problems(page) -> list[str]:
    """axe-core's colour-contrast findings and every serious or critical one, as readable lines."""
    assert page.evaluate("() => window.axe.version") == AXE_VERSION
    result = page.evaluate("async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations")
    problems = []
    for violation in result:
        if violation["id"] == "color-contrast" or violation["impact"] in ("serious", "critical"):
            for node in violation["nodes"]:
                problems.append(
                    f"{violation['id']} ({violation['impact']}): {node['target']} {node.get('failureSummary', '')}"
                )
    return problems


def wears(page, theme: str) -> None:
    """The page is drawn in ``theme`` ("light" or "dark"): its computed background says so."""
    from playwright.sync_api import expect

    expect(page.locator("html")).to_have_css("background-color", BACKGROUND[theme], timeout=WAIT_MS)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def new_user(server, username: str) -> str:
    """A user of one test (the module shares its server, and a theme or a draft is a user's own)."""
    from .conftest import PASSWORD

    server.shell(
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={PASSWORD!r})"
    )
    return username


def collect_errors(page):
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def a_lively_chat(server, me: str) -> int:
    """``me`` and bob with read and unread messages, mine and theirs, formatting; an unread one from carol."""
    conversation = server.direct(me, "bob")
    server.say(
        conversation,
        [
            ("bob", "Morning! Did you see the dark theme?"),
            (me, "Yes, it follows my phone at night 🌙"),
            ("bob", "Contrast checked by axe-core, " + "in both themes and on both screens, " * 3),
            (me, "`code`, **bold** and https://example.org/a-link too"),
            ("bob", "One more you have not read yet"),
        ],
        read={me: 4, "bob": None},
    )
    server.say(server.direct(me, "carol"), [("carol", "Lunch?")], read={"carol": None})
    return conversation


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_axe_finds_no_contrast_or_serious_problem_on_the_main_pages_in_light_and_dark(
    server, people, browser, size
) -> None:
    from playwright.sync_api import expect

    viewport = DESKTOP if size == "desktop" else PHONE
    me = new_user(server, f"ada-{size}")
    a_lively_chat(server, me)
    alice = people(server, me, viewport, setup=with_axe)
    anonymous = browser.new_context(viewport=viewport)
    with_axe(anonymous)
    sign_in = anonymous.new_page()
    problems = {}
    try:
        for scheme in ("light", "dark"):
            # The theme "system" (the default) follows the device.
            alice.emulate_media(color_scheme=scheme)
            sign_in.emulate_media(color_scheme=scheme)
            alice.goto(f"{server.url}/messages/")
            expect(alice.locator(".conversation[data-peer=carol] [data-unread-badge]")).to_be_visible(timeout=WAIT_MS)
            wears(alice, scheme)
            problems[f"inbox {scheme}"] = axe_problems(alice)
            if scheme == "dark":
                screenshot(alice, f"dark-inbox-{size}")
            open_chat(alice, server, "bob")
            expect(alice.locator("li.message")).to_have_count(5, timeout=WAIT_MS)
            problems[f"chat {scheme}"] = axe_problems(alice)
            if scheme == "dark":
                screenshot(alice, f"dark-chat-{size}")
            alice.goto(f"{server.url}/settings/")
            wears(alice, scheme)
            problems[f"settings {scheme}"] = axe_problems(alice)
            screenshot(alice, f"settings-{scheme}-{size}")
            sign_in.goto(f"{server.url}/accounts/login/")
            wears(sign_in, scheme)
            problems[f"sign-in {scheme}"] = axe_problems(sign_in)
    finally:
        anonymous.close()
    assert {page: found for page, found in problems.items() if found} == {}
    assert alice.errors == []


def test_a_theme_chosen_in_one_tab_is_worn_at_once_by_every_tab_and_after_sign_out(server, people) -> None:
    from playwright.sync_api import expect

    me = new_user(server, "gus")
    alice = people(server, me)
    alice.emulate_media(color_scheme="light")
    context = alice.context
    chat = collect_errors(context.new_page())
    chat.emulate_media(color_scheme="light")
    open_chat(chat, server, "carol")
    notifications = collect_errors(context.new_page())
    notifications.emulate_media(color_scheme="light")
    notifications.goto(f"{server.url}/notifications/")
    expect(notifications.locator("[data-bell-count]")).to_be_attached()
    alice.goto(f"{server.url}/settings/")
    expect(alice.locator("[data-theme-save]")).to_be_hidden()  # with JavaScript a choice saves itself
    wears(alice, "light")

    alice.get_by_label("Dark").check()
    expect(alice.locator("[data-theme-status]")).to_have_text("Saved.")
    for page in (alice, chat, notifications):
        expect(page.locator("html")).to_have_attribute("data-theme", "dark", timeout=WAIT_MS)
        wears(page, "dark")
    assert (
        server.shell(f"from messaging.models import Profile; print(Profile.objects.get(user__username={me!r}).theme)")
        == "dark"
    )

    chat.reload()  # drawn dark by the server, from the first paint
    expect(chat.locator("html")).to_have_attribute("data-theme", "dark")
    alice.get_by_label("System").check()
    expect(chat.locator("html")).to_have_attribute("data-theme", "system", timeout=WAIT_MS)
    wears(chat, "light")
    alice.get_by_label("Dark").check()
    expect(chat.locator("html")).to_have_attribute("data-theme", "dark", timeout=WAIT_MS)

    alice.get_by_role("button", name="Sign out").click()
    alice.wait_for_url("**/accounts/login/**")
    expect(alice.locator("html")).to_have_attribute("data-theme", "dark")
    wears(alice, "dark")
    assert alice.errors == [] and chat.errors == [] and notifications.errors == []


def test_the_offline_page_follows_the_device_or_its_last_chosen_theme(server, browser) -> None:
    """The offline page is cached once for whoever is signed in: theme.js applies the device's cookie."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(f"{server.url}/offline/")
        expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile("."))
        wears(page, "dark")  # no choice on this device yet: the device's own setting
        context.add_cookies([{"name": "linkup_theme", "value": "light", "url": server.url}])
        page.goto(f"{server.url}/offline/")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        wears(page, "light")
    finally:
        context.close()


def test_the_theme_card_works_as_a_plain_form_without_javascript(server, browser) -> None:
    from playwright.sync_api import expect

    from .conftest import PASSWORD

    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False, color_scheme="light")
    try:
        page = context.new_page()
        page.goto(f"{server.url}/accounts/login/")
        page.get_by_label("Username").fill(new_user(server, "dave"))
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{server.url}/settings/")
        page.get_by_label("Dark").check()
        page.locator("[data-theme-form]").get_by_role("button", name="Save").click()
        page.wait_for_url("**/settings/")
        expect(page.get_by_text("Theme: Dark.")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        wears(page, "dark")
    finally:
        context.close()


def test_a_draft_survives_a_reload_and_switching_conversations_and_goes_when_sent(server, people) -> None:
    from playwright.sync_api import expect

    new_user(server, "erin")
    for peer in ("bob", "carol"):
        server.say(server.direct("erin", peer), [(peer, f"hello erin, {peer} here")])
    erin = people(server, "erin")
    box = erin.get_by_label(re.compile("^Message to"))
    to_bob, for_carol = unique("half a thought for bob"), unique("and one for carol")
    to_carol = f"{for_carol}\non two lines"

    open_chat(erin, server, "bob")
    box.press_sequentially(to_bob, delay=5)
    erin.reload()
    expect(box).to_have_value(to_bob, timeout=WAIT_MS)

    erin.locator(".conversation[data-peer=carol]").click()
    expect(erin.locator("[data-chat-name]")).to_have_text("carol")
    expect(box).to_have_value("")
    box.fill(to_carol)
    bob_row = erin.locator(".conversation[data-peer=bob] .conversation-preview")
    expect(bob_row).to_have_text(f"Draft:{to_bob}")
    screenshot(erin, "draft-in-the-inbox-desktop")

    erin.locator(".conversation[data-peer=bob]").click()
    expect(box).to_have_value(to_bob)
    carol_row = erin.locator(".conversation[data-peer=carol] .conversation-preview")
    expect(carol_row).to_have_text(f"Draft:{for_carol} on two lines")
    box.press("Enter")
    expect(erin.locator("li.message .content", has_text=to_bob)).to_have_count(1)
    erin.reload()
    expect(erin.locator("li.message .content", has_text=to_bob)).to_have_count(1, timeout=WAIT_MS)
    expect(box).to_have_value("")
    erin.goto(f"{server.url}/messages/")
    expect(bob_row).to_contain_text(to_bob)
    expect(bob_row.locator(".draft-label")).to_have_count(0)
    expect(carol_row.locator(".draft-label")).to_have_text("Draft:")
    open_chat(erin, server, "carol")
    expect(box).to_have_value(to_carol)
    assert erin.errors == []
