"""Attachments in Chromium: a photo and a PDF sent with the paperclip, seen and opened by the other person.

One story, several steps: alice attaches an image (with EXIF GPS) and a PDF,
writes a caption and sends; her message waits with its files until they are
uploaded and the message is stored; bob sees the thumbnail and the PDF's
chip, opens the image in the viewer (Esc closes it), and downloads the PDF.
Screenshots of the chat on desktop and phone go to artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest

from tests import files
from tests.e2e.test_browser import (  # noqa: F401 - the fixtures of the browser suite
    PHONE,
    WAIT_MS,
    browser,
    open_chat,
    people,
    policy_holds,
    screenshot,
    seeded,
    server,
    unique,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser, pytest.mark.stack_independent]


def test_an_image_and_a_pdf_are_sent_shown_as_thumbnail_and_chip_opened_and_downloaded(server, people) -> None:  # noqa: F811
    from playwright.sync_api import expect

    server.direct("alice", "bob")
    alice, bob = people(server, "alice"), people(server, "bob")
    open_chat(alice, server, "bob")
    open_chat(bob, server, "alice")

    photo, pdf = files.jpeg(640, 480, orientation=6, gps=True), files.pdf("quarterly plan")
    alice.set_input_files(
        "[data-file-input]",
        files=[
            {"name": "beach.jpg", "mimeType": "image/jpeg", "buffer": photo},
            {"name": "plan.pdf", "mimeType": "application/pdf", "buffer": pdf},
        ],
    )
    tray = alice.locator("[data-composer-files]")
    expect(tray).to_contain_text("beach.jpg")
    expect(tray).to_contain_text("plan.pdf")
    caption = unique("From the trip")
    box = alice.get_by_label(re.compile("^Message to"))
    box.fill(caption)
    box.press("Enter")
    expect(tray).to_be_hidden()

    # Stored once uploaded: the bubble carries the thumbnail and the chip, with its tick.
    mine = alice.locator("li.message.mine").filter(has_text=caption)
    expect(mine.locator(".attachment.image img")).to_be_visible(timeout=WAIT_MS)
    expect(mine).to_have_attribute("data-status", re.compile("sent|delivered|read"), timeout=WAIT_MS)

    theirs = bob.locator("li.message.theirs").filter(has_text=caption)
    thumbnail = theirs.locator(".attachment.image img")
    expect(thumbnail).to_be_visible(timeout=WAIT_MS)
    bob.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle(), timeout=WAIT_MS
    )
    # Upright (EXIF orientation 6 applied): taller than wide.
    assert thumbnail.evaluate("img => img.naturalHeight > img.naturalWidth")
    chip = theirs.locator("a.file-chip")
    expect(chip).to_contain_text("plan.pdf")
    expect(chip).to_contain_text(f"{len(pdf)} B")

    # The viewer: opens on the image, Esc closes it.
    theirs.get_by_role("button", name="Open image beach.jpg").click()
    viewer = bob.locator("[data-viewer]")
    expect(viewer).to_be_visible()
    expect(viewer.locator("[data-viewer-name]")).to_have_text("beach.jpg")
    bob.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=viewer.locator("img").element_handle(), timeout=WAIT_MS
    )
    screenshot(bob, "attachments-viewer-desktop")
    bob.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # The download, as bob: the same bytes.
    with bob.expect_download() as download:
        chip.click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read() == pdf
    assert download.value.suggested_filename == "plan.pdf"
    screenshot(bob, "attachments-chat-desktop")
    assert not alice.errors and not bob.errors


def test_the_chat_with_files_fits_a_phone(server, people) -> None:  # noqa: F811
    from playwright.sync_api import expect

    server.direct("carol", "bob")
    carol = people(server, "carol", viewport=PHONE)
    open_chat(carol, server, "bob")
    carol.set_input_files(
        "[data-file-input]",
        files=[
            {
                "name": "a-rather-long-file-name-for-a-phone-screen.pdf",
                "mimeType": "application/pdf",
                "buffer": files.pdf(),
            }
        ]
        + [{"name": f"p{i}.png", "mimeType": "image/png", "buffer": files.png(300, 200, mode="RGB")} for i in range(2)],
    )
    box = carol.get_by_label(re.compile("^Message to"))
    box.press("Enter")
    bubble = carol.locator("li.message.mine").last
    expect(bubble.locator(".attachment.image img")).to_have_count(2, timeout=WAIT_MS)
    expect(bubble).to_have_attribute("data-status", re.compile("sent|delivered|read"), timeout=WAIT_MS)
    assert carol.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(carol, "attachments-chat-phone")
