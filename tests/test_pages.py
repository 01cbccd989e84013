"""The browser app's pages answer as they should (200, a sign-in redirect, 404), and the JSON helpers behind them.

The pages themselves are being rewritten: these check only how each page
answers, not its markup or the JSON it embeds for its script.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from messaging.models import Connection, Notification
from messaging.store import conversations, events, reading

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("alice"))
    return client


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


def test_a_big_inbox_lists_every_conversation_with_its_last_message(alice_client, user_model) -> None:
    """1,100 conversations: more than SQLite's expression depth (1000) of an OR per conversation."""
    from messaging.models import Conversation, Message, Participant

    alice = user_model.objects.get(username="alice")
    peers = user_model.objects.bulk_create(user_model(username=f"peer{i:04d}") for i in range(1100))
    now = timezone.now()
    chats = Conversation.objects.bulk_create(
        Conversation(direct_key=f"big-{peer.username}", last_seq=2, last_message_seq=2, member_count=2, last_message_at=now)
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


def test_the_inbox_page_answers_and_sets_the_csrf_cookie(alice_client) -> None:
    response = alice_client.get("/messages/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies


def test_the_chat_page_answers_for_a_user_and_404_for_no_one(alice_client, make_user) -> None:
    make_user("bob")
    response = alice_client.get("/messages/bob/")
    assert response.status_code == 200 and "csrftoken" in response.cookies
    assert alice_client.get("/messages/nobody/").status_code == 404
    assert alice_client.get("/messages/alice/").status_code == 404


def test_a_conversation_page_answers_its_members_only(alice_client, make_user, user_model) -> None:
    alice = user_model.objects.get(username="alice")
    bob, carol = make_user("bob"), make_user("carol")
    group = conversations.create_group(alice, "Trip", ["bob"], "g1", max_members=10).conversation
    response = alice_client.get(f"/messages/c/{group.pk}/")
    assert response.status_code == 200 and "csrftoken" in response.cookies
    carol_client = Client()
    carol_client.force_login(carol)
    assert carol_client.get(f"/messages/c/{group.pk}/").status_code == 404
    assert alice_client.get(f"/messages/c/{group.pk + 1000}/").status_code == 404
    # a former member still has the page (they keep what they saw)
    conversations.leave(bob, group.pk, "bye")
    bob_client = Client()
    bob_client.force_login(bob)
    assert bob_client.get(f"/messages/c/{group.pk}/").status_code == 200


def test_the_notifications_page_answers(alice_client, user_model) -> None:
    alice = user_model.objects.get(username="alice")
    for i in range(3):
        Notification.objects.create(user=alice, kind="system", title=f"n{i}", body="", url="/")
    assert alice_client.get("/notifications/").status_code == 200


@pytest.mark.parametrize("path", ["/messages/", "/messages/bob/", "/messages/c/1/", "/notifications/"])
def test_pages_send_the_anonymous_to_sign_in(path) -> None:
    response = Client().get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_sign_in_answers_and_sign_out_is_post_only(make_user) -> None:
    assert Client().get("/accounts/login/").status_code == 200
    client = Client()
    client.force_login(make_user("alice"))
    assert client.get("/accounts/logout/").status_code == 405


def test_static_app_files_are_served(alice_client) -> None:
    from django.contrib.staticfiles import finders

    for name in ("app.css", "js/chat.js", "js/socket.js", "js/outbox.js", "js/bell.js", "js/inbox.js"):
        assert finders.find(f"messaging/{name}"), name


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("/messages/bob/", True),
        ("https://example.com/x", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("//evil.example/", False),
        ("/\\evil.example/", False),
        ("data:text/html,hi", False),
    ],
)
def test_a_notification_link_is_a_path_of_this_site_or_http_never_a_script(url: str, safe: bool) -> None:
    from messaging.http.pages import safe_link

    assert (safe_link(url) == url) is safe
    if not safe:
        assert safe_link(url) == "/notifications/"