"""Pinned conversations in Chromium: the pin button in a chat's header, the list's order, every tab of the user."""

from __future__ import annotations

import pytest

from . import test_browser as shared
from .test_browser import WAIT_MS, open_chat, send, unique

browser, seeded, server, people = shared.browser, shared.seeded, shared.server, shared.people

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]


def listed(page) -> list[str]:
    return page.locator("[data-conversations] .conversation").evaluate_all("rows => rows.map(r => r.dataset.peer)")


def test_a_pinned_conversation_heads_the_list_in_every_tab_until_unpinned(server, people) -> None:
    from playwright.sync_api import expect

    alice = people(server, "alice")
    open_chat(alice, server, "bob")
    send(alice, unique("to bob, earlier"))
    open_chat(alice, server, "carol")
    send(alice, unique("to carol, later"))
    expect(alice.locator("[data-conversations] .conversation[data-peer=carol]")).to_have_count(1, timeout=WAIT_MS)
    alice.wait_for_function("() => document.querySelectorAll('[data-conversations] .conversation').length >= 2")
    assert listed(alice)[:2] == ["carol", "bob"]

    other_tab = alice.context.new_page()
    other_tab.errors = []
    other_tab.on("pageerror", lambda error: other_tab.errors.append(str(error)))
    open_chat(other_tab, server, "carol")

    open_chat(alice, server, "bob")
    pin = alice.locator("[data-pin]")
    expect(pin).to_have_attribute("aria-pressed", "false")
    pin.click()
    expect(pin).to_have_attribute("aria-pressed", "true")
    expect(pin).to_have_accessible_name("Unpin from the top of the list")
    mark = alice.locator("[data-conversations] .conversation[data-peer=bob] .pinned-mark")
    expect(mark).to_have_attribute("aria-label", "Pinned")
    assert listed(alice)[:2] == ["bob", "carol"]

    # The other tab is told at once, and keeps bob on top after a reload (the server's inbox order).
    expect(other_tab.locator("[data-conversations] .conversation[data-peer=bob] .pinned-mark")).to_have_count(1)
    assert listed(other_tab)[:2] == ["bob", "carol"]
    open_chat(other_tab, server, "carol")
    other_tab.wait_for_function("() => document.querySelectorAll('[data-conversations] .conversation').length >= 2")
    assert listed(other_tab)[:2] == ["bob", "carol"]

    pin.click()
    expect(pin).to_have_attribute("aria-pressed", "false")
    expect(mark).to_have_count(0)
    assert listed(alice)[:2] == ["carol", "bob"]
    assert not alice.errors and not other_tab.errors
