"""Who may read an attachment, on every request: the membership window of its message, for every role."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from messaging.models import Attachment, Event
from messaging.ops.archive import archive
from messaging.store import attachments as attachment_store
from messaging.store import conversations, errors
from tests import files
from tests.support import on_s3
from tests.test_attachments_http import body, fetch, send, signed_in, upload

pytestmark = [pytest.mark.django_db(transaction=True)]

MAX = 256


@pytest.fixture
def group(make_user):
    """alice (owner), bob and carol in a group; dave outside it."""
    users = {name: make_user(name) for name in ("alice", "bob", "carol", "dave")}
    change = conversations.create_group(users["alice"], "trip", ["bob", "carol"], "g1", max_members=MAX)
    return users, change.conversation.pk


def sent_file(client, conversation_id, *, name="plan.pdf", data=None, client_id="m1") -> dict:
    item = upload(client, conversation_id, (name, data or files.pdf(), "application/pdf")).json()["attachments"][0]
    assert send(client, conversation_id, [item["id"]], client_id=client_id).status_code == 201
    return item


def status_of(client, url: str) -> int:
    response = client.get(url)
    return response.status_code


def test_every_current_member_may_download_and_an_outsider_gets_404(group, media_storage) -> None:
    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation)
    for name in ("alice", "bob", "carol"):
        assert status_of(signed_in(users[name]), item["url"]) in (200, 302), name
    response = signed_in(users["dave"]).get(item["url"])
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_an_anonymous_download_is_refused(group, media_storage) -> None:
    from django.test import Client

    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation)
    assert Client().get(item["url"]).status_code == 403


def test_a_removed_member_keeps_earlier_files_and_never_gets_later_ones(group, media_storage) -> None:
    users, conversation = group
    alice = signed_in(users["alice"])
    before = sent_file(alice, conversation, client_id="m1")
    conversations.remove_member(users["alice"], conversation, "carol", "r1")
    after = sent_file(alice, conversation, client_id="m2")
    carol = signed_in(users["carol"])
    assert status_of(carol, before["url"]) in (200, 302)
    assert status_of(carol, after["url"]) == 404
    assert status_of(carol, after["url"].rstrip("/") + "/../thumbnail") in (404,)


def test_a_member_added_later_does_not_see_files_sent_before_they_joined(group, media_storage) -> None:
    users, conversation = group
    alice = signed_in(users["alice"])
    earlier = sent_file(alice, conversation, client_id="m1")
    conversations.add_members(users["alice"], conversation, ["dave"], "a1", max_members=MAX)
    later = sent_file(alice, conversation, client_id="m2")
    dave = signed_in(users["dave"])
    assert status_of(dave, earlier["url"]) == 404
    assert status_of(dave, later["url"]) in (200, 302)


def test_an_unsent_upload_is_its_uploaders_alone(group, media_storage) -> None:
    users, conversation = group
    item = upload(signed_in(users["alice"]), conversation, ("draft.txt", b"draft", "text/plain")).json()["attachments"][
        0
    ]
    assert status_of(signed_in(users["alice"]), item["url"]) in (200, 302)
    assert status_of(signed_in(users["bob"]), item["url"]) == 404


def test_a_removed_member_cannot_upload(group, media_storage) -> None:
    users, conversation = group
    conversations.remove_member(users["alice"], conversation, "carol", "r1")
    response = upload(signed_in(users["carol"]), conversation, ("x.txt", b"x", "text/plain"))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


@pytest.mark.skipif(on_s3(), reason="on S3 the bytes come from the bucket (presigned URL): tested in test_s3_download")
def test_downloads_are_sandboxed_and_only_allow_listed_images_are_inline(group, media_storage) -> None:
    users, conversation = group
    alice = signed_in(users["alice"])
    pdf = sent_file(alice, conversation, name="plan.pdf", client_id="m1")
    image = upload(alice, conversation, ("p.png", files.png(), "image/png")).json()["attachments"][0]
    svg = upload(
        alice,
        conversation,
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
    ).json()["attachments"][0]
    for item, disposition in ((pdf, "attachment"), (image, "inline"), (svg, "attachment")):
        response = alice.get(item["url"])
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith(disposition), item["type"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
    assert svg["type"] == "image/svg+xml" and svg["thumbnail_url"] is None


@pytest.mark.skipif(on_s3(), reason="on S3 the bucket answers ranges itself")
def test_a_range_request_gets_206_with_its_bytes_and_one_past_the_end_416(group, media_storage) -> None:
    users, conversation = group
    alice = signed_in(users["alice"])
    data = bytes(range(256)) * 40
    item = upload(alice, conversation, ("data.bin", data, "application/octet-stream")).json()["attachments"][0]
    whole = alice.get(item["url"])
    assert whole.status_code == 200 and body(whole) == data and whole["Accept-Ranges"] == "bytes"
    part = alice.get(item["url"], HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and body(part) == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}" and part["Content-Length"] == "100"
    tail = alice.get(item["url"], HTTP_RANGE="bytes=-10")
    assert body(tail) == data[-10:]
    beyond = alice.get(item["url"], HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(data)}"


@pytest.mark.skipif(on_s3(), reason="nginx serves from the file system")
def test_behind_nginx_the_download_hands_the_bytes_to_x_accel_redirect_after_the_check(group, media_storage) -> None:
    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation)
    row = Attachment.objects.get(pk=item["id"])
    with override_settings(MESSAGING_ATTACHMENT_ACCEL_PREFIX="/_attachments/"):
        response = signed_in(users["bob"]).get(item["url"])
        assert response.status_code == 200 and response.content == b""
        assert response["X-Accel-Redirect"] == "/_attachments/" + row.storage_name
        assert response["Content-Disposition"].startswith("attachment")
        assert signed_in(users["dave"]).get(item["url"]).status_code == 404


@pytest.mark.requires_s3
def test_on_s3_a_download_redirects_to_a_short_lived_presigned_url_after_the_check(group, media_storage) -> None:
    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation, data=files.pdf("on s3"))
    response = signed_in(users["bob"]).get(item["url"])
    assert response.status_code == 302 and "X-Amz-Signature=" in response["Location"]
    assert "X-Amz-Expires=60" in response["Location"]
    fetched = fetch(signed_in(users["bob"]), item["url"])
    assert fetched.content_bytes == files.pdf("on s3")
    assert fetched["Content-Disposition"].startswith("attachment") and fetched["Content-Type"] == "application/pdf"
    assert signed_in(users["dave"]).get(item["url"]).status_code == 404


def test_purging_a_deleted_message_removes_its_rows_and_files(group, media_storage) -> None:
    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation)
    row = Attachment.objects.get(pk=item["id"])
    assert row.storage_name in media_storage.names(f"attachments/{conversation}")
    assert attachment_store.purge_for_event(Event.objects.get(pk=row.event_id)) == 1
    assert not Attachment.objects.exists()
    assert media_storage.names(f"attachments/{conversation}") == set()
    assert status_of(signed_in(users["bob"]), item["url"]) == 404


def test_deleting_a_message_for_everyone_removes_its_files(group, media_storage) -> None:
    from messaging.store import message_actions

    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation)
    seq = Event.objects.get(pk=Attachment.objects.get(pk=item["id"]).event_id).seq
    message_actions.delete_message(users["alice"], conversation, seq, "del-1", window=None)
    assert not Attachment.objects.exists()
    assert media_storage.names(f"attachments/{conversation}") == set()
    assert status_of(signed_in(users["bob"]), item["url"]) == 404


def test_archiving_a_message_keeps_its_files(group, media_storage) -> None:
    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation)
    assert archive(Event.objects.filter(conversation_id=conversation)) >= 2
    assert Attachment.objects.filter(pk=item["id"]).exists()
    assert status_of(signed_in(users["bob"]), item["url"]) in (200, 302)


def test_uploads_no_message_claimed_are_purged_after_the_orphan_hours(group, media_storage) -> None:
    users, conversation = group
    alice = signed_in(users["alice"])
    old = upload(alice, conversation, ("old.txt", b"old", "text/plain")).json()["attachments"][0]
    sent = sent_file(alice, conversation, client_id="m1")
    fresh = upload(alice, conversation, ("new.txt", b"new", "text/plain")).json()["attachments"][0]
    long_ago = timezone.now() - datetime.timedelta(hours=25)
    Attachment.objects.filter(pk__in=[old["id"], sent["id"]]).update(created_at=long_ago)
    call_command("purge_orphan_uploads", verbosity=0)
    assert set(Attachment.objects.values_list("pk", flat=True)) == {sent["id"], fresh["id"]}
    assert len(media_storage.names(f"attachments/{conversation}")) == 2


def test_the_admin_lists_attachments_with_size_and_type_and_removing_one_removes_its_files(
    group, media_storage, staff_client
) -> None:
    users, conversation = group
    item = sent_file(signed_in(users["alice"]), conversation)
    page = staff_client.get("/admin/messaging/attachment/")
    assert page.status_code == 200 and b"plan.pdf" in page.content and b"application/pdf" in page.content
    response = staff_client.post(f"/admin/messaging/attachment/{item['id']}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    assert media_storage.names(f"attachments/{conversation}") == set()


# --- a message with files is stored under the same rules as any other ------------------------


def uploaded(user, conversation_id: int, name: str = "plan.pdf") -> int:
    response = upload(signed_in(user), conversation_id, (name, files.pdf(), "application/pdf"))
    return response.json()["attachments"][0]["id"]


def test_a_removed_member_cannot_send_a_file_they_uploaded_while_a_member(group, media_storage) -> None:
    from messaging.store import errors
    from messaging.store.events import create_message

    users, conversation = group
    conversations.get_or_create_direct(users["alice"], users["carol"])  # carol is still in another conversation
    kept = uploaded(users["carol"], conversation)
    conversations.remove_member(users["alice"], conversation, "carol", "r1")
    before = Event.objects.filter(conversation_id=conversation).count()
    with pytest.raises(errors.Forbidden):
        create_message(conversation, users["carol"], "", "c-late", attachments=(kept,))
    assert Event.objects.filter(conversation_id=conversation).count() == before


def test_a_client_id_another_sender_used_for_a_file_is_not_a_repeat(group, media_storage) -> None:
    from messaging.store.events import create_message

    users, conversation = group
    first = create_message(
        conversation, users["alice"], "", "same-id", attachments=(uploaded(users["alice"], conversation),)
    )
    second = create_message(
        conversation, users["bob"], "", "same-id", attachments=(uploaded(users["bob"], conversation),)
    )
    assert first.created and second.created and second.event.sender_id == users["bob"].pk


def test_a_message_with_files_keeps_what_it_replies_to_in_its_ack_and_its_history(group, media_storage) -> None:
    from messaging.models import Conversation
    from messaging.serializers import event_payload
    from messaging.store.events import create_message

    users, conversation = group
    original = create_message(conversation, users["bob"], "which plan?", "q1").event.seq
    reply = create_message(
        conversation,
        users["alice"],
        "this one",
        "a1",
        reply_to=original,
        attachments=(uploaded(users["alice"], conversation),),
    )
    assert reply.event.target_seq == original
    assert event_payload(reply.event)["reply_to"]["preview"] == "which plan?"
    assert reply.membership_seq == Conversation.objects.get(pk=conversation).membership_seq
    page = signed_in(users["carol"]).get(f"/messages/api/conversations/{conversation}/history").json()
    [shown] = [e for e in page["events"] if e["seq"] == reply.event.seq]
    assert shown["reply_to"]["seq"] == original and shown["data"]["attachments"]


def test_a_member_of_other_conversations_gets_404_for_a_file_of_one_they_are_not_in(group, media_storage) -> None:
    # dave has windows elsewhere that hold the file's seq: only this conversation's window counts
    from messaging.store.events import create_message

    users, conversation = group
    direct, _ = conversations.get_or_create_direct(users["dave"], users["bob"])
    for n in range(3):
        create_message(direct.pk, users["bob"], f"d{n}", f"d{n}")
    item = sent_file(signed_in(users["alice"]), conversation)
    with pytest.raises(errors.NotFound):
        attachment_store.readable(users["dave"].pk, item["id"])
    assert signed_in(users["dave"]).get(item["url"]).status_code == 404


def test_sending_one_upload_leaves_the_senders_other_uploads_waiting(group, media_storage) -> None:
    from messaging.store.events import create_message

    users, conversation = group
    sent, waiting = uploaded(users["alice"], conversation, "a.pdf"), uploaded(users["alice"], conversation, "b.pdf")
    create_message(conversation, users["alice"], "", "with-a", attachments=(sent,))
    assert Attachment.objects.get(pk=sent).event_id is not None
    assert Attachment.objects.get(pk=waiting).event_id is None


@override_settings(MESSAGING_MAX_FILES_PER_MESSAGE=2)
def test_a_message_may_carry_exactly_the_most_files_allowed(group, media_storage) -> None:
    from messaging.store.events import create_message

    users, conversation = group
    ids = (uploaded(users["alice"], conversation, "a.pdf"), uploaded(users["alice"], conversation, "b.pdf"))
    create_message(conversation, users["alice"], "", "two", attachments=ids)
    assert Attachment.objects.filter(pk__in=ids, event_id__isnull=False).count() == 2


def test_uploads_past_the_quota_count_what_is_stored_already_and_name_the_setting(group, media_storage) -> None:
    users, conversation = group
    first = attachment_store.StoredUpload("a.bin", "u/1", 600, "application/octet-stream")
    attachment_store.record_uploads(users["alice"].pk, conversation, [first], quota=1000)
    second = attachment_store.StoredUpload("b.bin", "u/2", 500, "application/octet-stream")
    with pytest.raises(errors.LimitExceeded) as refused:
        attachment_store.record_uploads(users["alice"].pk, conversation, [second], quota=1000)
    assert (str(refused.value), refused.value.setting, refused.value.limit) == (
        "these files would take your uploads past your quota of 1000 bytes",
        "MESSAGING_UPLOAD_QUOTA_BYTES",
        1000,
    )
    assert list(Attachment.objects.filter(uploader=users["alice"]).values_list("name", flat=True)) == ["a.bin"]


def test_someone_who_is_a_member_elsewhere_cannot_upload_to_a_conversation_they_are_not_in(
    group, media_storage
) -> None:
    users, conversation = group
    conversations.get_or_create_direct(users["dave"], users["bob"])  # dave has a conversation, not this one
    response = upload(signed_in(users["dave"]), conversation, ("plan.pdf", files.pdf(), "application/pdf"))
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    with pytest.raises(errors.NotFound):
        attachment_store.upload_allowance(users["dave"].pk, conversation, quota=10**9)
    assert not Attachment.objects.filter(uploader=users["dave"]).exists()


def test_an_upload_made_for_one_conversation_cannot_be_sent_in_another(group, media_storage) -> None:
    from messaging.store.events import create_message

    users, conversation = group
    direct, _ = conversations.get_or_create_direct(users["alice"], users["bob"])
    elsewhere = uploaded(users["alice"], direct.pk)
    with pytest.raises(errors.Invalid):
        create_message(conversation, users["alice"], "", "wrong-place", attachments=(elsewhere,))
    assert Attachment.objects.get(pk=elsewhere).event_id is None


def test_a_stored_file_that_cannot_be_deleted_is_recorded_and_the_others_still_go(media_storage) -> None:
    from unittest import mock

    from messaging.models import MessagingError

    deleted = []

    def delete(name: str) -> None:
        if name == "u/broken":
            raise OSError("disk gone")
        deleted.append(name)

    with mock.patch.object(attachment_store.storage, "delete", side_effect=delete):
        attachment_store.delete_files(["u/broken", "u/fine"])
    assert deleted == ["u/fine"]
    [row] = MessagingError.objects.all()
    assert (row.category, row.message, row.context["name"], row.context["exception"]) == (
        "storage_error",
        "could not delete the stored file 'u/broken'",
        "u/broken",
        "OSError: disk gone",
    )


def test_an_upload_allowance_of_one_byte_left_is_still_an_allowance(group, media_storage) -> None:
    users, conversation = group
    stored = attachment_store.StoredUpload("a.bin", "u/1", 999, "application/octet-stream")
    attachment_store.record_uploads(users["alice"].pk, conversation, [stored], quota=1000)
    assert attachment_store.upload_allowance(users["alice"].pk, conversation, quota=1000) == 1
    with pytest.raises(errors.LimitExceeded):
        attachment_store.upload_allowance(users["alice"].pk, conversation, quota=999)


def test_a_former_member_is_told_why_they_cannot_upload(group, media_storage) -> None:
    users, conversation = group
    conversations.remove_member(users["alice"], conversation, "carol", "r1")
    with pytest.raises(errors.Forbidden) as refused:
        attachment_store.upload_allowance(users["carol"].pk, conversation, quota=10**9)
    assert str(refused.value) == "you are no longer a member of this conversation"


def test_uploading_to_a_conversation_never_joined_names_it(group, media_storage) -> None:
    users, conversation = group
    with pytest.raises(errors.NotFound) as refused:
        attachment_store.upload_allowance(users["dave"].pk, conversation, quota=10**9)
    assert str(refused.value) == f"there is no conversation {conversation} of yours"


def test_sending_an_upload_that_is_not_ones_own_names_the_files(group, media_storage) -> None:
    users, conversation = group
    bobs = uploaded(users["bob"], conversation)
    with pytest.raises(errors.Invalid) as refused, transaction.atomic():  # claim runs in the sender's transaction
        attachment_store.claim(conversation, users["alice"].pk, (bobs,))
    assert str(refused.value) == (
        f"attachments [{bobs}] are not uploads of yours waiting to be sent in this conversation"
    )


@pytest.mark.parametrize("case", ["no such id", "another's unsent upload", "sent before one joined"])
def test_an_attachment_one_may_not_read_is_not_found_without_saying_why(group, make_user, media_storage, case) -> None:
    users, conversation = group
    if case == "no such id":
        reader, attachment_id = users["bob"], 10**6
    elif case == "another's unsent upload":
        reader, attachment_id = users["bob"], uploaded(users["alice"], conversation)
    else:
        attachment_id = sent_file(signed_in(users["alice"]), conversation)["id"]
        conversations.add_members(users["alice"], conversation, ["dave"], "a1", max_members=MAX)
        reader = users["dave"]
    with pytest.raises(errors.NotFound) as refused:
        attachment_store.readable(reader.pk, attachment_id)
    assert str(refused.value) == "there is no such attachment of yours"


def test_a_batch_mixing_messages_with_and_without_files_stores_each_in_order_with_its_reply(
    group, media_storage
) -> None:
    from messaging.store.events import NewMessage, create_message, create_messages

    users, conversation = group
    alice, bob = users["alice"], users["bob"]
    first = create_message(conversation, alice, "the plan?", "q1").event.seq
    results = create_messages(
        [
            NewMessage(conversation, bob, "here it is", "b1", reply_to=first),
            NewMessage(conversation, bob, "", "b2", attachments=(uploaded(bob, conversation),)),
            NewMessage(conversation, alice, "thanks", "a2", reply_to=first),
            NewMessage(conversation, alice, "what plan?", "a3", reply_to=9999),
        ]
    )
    stored = [r.event for r in results[:3]]
    assert [(e.seq, e.sender_id, e.content, e.target_seq, e.view.reply_to is not None) for e in stored] == [
        (first + 1, bob.pk, "here it is", first, True),
        (first + 2, bob.pk, "", None, False),
        (first + 3, alice.pk, "thanks", first, True),
    ]
    assert all(r.created for r in results[:3]) and isinstance(results[3], errors.NotFound)
