"""The HTTP API: same validation, limits and idempotency as the socket."""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings

from messaging.exceptions import Forbidden, RateLimited
from messaging.http.api import api_error
from messaging.models import Conversation, Message, Participant
from messaging.store.conversations import get_or_create_direct

from .faults import SqliteWriteLock, on_sqlite_only, sqlite_busy_timeout

pytestmark = pytest.mark.django_db


def api_client(user) -> Client:
    """A browser signed in as ``user``, with CSRF checks on and its CSRF cookie set, as the chat page sets it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/messages/")
    return client


@pytest.fixture
def alice_client(make_user) -> Client:
    make_user("bob")
    return api_client(make_user("alice"))


def post_send(client: Client, username: str, body: object, *, csrf: bool = True, raw: bytes | None = None):
    headers = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if csrf else {}
    data = raw if raw is not None else json.dumps(body)
    return client.post(f"/messages/api/{username}/send", data=data, content_type="application/json", **headers)


def test_send_stores_and_answers_201_then_200_on_a_repeat(alice_client) -> None:
    first = post_send(alice_client, "bob", {"content": "hi bob", "client_id": "h1"})
    assert first.status_code == 201
    message = first.json()["message"]
    assert message["sender"] == "alice" and message["recipient"] == "bob" and message["seq"] == 1
    again = post_send(alice_client, "bob", {"content": "hi bob", "client_id": "h1"})
    assert again.status_code == 200 and again.json() == first.json()
    assert Message.objects.count() == 1


def test_send_without_csrf_is_403_json(alice_client) -> None:
    response = post_send(alice_client, "bob", {"content": "hi", "client_id": "x"}, csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Message.objects.count() == 0


def test_anonymous_api_calls_are_403_json(make_user) -> None:
    make_user("bob")
    client = Client()
    assert client.get("/messages/api/bob/history").status_code == 403
    response = client.post("/messages/api/bob/send", data="{}", content_type="application/json")
    assert response.status_code == 403 and response.json()["type"] == "error"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"content": "", "client_id": "x"}, 400, "invalid_frame"),
        ({"content": "hi"}, 400, "invalid_frame"),
        ({"content": "x" * 4001, "client_id": "x"}, 413, "too_large"),
        ([1, 2], 400, "invalid_frame"),
    ],
)
def test_send_validates_like_the_socket(alice_client, body, status, code) -> None:
    response = post_send(alice_client, "bob", body)
    assert response.status_code == status
    assert response.json()["type"] == "error" and response.json()["code"] == code
    assert Message.objects.count() == 0


def test_send_with_a_body_that_is_not_json_is_400(alice_client) -> None:
    response = post_send(alice_client, "bob", None, raw=b"{nope")
    assert response.status_code == 400 and response.json()["code"] == "invalid_json"


@override_settings(MESSAGING_MAX_FRAME_BYTES=100)
def test_send_with_a_body_over_the_frame_limit_is_413(alice_client) -> None:
    response = post_send(alice_client, "bob", {"content": "x" * 200, "client_id": "x"})
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert (response.json()["limit"], response.json()["setting"]) == (100, "MESSAGING_MAX_FRAME_BYTES")


@override_settings(MESSAGING_RATE_LIMIT="1/60s")
def test_send_over_the_rate_is_429(alice_client) -> None:
    assert post_send(alice_client, "bob", {"content": "a", "client_id": "1"}).status_code == 201
    response = post_send(alice_client, "bob", {"content": "b", "client_id": "2"})
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"


def test_unknown_peer_is_404_and_creates_nothing(alice_client) -> None:
    response = post_send(alice_client, "nobody", {"content": "hi", "client_id": "x"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert alice_client.get("/messages/api/alice/history").status_code == 404
    assert Conversation.objects.count() == 0


def test_history_pages_newest_first(alice_client) -> None:
    for i in range(5):
        post_send(alice_client, "bob", {"content": f"m{i}", "client_id": f"m{i}"})
    page = alice_client.get("/messages/api/bob/history?limit=2").json()
    assert [m["seq"] for m in page["messages"]] == [5, 4] and page["has_more"] is True
    page = alice_client.get("/messages/api/bob/history?before=3&limit=50").json()
    assert [m["seq"] for m in page["messages"]] == [2, 1] and page["has_more"] is False


def test_history_after_a_seq_pages_oldest_first(alice_client) -> None:
    for i in range(5):
        post_send(alice_client, "bob", {"content": f"m{i}", "client_id": f"m{i}"})
    page = alice_client.get("/messages/api/bob/history?after=1&limit=2").json()
    assert [m["seq"] for m in page["messages"]] == [2, 3] and page["has_more"] is True
    page = alice_client.get("/messages/api/bob/history?after=3&limit=50").json()
    assert [m["seq"] for m in page["messages"]] == [4, 5] and page["has_more"] is False
    page = alice_client.get("/messages/api/bob/history?after=5").json()
    assert page == {"messages": [], "has_more": False}


def test_history_with_before_and_after_is_400(alice_client) -> None:
    response = alice_client.get("/messages/api/bob/history?before=4&after=1")
    assert response.status_code == 400 and response.json()["code"] == "invalid_frame"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "before=-1", "after=-1", "after=abc"])
def test_history_rejects_bad_parameters(alice_client, query) -> None:
    response = alice_client.get(f"/messages/api/bob/history?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid_frame"


def test_history_fetched_by_the_recipient_delivers(alice_client, django_user_model) -> None:
    post_send(alice_client, "bob", {"content": "hi", "client_id": "d1"})
    bob_client = Client()
    bob_client.force_login(django_user_model.objects.get(username="bob"))
    page = bob_client.get("/messages/api/alice/history").json()
    assert page["messages"][0]["status"] == "delivered"
    bob_member = Participant.objects.get(user__username="bob")
    assert bob_member.delivered_seq == 1 and bob_member.read_seq == 0


def test_healthz_reports_database_and_channel_layer() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "channel_layer": "ok"}


def test_pages_require_sign_in(client) -> None:
    assert client.get("/messages/").status_code == 302
    assert client.get("/messages/bob/").status_code == 302


def test_chat_page_for_an_unknown_user_is_404(alice_client) -> None:
    assert alice_client.get("/messages/nobody/").status_code == 404
    assert alice_client.get("/messages/bob/").status_code == 200


def test_the_sender_comes_from_the_session_not_the_body(alice_client) -> None:
    body = {"content": "hi", "client_id": "s1", "sender": "bob", "recipient": "alice", "sender_id": 2}
    response = post_send(alice_client, "bob", body)
    assert response.status_code == 201
    assert response.json()["message"]["sender"] == "alice"
    stored = Message.objects.get()
    assert stored.sender.get_username() == "alice"


def test_a_group_message_sent_over_http_is_sent_by_the_session_user(alice_client) -> None:
    post_send(alice_client, "bob", {"content": "hi", "client_id": "g0"})
    conversation_id = Conversation.objects.get().pk
    response = alice_client.post(
        f"/messages/api/conversations/{conversation_id}/messages",
        data=json.dumps({"content": "from me", "client_id": "g1", "sender": "bob"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=alice_client.cookies["csrftoken"].value,
    )
    assert response.status_code == 201
    assert response.json()["event"]["sender"] == "alice"
    assert Message.objects.get(client_id="g1").sender.get_username() == "alice"


@pytest.mark.django_db(transaction=True)
def test_a_message_sent_over_http_is_committed_before_it_is_announced(alice_client, monkeypatch) -> None:
    """What a socket is told about must already be in the database for any other connection.

    Another thread has its own connection, so it sees only committed rows: a
    view that announced inside its transaction (or before storing) would
    broadcast a message that a client's next fetch cannot find.
    """
    layer = get_channel_layer()
    original = layer.group_send
    seen_at_announce: list[bool] = []

    def committed(client_id: str) -> bool:
        found: list[bool] = []

        def look() -> None:
            try:
                found.append(Message.objects.filter(client_id=client_id).exists())
            finally:
                connection.close()

        reader = threading.Thread(target=look)
        reader.start()
        reader.join()
        return found[0]

    async def spy(group: str, event: dict) -> None:
        if event.get("type") == "conversation.event":
            seen_at_announce.append(await sync_to_async(committed, thread_sensitive=False)("c-commit"))
        await original(group, event)

    monkeypatch.setattr(layer, "group_send", spy)
    response = post_send(alice_client, "bob", {"content": "hi", "client_id": "c-commit"})
    assert response.status_code == 201
    assert seen_at_announce == [True]


def test_a_refused_csrf_check_says_which_header_to_send(alice_client) -> None:
    response = post_send(alice_client, "bob", {"content": "hi", "client_id": "x"}, csrf=False)
    assert response["Content-Type"] == "application/json"
    assert "X-CSRFToken" in response.json()["detail"]


def test_a_refused_csrf_check_outside_the_api_is_djangos_page(make_user) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("alice"))
    response = client.post("/accounts/logout/")
    assert response.status_code == 403
    assert not response["Content-Type"].startswith("application/json")


@override_settings(MESSAGING_RATE_LIMIT="1/60s")
def test_a_rate_limited_send_says_when_to_retry(alice_client) -> None:
    post_send(alice_client, "bob", {"content": "a", "client_id": "1"})
    response = post_send(alice_client, "bob", {"content": "b", "client_id": "2"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.mark.parametrize(("wait", "header"), [(0.2, "1"), (1.0, "1"), (2.1, "3")])
def test_retry_after_is_whole_seconds_rounded_up_and_never_zero(wait, header) -> None:
    """Retry-After carries whole seconds: a sub-second wait is 1 (0 would invite an immediate retry)."""
    response = api_error(RateLimited("slow down", retry_after=wait))
    assert response.status_code == 429 and response["Retry-After"] == header
    assert json.loads(response.content)["code"] == "rate_limited"


def test_only_a_rate_limited_answer_carries_retry_after() -> None:
    assert not api_error(Forbidden("no", retry_after=5)).has_header("Retry-After")
    assert not api_error(RateLimited("slow down")).has_header("Retry-After")


def test_an_empty_query_parameter_is_the_same_as_none(alice_client) -> None:
    post_send(alice_client, "bob", {"content": "hi", "client_id": "e1"})
    response = alice_client.get("/messages/api/bob/history?limit=&before=")
    assert response.status_code == 200 and len(response.json()["messages"]) == 1


def test_a_bad_integer_parameter_is_named_in_the_error(alice_client) -> None:
    response = alice_client.get("/messages/api/bob/history?limit=abc")
    assert response.status_code == 400 and "'limit'" in response.json()["detail"]


def post_json(client: Client, path: str, body: object):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )


@pytest.mark.django_db(
    transaction=True
)  # announcing a group change runs the layer's database work on its own connections
def test_a_group_created_over_http_answers_201_with_its_summary_then_200_on_a_repeat(alice_client, make_user) -> None:
    make_user("carol")
    body = {"title": "Trip", "members": ["bob", "carol"], "client_id": "g-1"}
    first = post_json(alice_client, "/messages/api/conversations", body)
    assert first.status_code == 201
    created = first.json()
    assert created["conversation"]["title"] == "Trip" and created["event"]["kind"] == "created"
    assert created["event"]["sender"] == "alice"
    assert Participant.objects.filter(conversation_id=created["conversation"]["id"]).count() == 3
    again = post_json(alice_client, "/messages/api/conversations", body)
    assert again.status_code == 200 and again.json()["event"]["seq"] == created["event"]["seq"]
    assert Conversation.objects.count() == 1


@pytest.mark.django_db(
    transaction=True
)  # announcing a group change runs the layer's database work on its own connections
def test_group_changes_over_http_answer_201_with_their_event(alice_client, make_user) -> None:
    make_user("carol")
    made = post_json(alice_client, "/messages/api/conversations", {"title": "T", "members": ["bob"], "client_id": "g"})
    base = f"/messages/api/conversations/{made.json()['conversation']['id']}"
    changes = [
        (f"{base}/members", {"users": ["carol"], "client_id": "a"}, "members_added"),
        (f"{base}/rename", {"title": "New", "client_id": "r"}, "renamed"),
        (f"{base}/members/carol/remove", {"client_id": "m"}, "member_removed"),
    ]
    for path, body, kind in changes:
        response = post_json(alice_client, path, body)
        assert response.status_code == 201, (path, response.content)
        assert response.json()["event"]["kind"] == kind and response.json()["event"]["sender"] == "alice"
        assert post_json(alice_client, path, body).status_code == 200  # a repeat of the client_id
    assert Conversation.objects.get(pk=made.json()["conversation"]["id"]).title == "New"


@pytest.mark.django_db(
    transaction=True
)  # announcing a group change runs the layer's database work on its own connections
def test_leaving_a_group_over_http_ends_the_membership(alice_client, django_user_model) -> None:
    made = post_json(alice_client, "/messages/api/conversations", {"title": "T", "members": ["bob"], "client_id": "g"})
    conversation_id = made.json()["conversation"]["id"]
    bob = api_client(django_user_model.objects.get(username="bob"))
    response = post_json(bob, f"/messages/api/conversations/{conversation_id}/leave", {"client_id": "l"})
    assert response.status_code == 201 and response.json()["event"]["kind"] == "member_left"
    left = Participant.objects.get(conversation_id=conversation_id, user__username="bob")
    assert left.left_seq == response.json()["event"]["seq"]


@pytest.mark.django_db(
    transaction=True
)  # announcing a group change runs the layer's database work on its own connections
def test_a_group_change_by_a_non_member_is_refused_and_stores_nothing(alice_client, make_user) -> None:
    made = post_json(alice_client, "/messages/api/conversations", {"title": "T", "members": ["bob"], "client_id": "g"})
    conversation_id = made.json()["conversation"]["id"]
    mallory = api_client(make_user("mallory"))
    response = post_json(
        mallory, f"/messages/api/conversations/{conversation_id}/rename", {"title": "X", "client_id": "x"}
    )
    assert response.status_code in (403, 404) and response.json()["type"] == "error"
    assert Conversation.objects.get(pk=conversation_id).title == "T"


def test_the_inbox_pages_over_http_with_a_cursor(alice_client, make_user) -> None:
    for name in ("carol", "dave", "erin"):
        make_user(name)
        post_send(alice_client, name, {"content": "hi", "client_id": f"to-{name}"})
    first = alice_client.get("/messages/api/conversations?limit=2").json()
    assert len(first["conversations"]) == 2 and first["has_more"] is True
    rest = alice_client.get("/messages/api/conversations", {"limit": 2, "before": first["next"]}).json()
    assert len(rest["conversations"]) == 1 and rest["has_more"] is False
    seen = [c["id"] for c in first["conversations"] + rest["conversations"]]
    assert len(set(seen)) == 3


def test_a_reply_sent_over_http_keeps_what_it_replies_to(alice_client) -> None:
    post_send(alice_client, "bob", {"content": "first", "client_id": "q1"})
    response = post_send(alice_client, "bob", {"content": "re", "client_id": "q2", "reply_to": 1})
    assert response.status_code == 201
    assert Message.objects.get(client_id="q2").target_seq == 1


@override_settings(MESSAGING_RATE_LIMIT="1/60s")
def test_each_user_has_their_own_sending_allowance_over_http(alice_client, django_user_model) -> None:
    assert post_send(alice_client, "bob", {"content": "a", "client_id": "1"}).status_code == 201
    bob = api_client(django_user_model.objects.get(username="bob"))
    assert post_send(bob, "alice", {"content": "b", "client_id": "1"}).status_code == 201


@override_settings(MESSAGING_RATE_LIMIT="2/60s")
def test_a_repeated_send_over_http_gives_its_message_token_back(alice_client) -> None:
    assert post_send(alice_client, "bob", {"content": "a", "client_id": "1"}).status_code == 201
    assert post_send(alice_client, "bob", {"content": "a", "client_id": "1"}).status_code == 200
    assert post_send(alice_client, "bob", {"content": "b", "client_id": "2"}).status_code == 201


@override_settings(MESSAGING_MAX_FRAME_BYTES=100)
def test_a_body_of_exactly_the_frame_limit_is_accepted(alice_client) -> None:
    body = {"content": "", "client_id": "b1"}
    body["content"] = "x" * (100 - len(json.dumps(body)))
    assert len(json.dumps(body)) == 100
    assert post_send(alice_client, "bob", body).status_code == 201


@override_settings(MESSAGING_UPLOAD_QUOTA_BYTES=1000)
def test_an_upload_with_the_quota_used_up_is_413_quota_exceeded_naming_the_quota(make_user, media_storage) -> None:
    alice = make_user("alice")
    conversation, _ = get_or_create_direct(alice, make_user("bob"))
    client = api_client(alice)

    def upload(name: str, size: int):
        return client.post(
            f"/messages/api/conversations/{conversation.pk}/attachments",
            data={"file": [SimpleUploadedFile(name, b"x" * size, content_type="text/plain")]},
            HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
        )

    assert upload("a.txt", 1000).status_code == 201
    # The store's check, before the body is read: nothing of the quota is left.
    response = upload("b.txt", 1)
    assert (response.status_code, response.json()) == (
        413,
        {
            "type": "error",
            "code": "quota_exceeded",
            "detail": "your uploads already take your quota of 1000 bytes",
            "limit": 1000,
            "setting": "MESSAGING_UPLOAD_QUOTA_BYTES",
        },
    )


@on_sqlite_only
@pytest.mark.django_db(transaction=True)  # another connection holds the write lock: the rows must be committed
@override_settings(MESSAGING_RATE_LIMIT="1/60s")
def test_a_send_over_http_the_server_failed_to_store_gives_its_rate_token_back(alice_client, django_user_model) -> None:
    """The database locked beyond the retries: 503 ``server_error``, and the resend is not ``rate_limited``."""
    alice, bob = (django_user_model.objects.get(username=name) for name in ("alice", "bob"))
    conversation, _ = get_or_create_direct(alice, bob)
    path = f"/messages/api/conversations/{conversation.pk}/messages"
    body = {"content": "during the outage", "client_id": "locked-1"}
    with SqliteWriteLock(), sqlite_busy_timeout(0.02):
        connection.close()  # reopened with the short busy timeout
        failed = post_json(alice_client, path, body)
    connection.close()
    assert (failed.status_code, failed.json()["code"]) == (503, "server_error")
    again = post_json(alice_client, path, body)
    assert again.status_code == 201 and again.json()["event"]["seq"] == 1


@pytest.mark.django_db(
    transaction=True
)  # announcing a group change runs the layer's database work on its own connections
@override_settings(MESSAGING_MAX_TITLE_LENGTH=10)
def test_a_group_title_over_the_title_limit_over_http_is_413_naming_the_limit(alice_client) -> None:
    body = {"title": "x" * 11, "members": ["bob"], "client_id": "g-long"}
    response = post_json(alice_client, "/messages/api/conversations", body)
    assert (response.status_code, response.json()["code"], response.json()["limit"]) == (413, "too_large", 10)
    assert Conversation.objects.count() == 0
    body["title"] = "x" * 10
    assert post_json(alice_client, "/messages/api/conversations", body).status_code == 201
