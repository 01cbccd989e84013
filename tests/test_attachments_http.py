"""Attachments over HTTP: upload, send with a message, download, on the storage of the stack.

On the embedded default the files go to a temporary folder; on the
deployment stack to the S3-compatible server ``scripts/services`` runs, over
HTTP with the real boto3 client (``media_storage`` in conftest.py).
"""

from __future__ import annotations

import io
import json
import warnings

import pytest
from django.test import Client, override_settings
from PIL import Image

from messaging.models import Attachment, Event
from messaging.store import conversations
from tests import files

pytestmark = [pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024


def signed_in(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/messages/")  # the CSRF cookie, as the chat page sets it
    return client


def csrf(client: Client) -> dict[str, str]:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def upload(client: Client, conversation_id: int, *items: tuple[str, bytes, str], with_csrf: bool = True):
    fields = []
    for name, data, content_type in items:
        handle = io.BytesIO(data)
        handle.name = name
        handle.content_type = content_type
        fields.append(handle)
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"file": [SimpleUploadedFile(name, data, content_type=ctype) for name, data, ctype in items]}
    return client.post(
        f"/messages/api/conversations/{conversation_id}/attachments",
        data=payload,
        **(csrf(client) if with_csrf else {}),
    )


def send(client: Client, conversation_id: int, ids: list[int], content: str = "", client_id: str = "m1"):
    return client.post(
        f"/messages/api/conversations/{conversation_id}/messages",
        data=json.dumps({"content": content, "client_id": client_id, "attachments": ids}),
        content_type="application/json",
        **csrf(client),
    )


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return b"".join(iter(response))
    return response.content


@pytest.fixture
def people(make_user):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    direct, _ = conversations.get_or_create_direct(alice, bob)
    return {"alice": alice, "bob": bob, "carol": carol, "direct": direct.pk}


def test_an_image_and_a_pdf_upload_typed_by_content_and_the_image_gets_a_thumbnail(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    response = upload(
        alice,
        people["direct"],
        ("photo.jpg", files.jpeg(), "image/jpeg"),
        ("report", files.pdf(), "application/octet-stream"),
    )
    assert response.status_code == 201, response.content
    photo, report = response.json()["attachments"]
    assert photo["type"] == "image/jpeg" and (photo["width"], photo["height"]) == (64, 32)
    assert photo["thumbnail_url"] == f"/messages/attachments/{photo['id']}/thumbnail"
    assert report["type"] == "application/pdf" and report["name"] == "report" and report["thumbnail_url"] is None
    rows = Attachment.objects.order_by("pk")
    assert [r.event_id for r in rows] == [None, None]
    # the size of what is stored (a photo is stored re-encoded, without its metadata)
    assert (photo["size"], report["size"]) == (rows[0].size, len(files.pdf()))
    assert {rows[0].storage_name, rows[0].thumbnail_name, rows[1].storage_name} <= media_storage.names(
        f"attachments/{people['direct']}"
    )


def test_a_message_claims_its_uploads_and_its_event_lists_them(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    ids = [a["id"] for a in upload(alice, people["direct"], ("a.png", files.png(), "image/png")).json()["attachments"]]
    response = send(alice, people["direct"], ids, content="look")
    assert response.status_code == 201, response.content
    event = response.json()["event"]
    [item] = event["data"]["attachments"]
    assert item["id"] == ids[0] and item["name"] == "a.png" and item["url"] == f"/messages/attachments/{ids[0]}/"
    assert (item["size"], item["type"]) == (len(files.png()), "image/png")
    stored = Attachment.objects.get(pk=ids[0])
    assert (stored.event_id, stored.seq) == (event["id"], event["seq"])
    # the same event over sync, as every reader gets it
    bob = signed_in(people["bob"])
    synced = bob.get(f"/messages/api/conversations/{people['direct']}/events?after=0").json()["events"]
    assert synced[0]["data"]["attachments"] == event["data"]["attachments"]


def test_a_message_with_uploads_that_are_not_the_senders_to_send_is_refused_whole(people, media_storage) -> None:
    alice, bob = signed_in(people["alice"]), signed_in(people["bob"])
    mine = upload(alice, people["direct"], ("a.gif", files.gif(), "image/gif")).json()["attachments"][0]["id"]
    theirs = upload(bob, people["direct"], ("b.gif", files.gif(), "image/gif")).json()["attachments"][0]["id"]
    response = send(alice, people["direct"], [mine, theirs], content="both")
    assert response.status_code == 400 and response.json()["code"] == "invalid_frame"
    assert Event.objects.count() == 0
    assert Attachment.objects.filter(event_id__isnull=False).count() == 0
    assert send(alice, people["direct"], [mine], client_id="m2").status_code == 201
    # already sent: a second message cannot carry it again
    again = send(alice, people["direct"], [mine], client_id="m3")
    assert again.status_code == 400 and Event.objects.count() == 1


def test_a_resent_message_with_uploads_is_the_first_one(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    ids = [upload(alice, people["direct"], ("a.webp", files.webp(), "image/webp")).json()["attachments"][0]["id"]]
    first = send(alice, people["direct"], ids, client_id="same")
    again = send(alice, people["direct"], ids, client_id="same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["event"] == first.json()["event"]


@pytest.mark.parametrize(
    ("name", "data", "content_type", "status", "code"),
    [
        ("holiday.jpg", files.elf_executable(), "image/jpeg", 415, "unsupported_media_type"),
        ("bomb.png", files.zip_bomb(), "image/png", 415, "unsupported_media_type"),
        ("huge.png", files.png_claiming(60000, 60000), "image/png", 413, "too_many_pixels"),
        ("cut.jpg", files.truncated(files.noisy_jpeg(64, 64)), "image/jpeg", 422, "invalid_file"),
        ("empty.txt", b"", "text/plain", 422, "invalid_file"),
    ],
)
def test_a_bad_file_is_refused_with_its_code_and_nothing_is_stored(
    people, media_storage, name, data, content_type, status, code
) -> None:
    alice = signed_in(people["alice"])
    response = upload(alice, people["direct"], ("fine.pdf", files.pdf(), "application/pdf"), (name, data, content_type))
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["file"] == name
    assert Attachment.objects.count() == 0
    assert media_storage.names(f"attachments/{people['direct']}") == set()


def test_a_file_over_the_size_limit_is_refused_while_it_streams_in(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    with override_settings(MESSAGING_MAX_UPLOAD_BYTES=100_000):
        response = upload(alice, people["direct"], ("big.bin", b"\x01" * 100_001, "application/octet-stream"))
        assert response.status_code == 413 and response.json()["code"] == "too_large"
        assert (response.json()["limit"], response.json()["setting"]) == (100_000, "MESSAGING_MAX_UPLOAD_BYTES")
        assert (
            upload(alice, people["direct"], ("ok.bin", b"\x01" * 100_000, "application/octet-stream")).status_code
            == 201
        )
    assert Attachment.objects.count() == 1


def test_too_many_files_and_a_full_quota_are_refused_with_their_codes(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    with override_settings(MESSAGING_MAX_FILES_PER_MESSAGE=2):
        response = upload(alice, people["direct"], *[(f"{i}.txt", b"hello", "text/plain") for i in range(3)])
        assert response.status_code == 413 and response.json()["code"] == "too_many_files"
    with override_settings(MESSAGING_UPLOAD_QUOTA_BYTES=1000):
        assert upload(alice, people["direct"], ("a.txt", b"x" * 600, "text/plain")).status_code == 201
        response = upload(alice, people["direct"], ("b.txt", b"x" * 600, "text/plain"))
        assert response.status_code == 413 and response.json()["code"] == "quota_exceeded"
    assert Attachment.objects.count() == 1
    assert len(media_storage.names(f"attachments/{people['direct']}")) == 1


def test_a_message_naming_more_files_than_the_limit_is_refused(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    ids = [
        a["id"]
        for a in upload(alice, people["direct"], *[(f"{i}.txt", b"hi", "text/plain") for i in range(3)]).json()[
            "attachments"
        ]
    ]
    with override_settings(MESSAGING_MAX_FILES_PER_MESSAGE=2):
        response = send(alice, people["direct"], ids)
    assert response.status_code == 413 and response.json()["code"] == "too_many_files"
    assert Event.objects.count() == 0


def test_hostile_file_names_are_made_safe_and_never_reach_the_storage_path(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    hostile = "../../etc/\x07pass\u202ewd" + "x" * 300 + ".txt"
    response = upload(alice, people["direct"], (hostile, b"hello", "text/plain"))
    assert response.status_code == 201
    [item] = response.json()["attachments"]
    assert "/" not in item["name"] and "\u202e" not in item["name"] and "\x07" not in item["name"]
    assert item["name"].startswith("passwd") and item["name"].endswith(".txt") and len(item["name"]) <= 200
    row = Attachment.objects.get()
    assert row.storage_name.startswith(f"attachments/{people['direct']}/") and ".." not in row.storage_name


def test_uploading_to_a_conversation_one_is_not_in_is_refused_before_the_body_is_read(people, media_storage) -> None:
    carol = signed_in(people["carol"])
    response = upload(carol, people["direct"], ("a.txt", b"hello", "text/plain"))
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Attachment.objects.count() == 0


def test_an_upload_without_the_csrf_token_is_refused(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    response = upload(alice, people["direct"], ("a.txt", b"hello", "text/plain"), with_csrf=False)
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert Attachment.objects.count() == 0


def test_served_images_carry_no_exif_and_are_upright(people, media_storage) -> None:
    alice = signed_in(people["alice"])
    data = files.jpeg(64, 32, orientation=6, gps=True)
    assert b"LinkUpCam" in data
    item = upload(alice, people["direct"], ("phone.jpg", data, "image/jpeg")).json()["attachments"][0]
    assert (item["width"], item["height"]) == (32, 64)  # orientation 6: rotated a quarter turn
    send(alice, people["direct"], [item["id"]])
    served = Image.open(io.BytesIO(fetch(alice, item["url"]).content_bytes))
    assert served.size == (32, 64)
    assert not served.getexif() and "exif" not in served.info
    assert b"LinkUpCam" not in fetch(alice, item["url"]).content_bytes
    thumb = Image.open(io.BytesIO(fetch(alice, item["thumbnail_url"]).content_bytes))
    assert thumb.format == "WEBP" and thumb.size == (32, 64) and not thumb.getexif()


class Fetched:
    def __init__(self, response, content: bytes) -> None:
        self.response = response
        self.status_code = response.status_code
        self.content_bytes = content

    def __getitem__(self, header: str) -> str:
        return self.response[header]


def fetch(client: Client, url: str, **headers) -> Fetched:
    """GET an attachment URL, following a redirect to the S3 store (as a browser would)."""
    response = client.get(url, **headers)
    if response.status_code == 302:
        import urllib.request

        request = urllib.request.Request(
            response["Location"], headers={k[5:].replace("_", "-"): v for k, v in headers.items()}
        )
        with urllib.request.urlopen(request) as remote:
            return Fetched(_Remote(remote), remote.read())
    return Fetched(response, body(response))


class _Remote:
    def __init__(self, remote) -> None:
        self.status_code = remote.status
        self.headers = remote.headers

    def __getitem__(self, header: str) -> str:
        return self.headers[header]
