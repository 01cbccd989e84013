"""Doing things to a message in a real browser, mostly with the keyboard alone: replies, reactions, edits, deletions.

One story across several steps (browser tests are kept few: the suite runs
twice on 2 cores); the database is checked through ``manage.py shell`` so the
same test holds on SQLite and PostgreSQL. Catching up after being offline is
covered over real sockets by ``test_demo_message_actions`` and by the
convergence property; the protocol state by ``tests/js``.
"""

from __future__ import annotations

import json
import re

import pytest

from . import test_browser as shared
from .test_browser import WAIT_MS, bubble, open_chat, unique

# The browser tests' fixtures (and their autouse policy check), shared with this module.
browser, seeded, server, people, policy_holds = shared.browser, shared.seeded, shared.server, shared.people, shared.policy_holds

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]


def composer(page):
    return page.get_by_label(re.compile("^Message to"))


def menu_item(page, name: str):
    return page.locator("[data-message-menu]").get_by_role("menuitem", name=name)


def confirm(page, button: str) -> None:
    page.locator("[data-confirm]").get_by_role("button", name=button).click()


def rows_holding(server, text: str) -> list[str]:
    code = f"from tests.message_actions import rows_holding; import json; print(json.dumps(rows_holding({text!r})))"
    return json.loads(server.shell(code))


def test_with_the_keyboard_alone_alice_replies_reacts_edits_and_deletes_and_bob_sees_each(server, people) -> None:
    from playwright.sync_api import expect

    conversation = server.direct("alice", "bob")
    lunch, umbrella = unique("Lunch at"), unique("Bring an umbrella")
    server.say(
        conversation,
        [("bob", f"{lunch} *noon*? menu: https://example.org/menu. not a link: javascript:alert(1)"), ("alice", umbrella)],
    )
    alice, bob = people(server, "alice"), people(server, "bob")
    open_chat(alice, server, "bob")
    open_chat(bob, server, "alice")

    # Formatting and links, built as nodes: bold, a safe http(s) link, javascript: left as text.
    theirs = bubble(alice, lunch)
    expect(theirs.locator(".content strong")).to_have_text("noon")
    link = theirs.locator(".content a")
    expect(link).to_have_count(1)
    assert (link.get_attribute("href"), link.get_attribute("rel"), link.get_attribute("target")) == (
        "https://example.org/menu",
        "noopener noreferrer",
        "_blank",
    )

    # Reply: the message's actions button, then the menu, with keys only.
    theirs.get_by_role("button", name=re.compile("^Actions for the message")).focus()
    alice.keyboard.press("Enter")
    expect(menu_item(alice, "Reply")).to_be_focused()
    alice.keyboard.press("Enter")
    expect(alice.locator("[data-composer-context]")).to_contain_text("Replying to bob")
    expect(composer(alice)).to_be_focused()
    answer = unique("Yes, see you")
    alice.keyboard.type(answer)
    alice.keyboard.press("Enter")
    reply = bubble(bob, answer)
    expect(reply.locator(".reply-quote")).to_contain_text(lunch)

    # React: the menu's second item opens the picker; search by name, Enter picks.
    theirs.get_by_role("button", name=re.compile("^Actions for the message")).focus()
    alice.keyboard.press("Enter")
    alice.keyboard.press("ArrowDown")
    expect(menu_item(alice, "React")).to_be_focused()
    alice.keyboard.press("Enter")
    alice.keyboard.type("party")
    alice.keyboard.press("Enter")
    chip = bubble(bob, lunch).locator(".chip")
    expect(chip).to_have_text("🎉1")
    expect(bubble(bob, lunch).locator(".reaction-names")).to_have_text("alice reacted 🎉")
    expect(bubble(alice, lunch).locator(".chip")).to_have_attribute("aria-pressed", "true")

    # ↑ in the empty box edits my last message; Esc gives the box back; the edit reaches bob, marked.
    composer(alice).focus()
    alice.keyboard.press("ArrowUp")
    expect(composer(alice)).to_have_value(answer)
    alice.keyboard.press("Escape")
    expect(composer(alice)).to_have_value("")
    expect(alice.locator("[data-composer-context]")).to_be_hidden()
    alice.keyboard.press("ArrowUp")
    edited = f"{answer} at 12:30"
    composer(alice).fill(edited)
    alice.keyboard.press("Enter")
    expect(bubble(bob, edited).locator(".edited")).to_have_text("edited")

    # Bob opens the edit history from the mark.
    bubble(bob, edited).locator(".edited").click()
    expect(bob.locator("[data-edit-versions] .edit-text")).to_have_text([answer, edited])
    bob.keyboard.press("Escape")

    # Bob jumps from the quote to the original.
    bubble(bob, edited).locator(".reply-quote").click()
    expect(bubble(bob, lunch)).to_have_class(re.compile(r"\bflash\b"))

    # Delete for everyone, confirmed in the page: the text goes everywhere, in the browsers and the database.
    bubble(alice, edited).get_by_role("button", name=re.compile("^Actions for the message")).focus()
    alice.keyboard.press("End")  # nothing: the menu is not open yet
    alice.keyboard.press("Enter")
    alice.keyboard.press("End")
    expect(menu_item(alice, "Delete for everyone")).to_be_focused()
    alice.keyboard.press("Enter")
    confirm(alice, "Delete for everyone")
    for page in (alice, bob):
        expect(page.locator("li.message.deleted .deleted-text")).to_have_text("This message was deleted")
        expect(page.locator("li.message", has_text="see you")).to_have_count(0)
    assert rows_holding(server, answer.split()[-1]) == []

    # Delete for me, two at once: Select from the menu, Enter on the other message's button adds it.
    bubble(bob, lunch).get_by_role("button", name=re.compile("^Actions for the message")).click()
    menu_item(bob, "Select").click()
    bubble(bob, umbrella).get_by_role("button", name=re.compile("^Actions for the message")).focus()
    bob.keyboard.press("Enter")
    expect(bob.locator("[data-selection-count]")).to_have_text("2 selected")
    expect(bob.locator("li.message.selected")).to_have_count(2)
    bob.locator("[data-selection-delete]").click()
    confirm(bob, "Delete for me")
    expect(bubble(bob, lunch)).to_have_count(0)
    expect(bubble(bob, umbrella)).to_have_count(0)
    expect(bob.locator("[data-selection-bar]")).to_be_hidden()
    expect(bubble(alice, lunch)).to_have_count(1)
    expect(bubble(alice, umbrella)).to_have_count(1)
    bob.reload()
    expect(bob.locator("[data-connection]")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(bob.locator("li.message.deleted")).to_have_count(1)
    expect(bubble(bob, lunch)).to_have_count(0)
    expect(bubble(bob, umbrella)).to_have_count(0)
    assert alice.errors == [] and bob.errors == []
