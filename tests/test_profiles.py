"""Profiles (issue 17): a user's display name, status line and avatar, changed only by them, shown to who shares a conversation.

Avatars are stored through the attachments' storage: a folder here on the
embedded default, the stack's S3 bucket on the deployment stack
(``media_storage``).
"""

from __future__ import annotations

import io
import json

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from PIL import Image

from messaging import conf
from messaging.models import Profile
from messaging.notify.webpush import payload_for
from messaging.store import conversations
from tests import files
from tests.support import on_s3

pytestmark = [pytest.mark.django_db(transaction=True)]


def signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/settings/")  # the CSRF cookie, as the settings page sets it
    return client


def csrf(client: Client) -> dict[str, str]:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def update(client: Client, body: dict):
    return client.post("/messages/api/profile", data=json.dumps(body), content_type="application/json", **csrf(client))


def upload_avatar(client: Client, name: str, data: bytes, content_type: str):
    return client.post(
        "/messages/api/profile/avatar",
        data={"avatar": SimpleUploadedFile(name, data, content_type=content_type)},
        **csrf(client),
    )


def send(client: Client, conversation_id: int) -> None:
    response = client.post(
        f"/messages/api/conversations/{conversation_id}/messages",
        data=json.dumps({"content": "hi", "client_id": "c1"}),
        content_type="application/json",
        **csrf(client),
    )
    assert response.status_code == 201


def profile_of(user) -> Profile:
    return Profile.for_user(user.pk)


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == "error" and body["code"] == code


# --- Display name and status line --------------------------------------------------------


def test_a_display_name_is_trimmed_and_answered_as_the_profile(alice) -> None:
    response = update(signed_in(alice), {"display_name": "  Alice Liddell \t", "status": " In Wonderland "})
    assert response.status_code == 200
    assert response.json()["profile"] == {
        "username": "alice",
        "display_name": "Alice Liddell",
        "avatar": None,
        "status": "In Wonderland",
    }
    assert (profile_of(alice).display_name, profile_of(alice).status_line) == ("Alice Liddell", "In Wonderland")


def test_an_empty_display_name_clears_it_back_to_the_username(alice) -> None:
    client = signed_in(alice)
    update(client, {"display_name": "Alice"})
    assert update(client, {"display_name": ""}).json()["profile"]["display_name"] is None


@override_settings(MESSAGING_MAX_DISPLAY_NAME_LENGTH=10)
def test_a_display_name_over_the_limit_is_refused_and_nothing_changes(alice) -> None:
    client = signed_in(alice)
    update(client, {"display_name": "Alice"})
    response = update(client, {"display_name": "A" * 11, "status": "changed too?"})
    assert_refused(response, 413, "too_large")
    assert (response.json()["limit"], response.json()["setting"]) == (10, "MESSAGING_MAX_DISPLAY_NAME_LENGTH")
    assert (profile_of(alice).display_name, profile_of(alice).status_line) == ("Alice", "")


def test_a_display_name_of_spaces_only_is_refused(alice) -> None:
    assert_refused(update(signed_in(alice), {"display_name": "   \u3000 "}), 400, "invalid_frame")
    assert profile_of(alice).display_name == ""


def test_a_display_name_of_invisible_characters_only_is_refused(alice) -> None:
    assert_refused(update(signed_in(alice), {"display_name": "\u200b\u200b"}), 400, "invalid_frame")


def test_a_display_name_with_a_line_break_or_control_character_is_refused(alice) -> None:
    client = signed_in(alice)
    assert_refused(update(client, {"display_name": "Alice\nAdmin"}), 400, "invalid_frame")
    assert_refused(update(client, {"display_name": "Alice\x07"}), 400, "invalid_frame")


def test_a_display_name_that_is_not_a_string_is_refused(alice) -> None:
    assert_refused(update(signed_in(alice), {"display_name": ["Alice"]}), 400, "invalid_frame")


def test_markup_in_a_display_name_is_kept_as_text(alice) -> None:
    response = update(signed_in(alice), {"display_name": "<img src=x onerror=alert(1)>"})
    assert response.json()["profile"]["display_name"] == "<img src=x onerror=alert(1)>"


@override_settings(MESSAGING_MAX_STATUS_LENGTH=20)
def test_a_status_line_over_the_limit_is_refused(alice) -> None:
    response = update(signed_in(alice), {"status": "x" * 21})
    assert_refused(response, 413, "too_large")
    assert (response.json()["field"], response.json()["setting"]) == ("status", "MESSAGING_MAX_STATUS_LENGTH")


def test_a_body_naming_another_user_is_refused_and_changes_no_one(alice, bob) -> None:
    response = update(signed_in(alice), {"username": "bob", "display_name": "Mallory"})
    assert_refused(response, 400, "invalid_frame")
    assert profile_of(bob).display_name == "" and profile_of(alice).display_name == ""


def test_an_anonymous_profile_change_is_refused(alice) -> None:
    client = Client()
    response = client.post(
        "/messages/api/profile", data=json.dumps({"display_name": "x"}), content_type="application/json"
    )
    assert_refused(response, 403, "forbidden")


def test_a_profile_change_without_the_csrf_token_is_refused(alice) -> None:
    client = signed_in(alice)
    response = client.post(
        "/messages/api/profile", data=json.dumps({"display_name": "x"}), content_type="application/json"
    )
    assert response.status_code == 403
    assert profile_of(alice).display_name == ""


@override_settings(MESSAGING_PROFILE_RATE_LIMIT="2/60s")
def test_profile_changes_beyond_the_rate_limit_are_refused_and_change_nothing(alice) -> None:
    client = signed_in(alice)
    assert update(client, {"display_name": "Alice"}).status_code == 200
    assert update(client, {"display_name": "Alice L."}).status_code == 200
    refused = update(client, {"display_name": "Alice Liddell"})
    assert_refused(refused, 429, "profile_rate_limited")
    assert refused.json()["retry_after"] > 0
    assert profile_of(alice).display_name == "Alice L."


@override_settings(MESSAGING_PROFILE_RATE_LIMIT="1/60s")
def test_an_avatar_upload_beyond_the_rate_limit_is_refused_and_nothing_is_stored(alice, media_storage) -> None:
    client = signed_in(alice)
    assert update(client, {"status": "here"}).status_code == 200  # the one change the limit allows
    assert_refused(upload_avatar(client, "me.png", files.png(64, 64), "image/png"), 429, "profile_rate_limited")
    assert_refused(client.post("/messages/api/profile/avatar/remove", **csrf(client)), 429, "profile_rate_limited")
    assert media_storage.names("avatars") == set()
    assert profile_of(alice).avatar_name == ""


def test_a_length_setting_beyond_its_column_is_a_configuration_error() -> None:
    with (
        override_settings(MESSAGING_MAX_DISPLAY_NAME_LENGTH=conf.DISPLAY_NAME_CEILING + 1),
        pytest.raises(ImproperlyConfigured),
    ):
        conf.profile_limits()


# --- Avatars ------------------------------------------------------------------------------


def test_an_avatar_is_stored_as_a_256_pixel_square_of_the_pictures_centre(alice, media_storage) -> None:
    response = upload_avatar(signed_in(alice), "me.jpg", files.jpeg(400, 200), "image/jpeg")
    assert response.status_code == 201, response.content
    url = response.json()["profile"]["avatar"]
    name = profile_of(alice).avatar_name
    assert url == f"/avatars/{alice.pk}/{name.rsplit('/', 1)[1]}"
    with Image.open(io.BytesIO(media_storage.read(name))) as stored:
        assert (stored.format, stored.size) == ("WEBP", (256, 256))


def test_an_avatar_url_serves_the_picture_without_sign_in(alice, media_storage) -> None:
    url = upload_avatar(signed_in(alice), "me.png", files.png(300, 300), "image/png").json()["profile"]["avatar"]
    response = Client().get(url)
    if on_s3():
        assert response.status_code == 302 and "X-Amz-Signature" in response["Location"]
    else:
        assert response.status_code == 200 and response["Content-Type"] == "image/webp"
        assert Image.open(io.BytesIO(response.content)).size == (256, 256)


def test_a_new_avatar_deletes_the_old_file_and_its_url_stops_working(alice, media_storage) -> None:
    client = signed_in(alice)
    first = upload_avatar(client, "a.png", files.png(), "image/png").json()["profile"]["avatar"]
    old_name = profile_of(alice).avatar_name
    second = upload_avatar(client, "b.webp", files.webp(), "image/webp").json()["profile"]["avatar"]
    assert first != second
    assert not media_storage.storage.exists(old_name)
    assert Client().get(first).status_code == 404


def test_removing_the_avatar_goes_back_to_the_letter_avatar(alice, media_storage) -> None:
    client = signed_in(alice)
    upload_avatar(client, "a.png", files.png(), "image/png")
    name = profile_of(alice).avatar_name
    response = client.post("/messages/api/profile/avatar/remove", **csrf(client))
    assert response.json()["profile"]["avatar"] is None
    assert not media_storage.storage.exists(name)


@pytest.mark.parametrize(
    ("name", "data", "content_type", "status", "code"),
    [
        ("notes.pdf", files.pdf(), "application/pdf", 415, "unsupported_media_type"),
        ("me.png", files.elf_executable(), "image/png", 415, "unsupported_media_type"),
        ("me.png", files.zip_bomb(), "image/png", 415, "unsupported_media_type"),
        ("huge.png", files.png_claiming(60000, 60000), "image/png", 413, "too_many_pixels"),
        ("cut.jpg", files.truncated(files.jpeg(200, 200)), "image/jpeg", 422, "invalid_file"),
        ("empty.png", b"", "image/png", 422, "invalid_file"),
    ],
    ids=["not-an-image", "executable-named-png", "zip-bomb", "decompression-bomb", "truncated", "empty"],
)
def test_a_bad_avatar_is_refused_with_its_code_and_nothing_is_stored(
    alice, media_storage, name, data, content_type, status, code
) -> None:
    assert_refused(upload_avatar(signed_in(alice), name, data, content_type), status, code)
    assert profile_of(alice).avatar_name == ""
    assert media_storage.names("avatars") == set()


@override_settings(MESSAGING_MAX_AVATAR_BYTES=2000)
def test_an_avatar_over_the_byte_limit_is_refused_while_it_streams_in(alice, media_storage) -> None:
    response = upload_avatar(signed_in(alice), "big.jpg", files.noisy_jpeg(300, 300), "image/jpeg")
    assert_refused(response, 413, "too_large")
    assert (response.json()["limit"], response.json()["setting"]) == (2000, "MESSAGING_MAX_AVATAR_BYTES")
    assert profile_of(alice).avatar_name == "" and media_storage.names("avatars") == set()


def test_an_avatar_upload_without_the_csrf_token_is_refused(alice, media_storage) -> None:
    client = signed_in(alice)
    response = client.post("/messages/api/profile/avatar", data={"avatar": SimpleUploadedFile("a.png", files.png())})
    assert response.status_code == 403
    assert profile_of(alice).avatar_name == ""


# --- Shown to others ------------------------------------------------------------------------


def test_the_profile_card_shows_a_person_and_links_to_their_chat(alice, bob) -> None:
    update(signed_in(bob), {"display_name": "Bob B.", "status": "on call"})
    person = signed_in(alice).get("/messages/api/people/bob").json()["person"]
    assert person["display_name"] == "Bob B." and person["status"] == "on call"
    assert person["url"] == "/messages/bob/" and person["online"] is False


def test_a_deactivated_persons_card_is_not_found(alice, bob) -> None:
    bob.is_active = False
    bob.save()
    assert_refused(signed_in(alice).get("/messages/api/people/bob"), 404, "not_found")


def test_people_search_finds_a_person_by_display_name_and_shows_it(alice, bob) -> None:
    update(signed_in(bob), {"display_name": "Robert Paulson"})
    users = signed_in(alice).get("/messages/api/users?q=paulson").json()["users"]
    assert [(u["username"], u["display_name"]) for u in users] == [("bob", "Robert Paulson")]


def test_the_inbox_row_of_a_direct_conversation_carries_the_peers_identity(alice, bob, media_storage) -> None:
    client = signed_in(bob)
    update(client, {"display_name": "Bob B."})
    avatar = upload_avatar(client, "b.png", files.png(), "image/png").json()["profile"]["avatar"]
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    send(client, conversation.pk)
    rows = signed_in(alice).get("/messages/api/conversations").json()["conversations"]
    assert rows[0]["peer"]["display_name"] == "Bob B." and rows[0]["peer"]["avatar"] == avatar


def test_a_web_push_names_the_sender_by_display_name_with_their_avatar_as_icon(alice, bob, media_storage) -> None:
    client = signed_in(bob)
    update(client, {"display_name": "Bob B."})
    avatar = upload_avatar(client, "b.png", files.png(), "image/png").json()["profile"]["avatar"]
    conversation, _ = conversations.get_or_create_direct(alice, bob)
    send(client, conversation.pk)
    from messaging.models import Notification

    notification = Notification.objects.select_related("message__sender").get(user=alice)
    payload = payload_for(notification, hide_content=False)
    assert payload["title"] == "New message from Bob B." and payload["icon"] == avatar


async def test_a_profile_change_reaches_who_shares_a_conversation_and_no_one_else(
    alice, bob, carol, user_socket
) -> None:
    await database_sync_to_async(conversations.get_or_create_direct)(alice, bob)
    bobs, carols, alices = await user_socket(bob), await user_socket(carol), await user_socket(alice)
    await database_sync_to_async(lambda: update(signed_in(alice), {"display_name": "Alice L.", "status": "hi"}))()
    expected = {"username": "alice", "display_name": "Alice L.", "avatar": None, "status": "hi"}
    assert (await bobs.expect("profile"))["user"] == expected
    assert (await alices.expect("profile"))["user"] == expected  # her other tabs
    assert all(frame["type"] != "profile" for frame in await carols.drain())
    for socket in (bobs, carols, alices):
        await socket.close()


async def test_a_reconnecting_socket_reads_the_identity_from_connected(alice, user_socket) -> None:
    await database_sync_to_async(lambda: update(signed_in(alice), {"display_name": "Alice L."}))()
    socket = await user_socket(alice)
    assert socket.connected["user"]["display_name"] == "Alice L."
    await socket.close()


def test_deleting_a_user_deletes_their_avatar_file(alice, media_storage) -> None:
    upload_avatar(signed_in(alice), "a.png", files.png(), "image/png")
    name = profile_of(alice).avatar_name
    assert media_storage.storage.exists(name)
    alice.delete()
    assert not media_storage.storage.exists(name)


# --- Who is told of a change, and who is found (store.profiles.audience, store.users.search_users) ---


def test_a_profile_change_is_told_to_the_current_members_of_the_users_current_conversations(
    alice, bob, carol, make_user
) -> None:
    from messaging.store.profiles import audience
    from tests.groups import make_group, new_client_id

    dave, erin, fay, gus = (make_user(name) for name in ("dave", "erin", "fay", "gus"))
    conversations.get_or_create_direct(alice, bob)
    group = make_group(alice, [carol, erin])
    conversations.leave(erin, group, new_client_id())  # left: no longer told
    old = make_group(fay, [alice])
    conversations.leave(alice, old, new_client_id())  # alice left fay's group: fay is no longer told
    conversations.get_or_create_direct(dave, gus)  # strangers to alice
    assert audience(alice.pk) == sorted([alice.pk, bob.pk, carol.pk])


def test_people_search_finds_active_others_by_name_or_display_name_username_prefixes_first(alice, make_user) -> None:
    from messaging.store.users import search_users

    for name in ("annabel", "joanna", "hannah", "anna_gone", "zed"):
        make_user(name)
    type(alice).objects.filter(username="anna_gone").update(is_active=False)
    Profile.for_user(type(alice).objects.get(username="zed").pk)
    Profile.objects.filter(user__username="zed").update(display_name="Anna Z")
    found = [u.username for u in search_users(alice, " ann ", 10)]
    assert found == ["annabel", "hannah", "joanna", "zed"]
    assert [u.username for u in search_users(alice, "ann", 2)] == ["annabel", "hannah"]
    assert search_users(alice, "alice", 10) == [] and search_users(alice, "  ", 10) == []


def test_an_identity_change_is_stored_timed_and_handed_back(alice) -> None:
    from django.utils import timezone

    from messaging.store.profiles import update_identity

    before = timezone.now()
    changed = update_identity(alice.pk, display_name="Alice L.")
    stored = Profile.objects.get(user=alice)
    assert (changed.profile.pk, changed.profile.display_name) == (stored.pk, "Alice L.")
    assert stored.identity_changed_at is not None and stored.identity_changed_at >= before
    update_identity(alice.pk, status_line="Away")
    assert (Profile.objects.get(user=alice).display_name, Profile.objects.get(user=alice).status_line) == (
        "Alice L.",
        "Away",
    )


def test_a_new_avatar_hands_back_the_file_it_replaces_and_times_the_change(alice) -> None:
    from messaging.store.profiles import set_avatar

    set_avatar(alice.pk, "avatars/1/first.webp")
    changed = set_avatar(alice.pk, "avatars/1/second.webp")
    assert (changed.profile.avatar_name, changed.released_avatar) == ("avatars/1/second.webp", "avatars/1/first.webp")
    assert Profile.objects.get(user=alice).identity_changed_at is not None


def test_an_avatar_file_belongs_to_whoever_has_it_now_and_no_name_to_no_one(alice, bob) -> None:
    from messaging.store.errors import NotFound
    from messaging.store.profiles import avatar_owner, set_avatar

    set_avatar(alice.pk, "avatars/1/old.webp")
    set_avatar(alice.pk, "avatars/1/new.webp")
    Profile.for_user(bob.pk)  # bob has the letter avatar: an empty name
    assert avatar_owner("avatars/1/new.webp") == alice.pk
    for name in ("avatars/1/old.webp", ""):
        with pytest.raises(NotFound) as refused:
            avatar_owner(name)
        assert str(refused.value) == "no such avatar"


def test_an_active_user_is_read_with_their_profile_and_anyone_else_is_not_found(alice, bob) -> None:
    from messaging.store.errors import NotFound
    from messaging.store.profiles import active_user_with_profile, profile_loaded

    assert profile_loaded(active_user_with_profile("alice"))
    type(bob).objects.filter(pk=bob.pk).update(is_active=False)
    for name in ("bob", "nobody"):
        with pytest.raises(NotFound) as refused:
            active_user_with_profile(name)
        assert str(refused.value) == f"there is no one called {name!r}"
