"""The installable app's server side: manifest (Lighthouse's installability checks), service worker, offline and settings pages."""

from __future__ import annotations

import io
import json
import posixpath
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from PIL import Image

from messaging.http import pwa
from messaging.http.avatars import _rgb, avatar_hue
from messaging.models import Profile
from messaging.notify import webpush

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manifest() -> dict:
    answer = Client().get("/manifest.webmanifest")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/manifest+json"
    return json.loads(answer.content)


def static_file(url: str) -> str:
    path = finders.find(url.removeprefix("/static/"))
    assert path, f"{url} is not a static file"
    return path


def test_the_manifest_has_the_fields_chromium_needs_to_install(manifest) -> None:
    assert manifest["name"] and manifest["short_name"] and len(manifest["short_name"]) <= 12
    assert manifest["start_url"] == "/messages/" and manifest["scope"] == "/" and manifest["id"] == "/"
    assert manifest["display"] in {"standalone", "fullscreen", "minimal-ui"}
    for colour in ("theme_color", "background_color"):
        assert re.fullmatch(r"#[0-9a-f]{6}", manifest[colour])


def test_every_manifest_icon_is_a_png_of_the_size_it_declares(manifest) -> None:
    for icon in manifest["icons"]:
        with Image.open(static_file(icon["src"])) as image:
            assert image.format == "PNG"
            assert f"{image.width}x{image.height}" == icon["sizes"], icon["src"]


def test_the_manifest_offers_192_and_512_icons_for_any_and_for_maskable(manifest) -> None:
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    for size in ("192x192", "512x512"):
        assert (size, "any") in sizes and (size, "maskable") in sizes


def test_a_maskable_icon_fills_its_square_and_keeps_the_mark_in_the_safe_zone(manifest) -> None:
    icon = next(i for i in manifest["icons"] if i["purpose"] == "maskable" and i["sizes"] == "512x512")
    with Image.open(static_file(icon["src"])) as image:
        rgb = image.convert("RGB")
        corner = rgb.getpixel((0, 0))
        assert all(rgb.getpixel(p) == corner for p in ((511, 0), (0, 511), (511, 511)))
        # Everything that is not background lies within the central circle of radius 40 %.
        mark = [(x, y) for x in range(0, 512, 4) for y in range(0, 512, 4) if rgb.getpixel((x, y)) != corner]
        assert mark and all((x - 256) ** 2 + (y - 256) ** 2 <= (0.4 * 512) ** 2 for x, y in mark)


def test_pages_link_the_manifest_and_theme_colours_for_light_and_dark(client: Client) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert f'content="{pwa.THEME_LIGHT}" media="(prefers-color-scheme: light)"' in page
    assert f'content="{pwa.THEME_DARK}" media="(prefers-color-scheme: dark)"' in page


def test_the_service_worker_is_served_from_the_root_as_javascript_and_never_from_a_cache(client: Client) -> None:
    answer = client.get("/sw.js")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/javascript")
    assert answer["Cache-Control"] == "no-cache"
    body = answer.content.decode()
    assert f'const VERSION = "{pwa.shell_version()}";' in body
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))
    assert shell == pwa.shell_urls() and "/offline/" in shell


def test_the_shell_holds_only_static_files_and_the_offline_page() -> None:
    for url in pwa.shell_urls():
        assert url == pwa.OFFLINE_URL or url.startswith("/static/messaging/"), url
        assert "/api/" not in url


def test_the_shell_version_changes_when_a_shell_file_changes(tmp_path, settings) -> None:
    before = pwa.shell_version()
    copy = tmp_path / "messaging"
    (copy / "js").mkdir(parents=True)
    for path in pwa.SHELL_STATIC:
        target = copy / path.removeprefix("messaging/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(finders.find(path)).read_bytes())
    (copy / "icons").mkdir(exist_ok=True)
    (copy / "icons" / "source.png").write_bytes(Path(finders.find("messaging/icons/source.png")).read_bytes())
    (copy / "app.css").write_text((copy / "app.css").read_text() + "\n/* a deploy */\n")
    settings.STATICFILES_DIRS = [tmp_path]
    finders.get_finder.cache_clear()
    pwa.shell_version.cache_clear()
    try:
        assert pwa.shell_version() != before
    finally:
        finders.get_finder.cache_clear()
        pwa.shell_version.cache_clear()


def test_the_offline_page_names_no_one_even_when_signed_in(client: Client, alice) -> None:
    client.force_login(alice)
    page = client.get("/offline/").content.decode()
    assert "You're offline" in page and "outbox" in page
    assert "alice" not in page and "csrfmiddlewaretoken" not in page


def test_the_settings_page_is_linked_from_the_header_and_has_the_device_section(client: Client, alice) -> None:
    client.force_login(alice)
    assert 'href="/settings/"' in client.get("/messages/").content.decode()
    page = client.get("/settings/").content.decode()
    assert "This device" in page and "Desktop/phone notifications" in page and "data-install" in page
    config = json.loads(re.search(r'<script id="push-config" type="application/json">(.*?)</script>', page).group(1))
    assert config["enabled"] is False and config["public_key"] is None


def test_the_settings_page_gives_the_vapid_public_key_when_web_push_is_on(client: Client, alice) -> None:
    private, public = webpush.generate_vapid_keys()
    client.force_login(alice)
    with override_settings(
        MESSAGING_WEBPUSH_ENABLED=True, MESSAGING_VAPID_PRIVATE_KEY=private, MESSAGING_VAPID_SUBJECT="mailto:a@b.c"
    ):
        page = client.get("/settings/").content.decode()
    assert f'"public_key": "{public}"' in page


def test_hide_message_content_is_saved_on_the_users_profile(client: Client, alice) -> None:
    client.force_login(alice)
    assert not Profile.objects.filter(user=alice).exists()  # made lazily
    answer = client.post("/settings/", {"hide_notification_content": "on"})
    assert answer.status_code == 302
    assert Profile.objects.get(user=alice).hide_notification_content is True
    client.post("/settings/", {})
    assert Profile.objects.get(user=alice).hide_notification_content is False


def test_the_settings_page_needs_a_sign_in(client: Client) -> None:
    answer = client.get("/settings/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_a_letter_avatar_is_a_png_in_the_pages_colour_for_that_name(client: Client) -> None:
    answer = client.get("/avatars/alice.png")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content)).convert("RGB")
    assert image.size == (192, 192)
    hue = avatar_hue("alice")
    assert image.getpixel((0, 0)) == _rgb(hue, 0.70, 0.88)  # dom.js: hsl(hue 70% 88%)
    assert _rgb(hue, 0.55, 0.25) in {colour for _, colour in image.getcolors(maxcolors=65536)}  # the letter


def test_an_avatar_url_that_is_not_a_username_is_not_found(client: Client) -> None:
    assert client.get("/avatars/a%20b.png").status_code == 404


def test_every_module_a_shell_script_imports_is_in_the_shell_too() -> None:
    """Offline, a cached page whose script imports an uncached module would not start."""
    shell = set(pwa.SHELL_STATIC)
    missing = set()
    for name in [n for n in shell if n.endswith(".js")]:
        source = Path(finders.find(name)).read_text(encoding="utf-8")
        for imported in re.findall(r"""(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.[^"']+)["']""", source):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), imported))
            if target not in shell:
                missing.add(f"{name} imports {target}")
    assert not missing, sorted(missing)
