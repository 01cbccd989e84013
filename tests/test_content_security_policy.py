"""Content-Security-Policy on every page, and pages that need nothing the policy forbids."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
if os.environ.get("AWS_STORAGE_BUCKET_NAME") and os.environ.get("AWS_S3_ENDPOINT_URL"):
    # Attachments on S3 (the deployment stack): the download view redirects to
    # the bucket, so images and media may come from there too, and only there.
    _bucket = os.environ["AWS_S3_ENDPOINT_URL"].rstrip("/")
    EXPECTED = {**EXPECTED, "img-src": {"'self'", _bucket}, "media-src": {"'self'", _bucket}}
SIGNED_IN_PAGES = ["/messages/", "/messages/bob/", "/notifications/", "/settings/"]
ANONYMOUS_PAGES = ["/accounts/login/", "/admin/login/", "/offline/"]
STAFF_PAGES = [
    "/admin/",
    "/admin/messaging/messagingerror/",
    "/admin/messaging/retryqueueitem/",
    "/admin/messaging/pushsubscription/",
]


def policy(response) -> dict[str, set[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: set(sources) for name, *sources in directives}


@pytest.fixture
def alice_client(make_user) -> Client:
    make_user("bob")
    client = Client()
    client.force_login(make_user("alice"))
    return client


def pages(alice_client: Client, staff_client: Client) -> list[tuple[str, object]]:
    anonymous = Client()
    return (
        [(path, alice_client.get(path)) for path in SIGNED_IN_PAGES]
        + [(path, anonymous.get(path)) for path in ANONYMOUS_PAGES]
        + [(path, staff_client.get(path)) for path in STAFF_PAGES]
    )


@pytest.mark.parametrize("path", SIGNED_IN_PAGES + ANONYMOUS_PAGES)
def test_each_page_sends_the_policy_that_allows_only_this_site_and_nothing_inline(
    path: str, alice_client: Client
) -> None:
    client = alice_client if path in SIGNED_IN_PAGES else Client()
    response = client.get(path)
    assert response.status_code == 200
    assert policy(response) == EXPECTED


def test_no_directive_allows_inline_code_or_eval(alice_client: Client) -> None:
    header = alice_client.get("/messages/").headers["Content-Security-Policy"]
    assert "unsafe" not in header and "data:" not in header and "*" not in header


class InlineFinder(HTMLParser):
    """Collects what the policy would block: inline scripts, style elements and attributes,
    event handler attributes, ``javascript:`` and ``data:`` URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_data_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and "src" not in named:
            if named.get("type") == "application/json":
                self.in_data_script = True  # json_script: data, never run
            else:
                self.found.append(f"inline <script {attrs}>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.found.append(f'<{tag} style="{value}">')
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if (
                name in ("href", "src", "action")
                and value
                and value.strip().lower().startswith(("javascript:", "data:"))
            ):
                self.found.append(f"<{tag} {name}={value[:40]}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_data_script = False


def test_no_page_has_inline_script_or_style(alice_client: Client, staff_client: Client) -> None:
    for path, response in pages(alice_client, staff_client):
        assert response.status_code == 200, path
        finder = InlineFinder()
        finder.feed(response.content.decode())
        assert finder.found == [], path


SCRIPT_STYLE_ATTRIBUTE = re.compile(
    r"""setAttribute\(\s*["']style["']|\.innerHTML\b|insertAdjacentHTML|\beval\(|new Function\("""
)


def test_the_javascript_sets_no_style_attribute_markup_or_eval() -> None:
    scripts = sorted((ROOT / "messaging" / "static").rglob("*.js"))
    assert scripts
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in scripts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SCRIPT_STYLE_ATTRIBUTE.search(line) and not line.lstrip().startswith("//")
    ]
    assert offending == []
