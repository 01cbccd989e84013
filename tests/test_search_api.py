"""Search over the wire: ``GET /messages/api/search``, the socket's ``search`` frame, and ``history`` around a seq."""

from __future__ import annotations

import base64
import datetime
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client, override_settings

from messaging.models import Event, NotificationPreference, SearchEntry
from messaging.store import conversations, events
from messaging.store import search as search_store
from messaging.store.errors import Invalid
from messaging.store.search.indexer import indexer
from messaging.store.search.query import QueryError, parse

from .groups import make_group, new_client_id

pytestmark = pytest.mark.django_db(transaction=True)


def send(user: Any, conversation_id: int, content: str) -> int:
    return events.create_message(conversation_id, user, content, new_client_id()).event.seq


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_api_answers_hits_newest_first_with_highlight_offsets_and_pages_by_cursor(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(5):
        send(alice, direct.pk, f"Déploiement numéro {n} réussi")
    client = client_of(bob)
    first = client.get("/messages/api/search", {"q": "deploiement", "limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [hit["seq"] for hit in body["results"]] == [5, 4]
    hit = body["results"][0]
    assert hit["conversation"] == direct.pk and hit["sender"] == "alice" and hit["created_at"]
    start, end = hit["snippet"]["highlights"][0]
    assert hit["snippet"]["text"][start:end] == "Déploiement"
    assert body["total"] == {"count": 5, "exact": True}
    assert body["conversations"] == [{"id": direct.pk, "kind": "direct", "title": None, "peer": "alice"}]
    seqs = [hit["seq"] for hit in body["results"]]
    cursor = body["next"]
    while cursor:
        page = client.get("/messages/api/search", {"q": "deploiement", "limit": 2, "cursor": cursor}).json()
        assert page["total"] is None, "the total is counted on the first page only"
        seqs += [hit["seq"] for hit in page["results"]]
        cursor = page["next"]
    assert seqs == [5, 4, 3, 2, 1]


def test_a_first_page_over_the_count_cap_says_more_than_the_cap_and_later_pages_give_no_total(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_store, "COUNT_CAP", 3)
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(5):
        send(alice, direct.pk, f"release {n}")
    client = client_of(bob)

    first = client.get("/messages/api/search", {"q": "release", "limit": 2}).json()
    second = client.get("/messages/api/search", {"q": "release", "limit": 2, "cursor": first["next"]}).json()

    assert first["total"] == {"count": 3, "exact": False}
    assert [hit["seq"] for hit in first["results"]] == [5, 4] and second["total"] is None
    assert [hit["seq"] for hit in second["results"]] == [3, 2]


def test_a_first_page_at_the_count_cap_is_exact(alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_store, "COUNT_CAP", 3)
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(3):
        send(alice, direct.pk, f"release {n}")

    body = client_of(bob).get("/messages/api/search", {"q": "release", "limit": 2}).json()

    assert body["total"] == {"count": 3, "exact": True} and body["next"]


def test_count_exact_counts_every_match_past_the_cap_on_any_page(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_store, "COUNT_CAP", 3)
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(6):
        send(alice, direct.pk, f"release {n}")
    send(bob, direct.pk, "unrelated")
    client = client_of(bob)

    first = client.get("/messages/api/search", {"q": "release", "limit": 2, "count": "exact"}).json()
    second = client.get(
        "/messages/api/search", {"q": "release", "limit": 2, "cursor": first["next"], "count": "exact"}
    ).json()
    relevance = client.get("/messages/api/search", {"q": "release", "sort": "relevance", "count": "exact"}).json()

    assert first["total"] == second["total"] == relevance["total"] == {"count": 6, "exact": True}
    assert [hit["seq"] for hit in second["results"]] == [4, 3]


def test_a_relevance_first_page_over_the_cap_says_more_than_the_cap(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_store, "COUNT_CAP", 3)
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(5):
        send(alice, direct.pk, f"release {n}")

    body = client_of(bob).get("/messages/api/search", {"q": "release", "sort": "relevance"}).json()

    assert body["total"] == {"count": 3, "exact": False} and len(body["results"]) == 5


def test_from_finds_nothing_from_someone_the_searcher_shares_no_conversation_with(
    alice: Any, bob: Any, carol: Any
) -> None:
    with_bob, _ = conversations.get_or_create_direct(alice, bob)
    with_carol, _ = conversations.get_or_create_direct(carol, bob)
    send(carol, with_carol.pk, "release notes")
    send(bob, with_bob.pk, "release notes")

    body = client_of(alice).get("/messages/api/search", {"q": "from:carol release"}).json()

    assert body["results"] == [] and body["total"] == {"count": 0, "exact": True}


def test_relevance_puts_whole_words_before_pieces_of_words(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "the latest build")
    send(alice, direct.pk, "run the test now")
    send(alice, direct.pk, "testing again")
    results = client_of(bob).get("/messages/api/search", {"q": "test", "sort": "relevance"}).json()["results"]
    assert [hit["snippet"]["text"] for hit in results] == ["run the test now", "testing again", "the latest build"]
    assert results[0]["score"] > results[1]["score"] > results[2]["score"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"q": ""}, 400, "invalid_frame"),
        ({"q": "x" * 10_000}, 413, "too_large"),
        ({"q": " ".join(f"w{i}x" for i in range(17))}, 413, "too_large"),
        ({"q": "d*"}, 400, "invalid_frame"),
        ({"q": "before:yesterday"}, 400, "invalid_frame"),
        ({"q": "hello", "sort": "random"}, 400, "invalid_frame"),
        ({"q": "hello", "limit": "500"}, 400, "invalid_frame"),
        ({"q": "hello", "cursor": "bm90IGEgY3Vyc29y"}, 400, "invalid_frame"),
        ({"q": "hello", "count": "roughly"}, 400, "invalid_frame"),
    ],
)
def test_a_query_that_cannot_be_searched_is_a_clear_error(
    alice: Any, params: dict[str, str], status: int, code: str
) -> None:
    response = client_of(alice).get("/messages/api/search", params)
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error" and body["code"] == code and body["detail"]


@pytest.mark.parametrize(
    "q", ['unbalanced "quote', "NEAR(a b) AND ^x*", 'col:"x" OR -y', "'; DROP TABLE x; --", '* ** ""']
)
def test_database_syntax_is_searched_as_text_never_a_server_error(alice: Any, bob: Any, q: str) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "an unbalanced quote near a b and x")
    response = client_of(bob).get("/messages/api/search", {"q": q})
    assert response.status_code in (200, 400), response.content
    assert response.json().get("code") in (None, "invalid_frame")


def test_has_attachment_finds_only_the_messages_that_carry_files(alice: Any, bob: Any, media_storage: Any) -> None:
    from tests import files
    from tests.test_attachments_http import send as send_with_files
    from tests.test_attachments_http import signed_in, upload

    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "the plan file comes next")
    client = signed_in(alice)
    item = upload(client, direct.pk, ("plan.pdf", files.pdf(), "application/pdf")).json()["attachments"][0]
    assert send_with_files(client, direct.pk, [item["id"]], content="here is the plan file").status_code == 201
    body = client_of(bob).get("/messages/api/search", {"q": "plan has:attachment"}).json()
    assert [hit["snippet"]["text"] for hit in body["results"]] == ["here is the plan file"]
    assert body["query"]["has"] == ["attachment"] and body["warnings"] == []
    everything = client_of(bob).get("/messages/api/search", {"q": "plan"}).json()
    assert len(everything["results"]) == 2


def test_messages_deleted_for_me_or_cleared_are_not_found(alice: Any, bob: Any) -> None:
    from messaging.store import message_actions

    direct, _ = conversations.get_or_create_direct(alice, bob)
    first = send(alice, direct.pk, "orange one")
    send(alice, direct.pk, "orange two")
    message_actions.hide_messages(bob, direct.pk, [first])
    found = client_of(bob).get("/messages/api/search", {"q": "orange"}).json()["results"]
    assert [hit["snippet"]["text"] for hit in found] == ["orange two"]
    assert len(client_of(alice).get("/messages/api/search", {"q": "orange"}).json()["results"]) == 2
    message_actions.clear_conversation(bob, direct.pk)
    assert client_of(bob).get("/messages/api/search", {"q": "orange"}).json()["results"] == []


def test_filters_from_in_and_dates_narrow_the_hits(alice: Any, bob: Any, carol: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    group = make_group(alice, [bob, carol], title="Ops Team")
    send(alice, direct.pk, "deploy from alice direct")
    send(carol, group, "deploy from carol group")
    client = client_of(bob)

    def texts(q: str) -> list[str]:
        return [hit["snippet"]["text"] for hit in client.get("/messages/api/search", {"q": q}).json()["results"]]

    assert texts("deploy from:carol") == ["deploy from carol group"]
    assert texts('deploy in:"ops team"') == ["deploy from carol group"]
    assert texts("deploy in:alice") == ["deploy from alice direct"]
    assert texts("from:me deploy") == []
    assert texts("deploy before:2000-01-01") == []
    assert texts("deploy after:2000-01-01") == ["deploy from carol group", "deploy from alice direct"]


@override_settings(MESSAGING_SEARCH_RATE_LIMIT="2/60s")
def test_searching_too_often_is_rate_limited(alice: Any) -> None:
    client = client_of(alice)
    answers = [client.get("/messages/api/search", {"q": "hello"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "search_rate_limited"


def test_anonymous_search_is_403() -> None:
    response = Client().get("/messages/api/search", {"q": "hello"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_history_around_a_seq_is_that_message_with_its_neighbours(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(1, 11):
        send(alice, direct.pk, f"m{n}")
    client = client_of(bob)
    page = client.get(f"/messages/api/conversations/{direct.pk}/history", {"around": 5, "limit": 4}).json()
    assert [event["seq"] for event in page["events"]] == [7, 6, 5, 4]
    assert page["has_more"] and page["has_newer"]
    newest = client.get(f"/messages/api/conversations/{direct.pk}/history", {"around": 10, "limit": 4}).json()
    # Fewer newer events than half a page: the older side fills the rest.
    assert [event["seq"] for event in newest["events"]] == [10, 9, 8, 7] and not newest["has_newer"]
    both = client.get(f"/messages/api/conversations/{direct.pk}/history", {"around": 5, "before": 6})
    assert both.status_code == 400 and both.json()["code"] == "invalid_frame"


def test_history_around_never_leaves_the_members_window(alice: Any, bob: Any, carol: Any) -> None:
    group = make_group(alice, [bob, carol])
    send(alice, group, "before removal")
    conversations.remove_member(alice, group, "carol", new_client_id())
    send(alice, group, "after removal")
    page = client_of(carol).get(f"/messages/api/conversations/{group}/history", {"around": 99}).json()
    assert "after removal" not in [event.get("content") for event in page["events"]]
    assert "before removal" in [event.get("content") for event in page["events"]]


async def test_the_socket_answers_a_search_frame_with_its_ref(alice: Any, bob: Any, user_socket: Any) -> None:
    direct, _ = await database_sync_to_async(conversations.get_or_create_direct)(alice, bob)
    await database_sync_to_async(send)(alice, direct.pk, "東京で会いましょう")
    socket = await user_socket(bob)
    await socket.send({"type": "search", "q": "東京", "ref": "s1"})
    answer = await socket.expect("search", ref="s1")
    [hit] = answer["results"]
    start, end = hit["snippet"]["highlights"][0]
    assert hit["seq"] == 1 and hit["snippet"]["text"][start:end] == "東京"
    await socket.send({"type": "history", "conversation": direct.pk, "around": hit["seq"], "ref": "h1"})
    around = await socket.expect("history", ref="h1")
    assert [event["seq"] for event in around["events"]] == [1] and around["has_newer"] is False
    await socket.send({"type": "search", "q": "東京", "count": "exact", "ref": "s3"})
    assert (await socket.expect("search", ref="s3"))["total"] == {"count": 1, "exact": True}
    await socket.send({"type": "search", "q": "x" * 10_000, "ref": "s2"})
    error = await socket.expect("error", ref="s2")
    assert error["code"] == "too_large"


def test_the_indexer_thread_indexes_new_messages_without_a_search(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    with override_settings(MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS=0.05):
        try:
            send(alice, direct.pk, "indexed in the background")
            deadline = time.monotonic() + 10
            while not SearchEntry.objects.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            indexer.stop()
    assert SearchEntry.objects.filter(text=" indexed in the background ").exists()


def search_answer(user: Any, **params: Any) -> tuple[int, dict[str, Any]]:
    response = client_of(user).get("/messages/api/search", params)
    return response.status_code, response.json()


@override_settings(MESSAGING_SEARCH_MAX_QUERY_LENGTH=10)
def test_a_query_at_the_length_limit_is_searched_and_one_over_it_names_the_setting(alice: Any) -> None:
    assert search_answer(alice, q="abcdefghij")[0] == 200
    status, body = search_answer(alice, q="abcdefghijk")
    assert (status, body["code"], body["detail"]) == (413, "too_large", "the query is over 10 characters")
    assert (body["setting"], body["limit"]) == ("MESSAGING_SEARCH_MAX_QUERY_LENGTH", 10)


@override_settings(MESSAGING_SEARCH_MAX_TERMS=3)
def test_words_senders_and_conversations_all_count_as_terms_up_to_the_limit(alice: Any, bob: Any) -> None:
    conversations.get_or_create_direct(alice, bob)
    assert search_answer(alice, q="one from:bob in:bob")[0] == 200
    status, body = search_answer(alice, q="one two from:bob in:bob")
    assert (status, body["code"], body["detail"]) == (413, "too_large", "the query has 4 terms; at most 3")
    assert (body["setting"], body["limit"]) == ("MESSAGING_SEARCH_MAX_TERMS", 3)


def test_an_empty_query_says_what_can_be_searched(alice: Any) -> None:
    status, body = search_answer(alice, q="   ")
    assert (status, body["code"]) == (400, "invalid_frame")
    assert body["detail"] == 'type something to search for: words, "a phrase", from:someone, in:a-conversation'


def test_a_query_the_parser_refuses_answers_the_parser_s_reason(alice: Any) -> None:
    with pytest.raises(QueryError) as refused:
        parse("before:yesterday", me="alice", time_zone="UTC")
    status, body = search_answer(alice, q="before:yesterday")
    assert (status, body["detail"]) == (400, str(refused.value))


def test_an_empty_cursor_is_the_first_page(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "lantern")
    assert [hit.seq for hit in search_store.search(bob, "lantern", cursor="").hits] == [1]


@pytest.mark.parametrize(
    ("options", "detail"),
    [
        ({"sort": "random"}, "'sort' must be one of newest, relevance"),
        ({"count": "roughly"}, "'count' must be one of estimate, exact"),
        ({"limit": 0}, f"'limit' must be from 1 to {search_store.MAX_PAGE}"),
        ({"limit": search_store.MAX_PAGE + 1}, f"'limit' must be from 1 to {search_store.MAX_PAGE}"),
        ({"force_plan": "sender"}, "the sender plan needs from:"),
    ],
)
def test_the_store_itself_refuses_options_the_wire_never_lets_through(
    alice: Any, options: dict[str, Any], detail: str
) -> None:
    # The frame validator checks these first; the store still does, for every other caller.
    with pytest.raises(Invalid) as refused:
        search_store.search(alice, "lantern", **options)
    assert refused.value.detail == detail


@pytest.mark.parametrize(
    ("raw", "sort"),
    [
        ("n:5", "relevance"),  # a newest-first cursor given to a relevance search
        ("r:1.000:5", "newest"),  # and the other way round
        ("n:5:6", "newest"),
        ("r:1.000", "relevance"),
        ("r:1.000:5:6", "relevance"),
        ("x:5", "newest"),
    ],
)
def test_a_cursor_not_made_for_this_sort_is_refused_with_what_to_pass(alice: Any, raw: str, sort: str) -> None:
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    status, body = search_answer(alice, q="lantern", sort=sort, cursor=cursor)
    assert (status, body["code"]) == (400, "invalid_frame")
    assert body["detail"] == "'cursor' is not one this server gave for this sort: pass the 'next' of the previous page"


def test_relevance_pages_by_cursor_in_the_order_of_one_long_page(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    # equal texts score the same: the cursor must carry the tie-break (newest first) too
    for text in ["test", "a test of tests", "test", "testing the tester", "the test run", "test", "contest"]:
        send(alice, direct.pk, text)
    whole = search_answer(bob, q="test", sort="relevance")[1]["results"]
    assert len(whole) == 7
    paged, cursor = [], None
    while True:
        params: dict[str, Any] = {"q": "test", "sort": "relevance", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        body = search_answer(bob, **params)[1]
        paged += body["results"]
        cursor = body["next"]
        if not cursor:
            break
    assert [(hit["seq"], hit["score"]) for hit in paged] == [(hit["seq"], hit["score"]) for hit in whole]


@pytest.mark.parametrize(("zone", "day"), [("UTC", "2026-06-01"), ("Pacific/Kiritimati", "2026-06-02")])
def test_dates_are_days_of_the_searcher_s_own_time_zone(alice: Any, bob: Any, zone: str, day: str) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "solstice plans")
    noon_utc = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)  # 02:00 the next day at UTC+14
    Event.objects.filter(conversation_id=direct.pk).update(created_at=noon_utc)
    search_store.index.drain_all()
    SearchEntry.objects.filter(conversation_id=direct.pk).update(created_at=noon_utc)
    NotificationPreference.objects.update_or_create(user=bob, defaults={"timezone": zone})

    def found(q: str) -> int:
        return len(search_answer(bob, q=q)[1]["results"])

    days = ["2026-05-31", "2026-06-01", "2026-06-02", "2026-06-03"]
    assert {d: found(f"solstice on:{d}") for d in days} == {d: int(d == day) for d in days}


def test_from_and_in_together_find_only_that_sender_in_those_conversations(alice: Any, bob: Any, carol: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    group = make_group(alice, [bob, carol], title="Ops Team")
    send(alice, direct.pk, "deploy from alice direct")
    send(carol, group, "deploy from carol group")
    send(alice, group, "deploy from alice group")

    def texts(q: str) -> list[str]:
        return [hit["snippet"]["text"] for hit in search_answer(bob, q=q)[1]["results"]]

    assert texts("deploy from:carol in:alice") == []
    assert texts("deploy from:alice in:alice") == ["deploy from alice direct"]
    assert texts('deploy from:alice in:"ops team"') == ["deploy from alice group"]
    assert texts('deploy in:alice in:"ops team"') == [
        "deploy from alice group",
        "deploy from carol group",
        "deploy from alice direct",
    ]


def test_from_finds_a_username_whatever_its_case(alice: Any, django_user_model: Any) -> None:
    who = django_user_model.objects.create_user("DrWho", password="x")
    direct, _ = conversations.get_or_create_direct(alice, who)
    send(who, direct.pk, "tardis parked")
    status, body = search_answer(alice, q="tardis from:drwho")
    assert status == 200 and [hit["sender"] for hit in body["results"]] == ["DrWho"] and body["warnings"] == []


@pytest.mark.parametrize(
    ("q", "warning"),
    [
        ("deploy from:nobody", "from:nobody: there is no one called 'nobody'"),
        ("deploy in:nowhere", "in:nowhere: none of your conversations is called that"),
        ("deploy after:2026-06-02 before:2026-06-02", "the dates leave no time between after: and before:"),
    ],
)
def test_a_filter_that_matches_nothing_finds_nothing_and_says_why(alice: Any, bob: Any, q: str, warning: str) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "deploy today")
    status, body = search_answer(bob, q=q)
    assert (status, body["results"], body["warnings"]) == (200, [], [warning])


def test_one_unknown_sender_among_known_ones_is_warned_about_and_the_rest_searched(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "deploy today")
    body = search_answer(bob, q="deploy from:alice from:nobody")[1]
    assert [hit["sender"] for hit in body["results"]] == ["alice"]
    assert body["warnings"] == ["from:nobody: there is no one called 'nobody'"]


def test_in_names_a_conversation_by_its_id_by_at_username_or_by_username(alice: Any, bob: Any, carol: Any) -> None:
    with_alice, _ = conversations.get_or_create_direct(alice, bob)
    with_carol, _ = conversations.get_or_create_direct(carol, bob)
    send(alice, with_alice.pk, "deploy alice")
    send(carol, with_carol.pk, "deploy carol")

    def texts(q: str) -> list[str]:
        return [hit["snippet"]["text"] for hit in search_answer(bob, q=q)[1]["results"]]

    assert texts(f"deploy in:{with_alice.pk}") == ["deploy alice"]
    assert texts("deploy in:@carol") == ["deploy carol"]
    assert texts("deploy in:Carol") == ["deploy carol"]


@pytest.mark.parametrize("name", ["bob", "carol"])
def test_in_never_names_the_searcher_nor_someone_they_have_no_direct_chat_with(
    alice: Any, bob: Any, carol: Any, name: str
) -> None:
    # bob's own name would otherwise name every direct chat he is in; carol's names alice's chat with her
    conversations.get_or_create_direct(alice, bob)
    theirs, _ = conversations.get_or_create_direct(alice, carol)
    send(alice, theirs.pk, "deploy")
    body = search_answer(bob, q=f"deploy in:{name}")[1]
    assert (body["results"], body["warnings"]) == ([], [f"in:{name}: none of your conversations is called that"])


def test_a_group_hit_names_the_group_by_its_title_and_no_peer(alice: Any, bob: Any, carol: Any) -> None:
    group = make_group(alice, [bob, carol], title="Lantern club")
    send(alice, group, "the lantern is lit")
    page = search_store.search(bob, "lantern")
    assert [(c.id, c.kind, c.title, c.peer) for c in page.conversations] == [(group, "group", "Lantern club", None)]


def test_a_search_whose_catch_up_indexing_fails_still_answers_and_records_why(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from messaging.models import MessagingError
    from messaging.store.search import index

    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "a lantern")
    index.drain_all()
    send(alice, direct.pk, "another lantern")  # still queued when bob searches

    def refused(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("database is locked")

    monkeypatch.setattr(index, "drain", refused)
    assert [hit.seq for hit in search_store.search(bob, "lantern").hits] == [1]
    [row] = MessagingError.objects.all()
    assert (row.category, row.message, row.context["exception"]) == (
        "database_error",
        "a search could not index the queued messages",
        "OperationalError: database is locked",
    )


@pytest.mark.parametrize("plan", ["member", "index"])
@pytest.mark.parametrize(
    ("wanted", "other", "query"),
    [
        ("the lantern is lit", "the lantern went out", "lit lantern"),  # two words, in any order
        ('a 27"screen for sale', "a 27 inch screen", '27"screen'),  # a double quote inside a word
    ],
)
def test_a_search_finds_the_message_holding_every_needle_on_each_plan(
    alice: Any, bob: Any, plan: str, wanted: str, other: str, query: str
) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, wanted)
    send(alice, direct.pk, other)
    assert [hit.seq for hit in search_store.search(bob, query, force_plan=plan).hits] == [1]


def test_a_search_from_two_people_finds_the_messages_of_both(alice: Any, bob: Any, carol: Any) -> None:
    group = make_group(alice, [bob, carol])
    send(alice, group, "lantern from alice")
    send(bob, group, "lantern from bob")
    send(carol, group, "lantern from carol")
    found = search_store.search(alice, "from:bob from:carol lantern").hits
    assert sorted(hit.sender for hit in found) == ["bob", "carol"]


@pytest.mark.parametrize("sort", ["newest", "relevance"])
def test_a_search_with_exactly_a_page_of_hits_has_no_next_page(alice: Any, bob: Any, sort: str) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "lantern one")
    send(alice, direct.pk, "lantern two")
    page = search_store.search(bob, "lantern", limit=2, sort=sort)
    assert (len(page.hits), page.next) == (2, None)
    assert page.total.count == 2 and page.total.exact


def test_hits_that_score_the_same_come_newest_first_whatever_their_conversation(
    alice: Any, bob: Any, carol: Any
) -> None:
    older, _ = conversations.get_or_create_direct(alice, bob)
    newer, _ = conversations.get_or_create_direct(alice, carol)
    send(carol, newer.pk, "lantern")  # the older message, in the newer conversation
    send(bob, older.pk, "lantern")
    found = search_store.search(alice, "lantern", sort="relevance").hits
    assert [(hit.conversation_id, hit.sender) for hit in found] == [(older.pk, "bob"), (newer.pk, "carol")]


def test_a_hits_time_is_the_moment_its_message_was_stored_with_its_zone(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    seq = send(alice, direct.pk, "the launch is at noon")
    stored = Event.objects.get(conversation_id=direct.pk, seq=seq).created_at

    (hit,) = search_store.search(bob, "launch").hits

    assert hit.created_at == stored and hit.created_at.utcoffset() == datetime.timedelta(0)


def test_an_exact_count_of_a_search_nothing_matches_is_zero(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "release notes")

    page = search_store.search(bob, "nowhere", count="exact")

    assert (page.hits, page.next, page.total) == ([], None, search_store.Total(0, True))


def test_in_and_from_at_a_username_keep_every_letter_of_the_name(bob: Any, make_user: Any) -> None:
    xavier = make_user("Xavier")
    direct, _ = conversations.get_or_create_direct(xavier, bob)
    send(xavier, direct.pk, "deploy done")

    assert [hit.seq for hit in search_store.search(bob, "deploy in:@Xavier").hits] == [1]
    assert [hit.seq for hit in search_store.search(bob, "deploy from:@Xavier").hits] == [1]


def test_relevance_ranks_only_the_newest_matches_of_its_window(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_store, "RANK_WINDOW", 2)
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "run the test now")  # the best match, but the oldest
    send(alice, direct.pk, "testing again")
    send(alice, direct.pk, "the latest build")

    page = search_store.search(bob, "test", sort="relevance")

    assert [hit.seq for hit in page.hits] == [2, 3]


def test_relevance_pages_of_a_search_without_words_give_every_hit_once(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    for n in range(3):
        send(alice, direct.pk, f"note {n}")

    seqs, cursor = [], None
    for _ in range(4):
        page = search_store.search(bob, "from:alice", sort="relevance", limit=2, cursor=cursor)
        seqs += [hit.seq for hit in page.hits]
        cursor = page.next
        if cursor is None:
            break

    assert seqs == [3, 2, 1]


def test_a_hit_whose_message_is_gone_since_its_entry_was_read_is_left_out_and_the_rest_kept(
    alice: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "deploy one")
    send(alice, direct.pk, "deploy two")
    read = search_store._rows

    def rows_then_purged(*args: Any) -> list[tuple[Any, ...]]:
        rows = read(*args)
        gone = rows[0]
        Event.objects.filter(pk=gone[0]).delete()  # purged between the index read and the content read
        return rows

    monkeypatch.setattr(search_store, "_rows", rows_then_purged)

    assert [hit.seq for hit in search_store.search(bob, "deploy").hits] == [1]
