"""Try the issue's bad-input list against a running LinkUp (daphne), and print what each got back.

    .venv/bin/python -m bench.bad_uploads            # starts its own daphne (SQLite, var dir in /tmp)
    .venv/bin/python -m bench.bad_uploads --keep     # keep the server's directory (database, media, log)

It makes the demo users, a direct conversation alice-bob and a group
alice-bob-carol from which carol is removed, then sends every bad input over
real HTTP (multipart, session cookie, CSRF token) and prints one line each:
the status, the code and the detail. At the end it counts what the database
and the storage hold, and the MessagingError rows, to show that nothing was
left behind. The server runs with MESSAGING_UPLOAD_QUOTA_BYTES=40 MB so that
the quota is reached within the run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import requests

from tests import files
from tests.servers import Daphne, manage, server_env

PASSWORD = "linkup-bad-inputs"
MB = 1024 * 1024


class Person:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.username = username
        self.http = requests.Session()
        self.http.get(f"{base}/accounts/login/")
        answer = self.http.post(
            f"{base}/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        answer.raise_for_status()
        self.http.get(f"{base}/messages/")

    def headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.http.cookies["csrftoken"], "Referer": f"{self.base}/messages/"}

    def post_json(self, path: str, body: dict) -> requests.Response:
        return self.http.post(f"{self.base}{path}", json=body, headers=self.headers())

    def upload(self, conversation: int, *items: tuple[str, bytes, str]) -> requests.Response:
        return self.http.post(
            f"{self.base}/messages/api/conversations/{conversation}/attachments",
            files=[("file", item) for item in items],
            headers=self.headers(),
        )

    def send(self, conversation: int, ids: list[int], content: str = "") -> requests.Response:
        return self.post_json(
            f"/messages/api/conversations/{conversation}/messages",
            {"content": content, "client_id": uuid.uuid4().hex, "attachments": ids},
        )


def line(case: str, response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 201 and "attachments" in body:
        shown = ", ".join(f"name={a['name']!r} type={a['type']}" for a in body["attachments"])
        return f"{case:<58} {response.status_code}  stored: {shown}"
    code = body.get("code", "")
    detail = str(body.get("detail", ""))[:110]
    return f"{case:<58} {response.status_code} {code:<23} {detail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linkup.settings")
    import django

    django.setup()
    var_dir = Path(tempfile.mkdtemp(prefix="linkup-bad-uploads-"))
    env = server_env(var_dir, MESSAGING_UPLOAD_QUOTA_BYTES=str(40 * MB))
    for name in ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME"):
        env.pop(name, None)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "create_demo_users", "--password", PASSWORD)
    server = Daphne(env).start()
    try:
        run(server.base_url, env)
    finally:
        server.stop()
        if options.keep:
            print(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    return 0


def run(base: str, env: dict[str, str]) -> None:
    alice, bob, carol = Person(base, "alice"), Person(base, "bob"), Person(base, "carol")
    first = alice.post_json("/messages/api/bob/send", {"content": "hi", "client_id": uuid.uuid4().hex}).json()
    direct = first["message"] and int(
        alice.http.get(f"{base}/messages/api/conversations").json()["conversations"][0]["id"]
    )
    group = alice.post_json(
        "/messages/api/conversations", {"title": "trip", "members": ["bob", "carol"], "client_id": uuid.uuid4().hex}
    ).json()["conversation"]["id"]
    print(f"server {base}; direct conversation {direct} (alice, bob); group {group} (alice, bob, carol)\n")

    results: list[str] = []
    say = results.append
    over = b"\x00" * (25 * MB + 1)
    say(
        line(
            "a file over MESSAGING_MAX_UPLOAD_BYTES (25 MB + 1 byte)",
            alice.upload(direct, ("big.bin", over, "application/octet-stream")),
        )
    )
    say(
        line(
            "11 files in one upload (MESSAGING_MAX_FILES_PER_MESSAGE 10)",
            alice.upload(direct, *[(f"{i}.txt", b"hi", "text/plain") for i in range(11)]),
        )
    )
    say(
        line(
            "an executable renamed holiday.jpg",
            alice.upload(direct, ("holiday.jpg", files.elf_executable(), "image/jpeg")),
        )
    )
    say(
        line(
            "a PNG claiming 60,000 x 60,000 pixels",
            alice.upload(direct, ("huge.png", files.png_claiming(60000, 60000), "image/png")),
        )
    )
    say(
        line(
            "a truncated JPEG (half of it)",
            alice.upload(direct, ("cut.jpg", files.truncated(files.noisy_jpeg(200, 200)), "image/jpeg")),
        )
    )
    corrupt = bytearray(files.png(80, 80, mode="RGB"))
    corrupt[60:90] = b"\xff" * 30
    say(
        line(
            "a corrupt PNG (bytes of its data overwritten)",
            alice.upload(direct, ("corrupt.png", bytes(corrupt), "image/png")),
        )
    )
    say(line("a zip bomb posing as photo.png", alice.upload(direct, ("photo.png", files.zip_bomb(), "image/png"))))
    say(line("an empty file", alice.upload(direct, ("empty.txt", b"", "text/plain"))))
    say(line("a file name with ../", alice.upload(direct, ("../../../etc/passwd", b"root:x:0:0\n", "text/plain"))))
    say(
        line(
            "a file name with control characters",
            alice.upload(direct, ("bell\x07tab\tnew\nline.txt", b"x", "text/plain")),
        )
    )
    say(
        line(
            "a file name with an RTL override (invoice\\u202egpj.exe)",
            alice.upload(direct, ("invoice\u202egpj.exe", b"MZ", "application/octet-stream")),
        )
    )
    say(
        line(
            "a file name of 300 characters", alice.upload(direct, ("n" * 296 + ".pdf", files.pdf(), "application/pdf"))
        )
    )
    say(line("an upload to a conversation carol is not in", carol.upload(direct, ("x.txt", b"x", "text/plain"))))
    shared = alice.upload(direct, ("plan.pdf", files.pdf("alice and bob"), "application/pdf")).json()["attachments"][0]
    alice.send(direct, [shared["id"]], "the plan")
    say(line("a download by a non-member (carol, alice-bob's file)", carol.http.get(base + shared["url"])))
    say(line("the same download by bob, a member", bob.http.get(base + shared["url"])))
    say(line("bob sending alice's upload as his", bob.send(direct, [shared["id"]])))
    earlier = alice.upload(group, ("before.pdf", files.pdf("before"), "application/pdf")).json()["attachments"][0]
    alice.send(group, [earlier["id"]], "before carol left")
    alice.post_json(f"/messages/api/conversations/{group}/members/carol/remove", {"client_id": uuid.uuid4().hex})
    later = alice.upload(group, ("after.pdf", files.pdf("after"), "application/pdf")).json()["attachments"][0]
    alice.send(group, [later["id"]], "after carol left")
    say(line("a download by removed carol, of a message before removal", carol.http.get(base + earlier["url"])))
    say(line("a download by removed carol, of a later message", carol.http.get(base + later["url"])))
    say(line("an upload by removed carol to the group", carol.upload(group, ("x.txt", b"x", "text/plain"))))
    say(
        line(
            "an upload without the CSRF token",
            alice.http.post(
                f"{base}/messages/api/conversations/{direct}/attachments",
                files=[("file", ("a.txt", b"a", "text/plain"))],
            ),
        )
    )
    say(
        line(
            "a 15 MB file (quota 40 MB)",
            alice.upload(direct, ("a.bin", os.urandom(15 * MB), "application/octet-stream")),
        )
    )
    say(line("another 15 MB file", alice.upload(direct, ("b.bin", os.urandom(15 * MB), "application/octet-stream"))))
    say(
        line(
            "a third 15 MB file: past the quota",
            alice.upload(direct, ("c.bin", os.urandom(15 * MB), "application/octet-stream")),
        )
    )
    ranged = bob.http.get(base + shared["url"], headers={"Range": "bytes=0-7"})
    say(
        f"{'a range request (bytes=0-7) by bob':<58} {ranged.status_code}  Content-Range: {ranged.headers.get('Content-Range')} body {ranged.content!r}"
    )
    print("\n".join(results))

    code = (
        "import json, os; from django.conf import settings; from messaging.models import Attachment, MessagingError; "
        "root = settings.MEDIA_ROOT; "
        "stored = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs); "
        "rows = list(Attachment.objects.order_by('pk').values_list('name', 'content_type', 'size', 'event_id')); "
        "print(json.dumps({'rows': rows, 'files': len(stored), 'errors': MessagingError.objects.count()}))"
    )
    state = json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
    print(
        f"\nattachment rows: {len(state['rows'])}; files in var/media: {state['files']} (originals + thumbnails); MessagingError rows: {state['errors']}"
    )
    for name, content_type, size, event in state["rows"]:
        print(
            f"  {name[:60]!r:<64} {content_type:<26} {size:>9} bytes  {'sent in event ' + str(event) if event else 'not sent (an orphan until purge_orphan_uploads)'}"
        )


if __name__ == "__main__":
    sys.exit(main())
