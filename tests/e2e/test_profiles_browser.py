"""Profiles in a real browser (issue 17): a new picture and name reach the other user's open inbox, the profile card.

Debian's Chromium driven by Playwright against daphne, with the set-up of
``test_browser.py``. Screenshots of the settings page's Profile section and
of the profile card (desktop and phone) are written under
``artifacts/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import pytest

from tests import files

from .test_browser import (  # noqa: F401 - fixtures
    DESKTOP,
    PHONE,
    WAIT_MS,
    browser,
    open_chat,
    own_server,
    people,
    screenshot,
    seeded,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]

AVATAR_IMAGE = "img.avatar-img"


def test_an_avatar_upload_and_a_new_display_name_show_in_the_other_users_open_inbox(own_server, people) -> None:  # noqa: F811
    from playwright.sync_api import expect

    server = own_server
    server.say(server.direct("alice", "bob"), [("alice", "Hi Bob, new profile coming up")])
    bob = people(server, "bob")
    row = bob.locator(".conversation[data-peer=alice]")
    expect(row).to_contain_text("alice", timeout=WAIT_MS)
    expect(row.locator(AVATAR_IMAGE)).to_have_count(0)

    alice = people(server, "alice")
    alice.goto(f"{server.url}/settings/")
    alice.get_by_label("Display name").fill("  Alice Liddell  ")
    alice.get_by_label("Status").fill("Down the rabbit hole")
    alice.get_by_role("button", name="Update profile").click()
    expect(alice.locator("[data-profile-status]")).to_have_text("Profile saved.")
    alice.set_input_files(
        "[data-avatar-input]",
        files=[{"name": "me.jpg", "mimeType": "image/jpeg", "buffer": files.jpeg(800, 500, color=(30, 120, 200))}],
    )
    expect(alice.locator("[data-profile-status]")).to_have_text("Picture saved.", timeout=WAIT_MS)
    expect(alice.get_by_label("Display name")).to_have_value("Alice Liddell")
    screenshot(alice, "settings-profile-desktop")

    # Bob's tab was open all along: the profile push changed the row, no reload.
    expect(row.locator(".conversation-name")).to_contain_text("Alice Liddell", timeout=WAIT_MS)
    image = row.locator(AVATAR_IMAGE)
    expect(image).to_have_attribute("src", f"/avatars/{server.shell(_alice_id())}/" + _key(alice), timeout=WAIT_MS)
    bob.wait_for_function(
        "(img) => img.complete && img.naturalWidth === 256", arg=image.element_handle(), timeout=WAIT_MS
    )

    # A reload reads the same from the conversation summaries.
    bob.reload()
    expect(bob.locator(".conversation[data-peer=alice] .conversation-name")).to_contain_text(
        "Alice Liddell", timeout=WAIT_MS
    )
    expect(bob.locator(f".conversation[data-peer=alice] {AVATAR_IMAGE}")).to_have_count(1)
    assert alice.errors == [] and bob.errors == []


def test_the_profile_card_opens_from_the_chat_header_on_desktop_and_phone(own_server, people) -> None:  # noqa: F811
    from playwright.sync_api import expect

    server = own_server
    server.shell(
        "from django.contrib.auth import get_user_model; from messaging.models import Profile; "
        "p = Profile.for_user(get_user_model().objects.get(username='carol').pk); "
        "p.display_name = 'Carol <b>Danvers</b>'; p.status_line = 'Flying today, back on Monday'; p.save(); "
        # A picture stored as the upload stores one: squared, on the server's storage.
        "import io; from PIL import Image; from messaging.media import avatars, storage; from messaging.store import profiles; "
        "b = io.BytesIO(); Image.new('RGB', (600, 400), (220, 80, 40)).save(b, 'PNG'); b.name = 'c.png'; "
        "n = avatars.new_storage_name(p.pk); "
        "storage.save(n, io.BytesIO(avatars.square_avatar(b, 'c.png', 'image/png', max_pixels=10**7)), avatars.CONTENT_TYPE); "
        "profiles.set_avatar(p.pk, n)"
    )
    server.say(server.direct("carol", "bob"), [("carol", "Ping me when you land")])
    for size_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        bob = people(server, "bob", viewport=viewport)
        open_chat(bob, server, "carol")
        expect(bob.locator("[data-chat-name]")).to_have_text("Carol <b>Danvers</b>")
        bob.get_by_role("button", name="Profile of Carol <b>Danvers</b>").click()
        card = bob.get_by_role("dialog", name="Carol <b>Danvers</b>")
        expect(card).to_be_visible()
        # Text only: the markup in the name is shown, never parsed.
        expect(card.locator("b")).to_have_count(0)
        expect(card.locator("[data-profile-username]")).to_have_text("@carol")
        bob.wait_for_function(
            "(img) => img.complete && img.naturalWidth === 256",
            arg=card.locator(AVATAR_IMAGE).element_handle(),
            timeout=WAIT_MS,
        )
        expect(card.locator("[data-profile-status]")).to_have_text("Flying today, back on Monday")
        expect(card.get_by_role("link", name="Message")).to_have_attribute("href", "/messages/carol/")
        shot = screenshot(bob, f"profile-card-{size_name}")
        assert shot.stat().st_size > 5_000
        assert bob.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        bob.keyboard.press("Escape")
        expect(card).to_be_hidden()
        # Focus goes back to what opened the card.
        assert bob.evaluate("() => document.activeElement?.hasAttribute('data-chat-avatar')")
        assert bob.errors == []

    # In a group, the member list names carol by her display name; her name opens the same card.
    group = server.group("bob", "Launch crew", ["carol"])
    bob = people(server, "bob")
    bob.goto(f"{server.url}/messages/c/{group}/")
    bob.get_by_role("button", name="Members").click()
    members = bob.locator("[data-members-dialog]")
    member = members.locator("[data-member=carol]")
    expect(member.locator("img.avatar-img")).to_have_count(1, timeout=WAIT_MS)
    member.get_by_role("button", name="Carol <b>Danvers</b>").click()
    card = bob.get_by_role("dialog", name="Carol <b>Danvers</b>")
    expect(card.locator("[data-profile-username]")).to_have_text("@carol")
    bob.keyboard.press("Escape")
    expect(card).to_be_hidden()
    assert bob.errors == []


def _alice_id() -> str:
    return "from django.contrib.auth import get_user_model; print(get_user_model().objects.get(username='alice').pk)"


def _key(page) -> str:
    """The file name of the avatar the settings page shows."""
    return page.locator(f"[data-profile-preview] {AVATAR_IMAGE}").get_attribute("src").rsplit("/", 1)[1]
