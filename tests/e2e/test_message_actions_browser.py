"""Doing things to a message in a real browser: the menu (keyboard, right-click, long press), replies, reactions, edits, deletions.

Each test is one story across several steps; the database is checked
through ``manage.py shell`` so the same test holds on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re

import pytest

from . import test_browser as shared
from .test_browser import PHONE, WAIT_MS, bubble, open_chat, send, unique

# The browser tests' fixtures (and their autouse policy check), shared with this module.
browser, seeded, server, people, policy_holds = (
    shared.browser,
    shared.seeded,
    shared.server,
    shared.people,
    shared.policy_holds,
)

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
        [
            ("bob", f"{lunch} *noon*? menu: https://example.org/menu. not a link: javascript:alert(1)"),
            ("alice", umbrella),
        ],
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


def test_on_a_phone_a_long_press_opens_the_menu_and_a_mention_is_highlighted(server, people) -> None:
    from playwright.sync_api import expect

    group = server.group("alice", unique("Trip"), ["bob", "carol"])
    text = unique("@bob bring the map")
    server.say(group, [("alice", text)])
    bob = people(server, "bob", viewport=PHONE)
    bob.goto(f"{server.url}/messages/c/{group}/")
    expect(bob.locator("[data-connection]")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    message = bubble(bob, "bring the map")
    expect(message.locator(".mention.me")).to_have_text("@bob")

    box = message.locator(".bubble").bounding_box()
    point = {"clientX": box["x"] + 10, "clientY": box["y"] + 10, "pointerType": "touch", "bubbles": True}
    message.locator(".content").dispatch_event("pointerdown", point)
    expect(menu_item(bob, "Reply")).to_be_visible()
    menu_item(bob, "React").click()
    bob.locator("[data-emoji-picker] .emoji-quick").get_by_role("button").first.click()
    expect(message.locator(".chip")).to_have_text("👍1")
    # The chip toggles my reaction off again.
    message.locator(".chip").click()
    expect(message.locator(".chip")).to_have_count(0)
    assert bob.errors == []


def test_bob_offline_while_alice_replies_edits_deletes_and_reacts_gets_every_change_once_when_back(
    server, people
) -> None:
    from playwright.sync_api import expect

    conversation = server.direct("alice", "bob")
    first, second = unique("first"), unique("second")
    server.say(conversation, [("alice", first), ("bob", second)], read={"alice": None, "bob": None})
    alice, bob = people(server, "alice"), people(server, "bob")
    open_chat(alice, server, "bob")
    open_chat(bob, server, "alice")
    expect(bubble(bob, first)).to_have_count(1)
    # The module's server is shared: this direct chat may hold other stories' deleted messages.
    first_seq = bubble(bob, first).get_attribute("data-seq")
    frames = []
    bob.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))

    bob.context.set_offline(True)
    expect(bob.locator("[data-connection]")).to_have_attribute("data-state", re.compile("reconnecting|offline"))

    reply = unique("a reply")
    bubble(alice, second).get_by_role("button", name=re.compile("^Actions")).click()
    menu_item(alice, "Reply").click()
    send(alice, reply)
    expect(bubble(alice, reply)).to_have_count(1)
    bubble(alice, second).get_by_role("button", name=re.compile("^Actions")).click()
    menu_item(alice, "React").click()
    alice.locator("[data-emoji-picker] .emoji-quick").get_by_role("button").nth(1).click()  # ❤️
    composer(alice).focus()
    alice.keyboard.press("ArrowUp")
    composer(alice).fill(f"{reply} (edited)")
    alice.keyboard.press("Enter")
    expect(bubble(alice, f"{reply} (edited)")).to_have_count(1)
    bubble(alice, first).get_by_role("button", name=re.compile("^Actions")).click()
    menu_item(alice, "Delete for everyone").click()
    confirm(alice, "Delete for everyone")
    expect(alice.locator(f'li.message.deleted[data-seq="{first_seq}"]')).to_have_count(1)

    bob.context.set_offline(False)
    expect(bob.locator("[data-connection]")).to_have_attribute("data-state", "connected", timeout=WAIT_MS)
    expect(bubble(bob, f"{reply} (edited)")).to_have_count(1, timeout=WAIT_MS)
    expect(bubble(bob, f"{reply} (edited)").locator(".reply-quote")).to_contain_text(second)
    expect(bubble(bob, second).locator(".chip")).to_have_text("❤️1")
    expect(bob.locator(f'li.message.deleted[data-seq="{first_seq}"]')).to_have_count(1)
    expect(bubble(bob, first)).to_have_count(0)
    # Every change came to bob once: in one answer to his catching up, each seq once.
    events = [
        e for raw in frames for f in [json.loads(raw)] for e in _events_of(f) if e.get("conversation") == conversation
    ]
    kinds = [(e["seq"], e["kind"]) for e in events if e.get("kind") != "message" or e.get("content") != ""]
    assert len({seq for seq, _ in kinds}) == len(kinds), kinds
    assert sorted(kind for _, kind in kinds if kind != "message") == ["deleted", "edited", "reaction_added"]
    assert alice.errors == [] and bob.errors == []


def _events_of(frame: dict) -> list[dict]:
    if frame.get("type") == "event":
        return [frame["event"]]
    if frame.get("type") in ("sync", "history"):
        return frame.get("events", [])
    if frame.get("type") == "resume":
        return [e for c in frame.get("conversations", []) for e in c.get("events", [])]
    return []
