"""The browser app's pages and their small JSON helpers (user search, inbox rows)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from messaging.models import Connection, Notification
from messaging.store import conversations, events, reading
from messaging.store.conversations import create_group, get_or_create_direct, remove_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("alice"))
    return client


def page_json(response, element_id: str):
    """The JSON a page hands its script through ``json_script``."""
    html = response.content.decode()
    start = html.index(f'<script id="{element_id}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_user_search_finds_usernames_containing_the_query_prefix_matches_first(alice_client, make_user) -> None:
    for name in ("bobby", "jimbo", "bob", "carol"):
        make_user(name)
    users = alice_client.get("/messages/api/users?q=bo").json()["users"]
    assert [u["username"] for u in users] == ["bob", "bobby", "jimbo"]
    assert users[0]["url"] == "/messages/bob/" and users[0]["online"] is False


def test_user_search_never_offers_yourself_or_inactive_users(alice_client, make_user) -> None:
    make_user("alina")
    gone = make_user("alfred")
    gone.is_active = False
    gone.save()
    assert [u["username"] for u in alice_client.get("/messages/api/users?q=al").json()["users"]] == ["alina"]


def test_user_search_with_an_empty_query_returns_no_one(alice_client, make_user) -> None:
    make_user("bob")
    assert alice_client.get("/messages/api/users?q=").json() == {"users": []}
    assert alice_client.get("/messages/api/users").json() == {"users": []}


def test_user_search_is_limited(alice_client, user_model) -> None:
    user_model.objects.bulk_create(user_model(username=f"user{i:02d}") for i in range(15))
    assert len(alice_client.get("/messages/api/users?q=user").json()["users"]) == 10


def test_user_search_and_inbox_rows_need_sign_in(make_user) -> None:
    client = Client()
    for path in ("/messages/api/users?q=a", "/messages/api/conversations"):
        response = client.get(path)
        assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_inbox_rows_are_most_recent_first_with_preview_unread_and_presence(alice_client, make_user, user_model) -> None:
    alice = user_model.objects.get(username="alice")
    bob, carol = make_user("bob"), make_user("carol")
    with_bob = reading.open_direct(alice, "bob").conversation
    with_carol = reading.open_direct(alice, "carol").conversation
    events.create_message(with_carol.pk, carol, "from carol", "c1")
    events.create_message(with_bob.pk, bob, "first", "b1")
    events.create_message(with_bob.pk, bob, "second", "b2")
    Connection.objects.create(user=bob, channel_name="bob.1", kind="chat", server_id="test")

    rows = alice_client.get("/messages/api/conversations").json()["conversations"]

    assert [r["peer"]["username"] for r in rows] == ["bob", "carol"]
    assert [r["kind"] for r in rows] == ["direct", "direct"] and rows[0]["id"] == with_bob.pk
    assert rows[0]["last_message"]["content"] == "second" and rows[0]["unread"] == 2
    assert rows[0]["peer"]["online"] is True and rows[1]["peer"]["online"] is False
    assert rows[0]["last_activity"].endswith("+00:00")


def test_an_opened_but_empty_conversation_is_listed_only_on_its_own_chat_page(alice_client, make_user) -> None:
    bob = make_user("bob")
    make_user("carol")  # exists, but shares no conversation with bob
    bob_client = Client()
    bob_client.force_login(bob)
    chat = reading.open_direct(bob, "alice")  # bob's chat opened its socket with alice; he says nothing

    def peers(client: Client, path: str = "/messages/api/conversations") -> list[str]:
        return [row["peer"]["username"] for row in client.get(path).json()["conversations"]]

    assert peers(alice_client) == []  # no empty row in alice's inbox
    assert peers(bob_client) == []
    # bob's own chat page with alice lists it (its sidebar asks with ?current=)
    assert peers(bob_client, "/messages/api/conversations?current=alice") == ["alice"]
    assert peers(bob_client, "/messages/api/conversations?current=carol") == []

    events.create_message(chat.conversation.pk, bob, "hi", "e1")
    assert peers(alice_client) == ["bob"] and peers(bob_client) == ["alice"]
    # one row per conversation, also when it is the current one
    assert peers(bob_client, "/messages/api/conversations?current=alice") == ["alice"]


# The fetch-work budget is charged the database's wall time, which a loaded
# machine stretches: eleven pages of this inbox once drew a 429 beside other
# work. The budget has its own tests (test_fetch_work.py); here it is off.
@override_settings(MESSAGING_FETCH_WORK_LIMIT="off")
def test_a_big_inbox_lists_every_conversation_with_its_last_message(alice_client, user_model) -> None:
    """1,100 conversations: more than SQLite's expression depth (1000) of an OR per conversation."""
    from messaging.models import Conversation, Message, Participant

    alice = user_model.objects.get(username="alice")
    peers = user_model.objects.bulk_create(user_model(username=f"peer{i:04d}") for i in range(1100))
    now = timezone.now()
    chats = Conversation.objects.bulk_create(
        Conversation(
            direct_key=f"big-{peer.username}", last_seq=2, last_message_seq=2, member_count=2, last_message_at=now
        )
        for peer in peers
    )
    Participant.objects.bulk_create(
        Participant(conversation=c, user=u) for c, peer in zip(chats, peers, strict=True) for u in (alice, peer)
    )
    Message.objects.bulk_create(
        Message(conversation=c, seq=seq, sender=peer, content=f"{peer.username} {seq}", client_id=f"{c.pk}-{seq}")
        for c, peer in zip(chats, peers, strict=True)
        for seq in (1, 2)
    )

    rows = conversations.summaries(alice, list(Participant.objects.filter(user=alice).select_related("conversation")))

    assert len(rows) == 1100
    assert all(row.last_message.content == f"{row.peer.username} 2" for row in rows)
    assert all(row.unread == 2 for row in rows)
    # and the API pages through all of them
    seen, before = [], None
    while True:
        query = {"limit": 100, **({"before": before} if before else {})}
        page = alice_client.get("/messages/api/conversations", query).json()
        seen += [row["id"] for row in page["conversations"]]
        if not page["has_more"]:
            break
        before = page["next"]
    assert sorted(seen) == sorted(c.pk for c in chats)


def test_the_inbox_page_is_the_app_shell_with_its_config_and_the_csrf_cookie(alice_client) -> None:
    response = alice_client.get("/messages/")
    assert response.status_code == 200 and "csrftoken" in response.cookies
    config = page_json(response, "app-config")
    assert config["me"] == "alice" and config["socket_path"] == "/ws/chat/"
    assert config["route"] == {"kind": "inbox", "id": None, "name": "Messages", "peer": None}
    assert config["max_length"] == 4000 and config["max_title_length"] == 120 and config["max_group_members"] == 256
    assert config["login_url"] == "/accounts/login/"


def test_a_direct_chat_page_names_its_conversation_once_the_first_message_made_it(
    alice_client, make_user, user_model
) -> None:
    bob = make_user("bob")
    before = page_json(alice_client.get("/messages/bob/"), "app-config")["route"]
    assert before["kind"] == "direct" and before["id"] is None and before["peer"] == "bob"
    assert before["presence"] == {"online": False, "last_seen": None}
    conversation, _ = get_or_create_direct(user_model.objects.get(username="alice"), bob)
    assert page_json(alice_client.get("/messages/bob/"), "app-config")["route"]["id"] == conversation.pk


def test_a_direct_chat_page_with_an_unknown_user_or_oneself_is_not_found(alice_client, make_user) -> None:
    gone = make_user("gone")
    gone.is_active = False
    gone.save()
    for path in ("/messages/nobody/", "/messages/alice/", "/messages/gone/"):
        assert alice_client.get(path).status_code == 404, path


def test_a_conversation_page_opens_for_its_members_and_is_not_found_for_anyone_else(alice_client, make_user) -> None:
    bob, carol = make_user("bob"), make_user("carol")
    group = create_group(bob, "Trip <b>", ["carol"], "g1", max_members=256).conversation
    assert alice_client.get(f"/messages/c/{group.pk}/").status_code == 404
    assert alice_client.get("/messages/c/999999/").status_code == 404
    client = Client()
    client.force_login(carol)
    response = client.get(f"/messages/c/{group.pk}/")
    assert response.status_code == 200
    assert page_json(response, "app-config")["route"] == {
        "kind": "group",
        "id": group.pk,
        "name": "Trip <b>",
        "peer": None,
    }
    assert "Trip <b>" not in response.content.decode()  # escaped wherever the title is shown


def test_a_member_who_was_removed_still_opens_the_conversation_page(make_user) -> None:
    bob, carol = make_user("bob"), make_user("carol")
    group = create_group(bob, "Band", ["carol"], "g2", max_members=256).conversation
    remove_member(bob, group.pk, "carol", "r1")
    client = Client()
    client.force_login(carol)
    assert client.get(f"/messages/c/{group.pk}/").status_code == 200


def test_the_app_page_has_no_inline_script_or_style(alice_client, make_user) -> None:
    make_user("bob")
    for path in ("/messages/", "/messages/bob/"):
        html = alice_client.get(path).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'type="application/json"' in tag or "src=" in tag, tag
        assert not re.search(r"\sstyle=", html), path


def test_every_signed_in_page_shows_the_bell_with_the_unread_count(alice_client, user_model) -> None:
    alice = user_model.objects.get(username="alice")
    for i in range(3):
        Notification.objects.create(user=alice, kind="system", title=f"n{i}", body="", url="/")
    for path in ("/messages/", "/notifications/"):
        html = alice_client.get(path).content.decode()
        assert "data-bell" in html and "Notifications, 3 unread" in html


def test_sign_in_page_has_no_bell_and_sign_out_is_a_post_form(make_user) -> None:
    html = Client().get("/accounts/login/").content.decode()
    assert "data-bell" not in html
    client = Client()
    client.force_login(make_user("alice"))
    assert client.get("/accounts/logout/").status_code == 405
    html = client.get("/messages/").content.decode()
    assert 'method="post" action="/accounts/logout/"' in html


def test_static_app_files_are_served(alice_client) -> None:
    from django.contrib.staticfiles import finders

    for name in (
        "app.css",
        "js/chat.js",
        "js/socket.js",
        "js/bell.js",
        "js/conversations.js",
        "js/message-list.js",
        "js/dialogs.js",
        "js/people.js",
        "js/protocol/client.js",
        "js/protocol/outbox.js",
        "js/protocol/fallback.js",
    ):
        assert finders.find(f"messaging/{name}"), name


def test_notifications_page_never_links_to_a_script_url(alice_client, user_model) -> None:
    alice = user_model.objects.get(username="alice")
    Notification.objects.create(user=alice, kind="system", title="ok", body="", url="/messages/bob/")
    Notification.objects.create(user=alice, kind="system", title="bad", body="", url="javascript:alert(1)")
    Notification.objects.create(user=alice, kind="system", title="away", body="", url="//evil.example/")
    Notification.objects.create(user=alice, kind="system", title="slanted", body="", url="/\\evil.example/")
    html = alice_client.get("/notifications/").content.decode()
    assert 'href="/messages/bob/"' in html
    assert "javascript:" not in html
    assert "evil.example" not in html


@pytest.mark.parametrize("path", ["/messages/", "/messages/bob/", "/messages/c/1/", "/notifications/"])
def test_pages_send_the_anonymous_to_sign_in(path) -> None:
    response = Client().get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
