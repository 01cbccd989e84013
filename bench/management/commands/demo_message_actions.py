"""``manage.py demo_message_actions``: doing things to a message on a running LinkUp, over real sockets, narrated.

Run it next to a running server that uses the same database (``./scripts/start``
in one terminal, this in another). It makes sure alice and bob exist
(password ``linkup-demo`` unless given), signs both in through the login
form, and over ``ws/chat/``:

1. alice and bob talk; bob reads up to there and goes offline;
2. while he is away alice replies to him, reacts, edits her reply twice,
   writes a secret and deletes it for everyone (and resends that deletion:
   a repeat);
3. bob reconnects: his ``resume`` (and ``sync`` while ``has_more``) replays
   exactly those changes, each once; his history shows the messages as they
   are now, and the edit history is there;
4. the secret is looked for in every text column of the database, before and
   after the deletion: the query is printed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, models

from bench.demo import DemoBase, cid, ensure_users

NAMES = ("alice", "bob")
#: the apps whose tables could hold a user's text
SCANNED_APPS = {"messaging", "auth", "sessions", "admin"}


class Command(BaseCommand):
    help = "Bob offline while alice replies, reacts, edits twice and deletes; bob's sync replays it once; the deleted text is gone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
        parser.add_argument("--password", default="linkup-demo")

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_users(NAMES, options["password"])
        asyncio.run(Demo(options["url"], options["password"], self.stdout.write).run())


class Demo(DemoBase):
    async def act(self, name: str, frame: dict[str, Any]) -> dict[str, Any]:
        """Send an action; narrate its ack (or error) and return it."""
        answer = await self.ask(name, frame)
        if answer["type"] == "error":
            self.say(f"  {name} {frame['type']}: error {answer['code']} ({answer['detail']})")
        else:
            event = answer.get("event")
            self.say(f"  {name} {frame['type']}: acked as {describe(event) if event else 'nothing to change'}")
        return answer

    async def wait_for_notification(self, text: str) -> list[str]:
        """Where ``text`` is once bob's new-message notification (made after the ack) quotes it."""
        for _ in range(50):
            hits = await sync_to_async(rows_holding)(text)
            if any(hit.startswith("messaging_notification.") for hit in hits):
                return hits
            await asyncio.sleep(0.1)
        return hits

    async def run(self) -> None:
        secret = f"the door code is {uuid.uuid4().hex[:12]}"
        await self.open("alice")
        await self.open("bob")
        self.say("1. alice and bob talk; bob reads everything and goes offline")
        first = await self.ask("alice", {"type": "message", "to": "bob", "content": "Hi bob!", "client_id": cid()})
        conversation = first["event"]["conversation"]
        self.say(f"  conversation {conversation}: {describe(first['event'])}")
        lunch_seq = (await self.act("bob", message(conversation, "Lunch tomorrow?")))["event"]["seq"]
        await self.clients["bob"].send({"type": "read", "conversation": conversation, "up_to": lunch_seq})
        bob_cursor = lunch_seq
        await self.ask("bob", {"type": "ping"})
        await self.clients["bob"].close()
        self.say(f"  bob holds every event up to seq {bob_cursor} and closes his socket")

        self.say(
            "2. bob is offline: alice replies, reacts, edits her reply twice, then writes a secret and deletes it for everyone"
        )
        reply = await self.act(
            "alice", {**message(conversation, "Yes! 12:30 at the usual place"), "reply_to": lunch_seq}
        )
        reply_seq = reply["event"]["seq"]
        await self.act("alice", action("react", conversation, lunch_seq, emoji="👍"))
        await self.act("alice", action("edit", conversation, reply_seq, content="Yes! 12:45 at the usual place"))
        await self.act("alice", action("edit", conversation, reply_seq, content="Yes! 13:00 at the new place"))
        secret_seq = (await self.act("alice", message(conversation, f"Psst, {secret}")))["event"]["seq"]
        self.say(f"  before the deletion, the secret is in: {await self.wait_for_notification(secret)}")
        delete = action("delete", conversation, secret_seq)
        deleted = await self.act("alice", delete)
        again = await self.act("alice", delete)
        self.say(
            f"  the resend with the same client_id is answered with the same event: {again['event'] == deleted['event']}"
        )
        last_seq = deleted["event"]["seq"]

        self.say(f"3. bob reconnects and catches up from seq {bob_cursor}")
        await self.open("bob")
        resumed = await self.ask("bob", {"type": "resume", "cursors": {str(conversation): bob_cursor}})
        entry = resumed["conversations"][0]
        replayed = list(entry["events"])
        if entry["has_more"]:
            replayed += await self.clients["bob"].sync_events(
                conversation, replayed[-1]["seq"] if replayed else bob_cursor
            )
        for event in replayed:
            self.say(f"  replayed {describe(event)}")
        seqs = Counter(e["seq"] for e in replayed)
        self.say(
            f"  {len(replayed)} events, seqs {sorted(seqs)}, each once: {all(n == 1 for n in seqs.values())}; "
            f"exactly the changes made while he was away: {sorted(seqs) == list(range(bob_cursor + 1, last_seq + 1))}"
        )
        self.say(f"  kinds: {Counter(e['kind'] for e in replayed)}")
        history = await self.ask("bob", {"type": "history", "conversation": conversation, "before": None})
        self.say("  his history shows the messages as they are now:")
        for event in reversed(history["events"]):
            self.say(f"    {state(event)}")
        versions = await self.ask("bob", {"type": "edits", "conversation": conversation, "seq": reply_seq})
        self.say(f"  the edit history of #{reply_seq}: {[v['content'] for v in versions['versions']]}")

        self.say("4. the deleted text, looked for in every text column of the database")
        self.say(f"  query, for each of {len(text_columns())} columns: {scan_sql()}")
        self.say(f"  rows holding {secret!r} now: {await sync_to_async(rows_holding)(secret)}")
        for client in self.clients.values():
            await client.close()


def message(conversation: int, content: str) -> dict[str, Any]:
    return {"type": "message", "conversation": conversation, "content": content, "client_id": cid()}


def action(kind: str, conversation: int, seq: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "conversation": conversation, "seq": seq, "client_id": cid(), **fields}


def describe(event: dict[str, Any]) -> str:
    kind, who, target = event["kind"], event["sender"], event.get("target_seq")
    text = {
        "message": f"{who}: {'(deleted)' if event.get('deleted') else repr(event['content'])}"
        + (f" (replying to #{target})" if target else "")
        + (" (edited)" if event.get("edited_at") else ""),
        "edited": f"{who} edited #{target} to {event['content']!r}",
        "deleted": f"{who} deleted #{target} for everyone",
        "reaction_added": f"{who} reacted {(event.get('data') or {}).get('emoji')} to #{target}",
        "reaction_removed": f"{who} took back {(event.get('data') or {}).get('emoji')} from #{target}",
    }.get(kind, kind)
    return f"#{event['seq']} {text}"


def state(event: dict[str, Any]) -> str:
    """A message of a history page as its reader sees it now."""
    if event["kind"] != "message":
        return describe(event)
    if event["deleted"]:
        return f"#{event['seq']} {event['sender']}: This message was deleted (content {event['content']!r})"
    marks = []
    if event["edited_at"]:
        marks.append("edited")
    if event["reply_to"]:
        quote = event["reply_to"]
        marks.append(f"quoting #{quote['seq']} {quote['sender']}: {quote['preview']!r}")
    for reaction in event["reactions"]:
        marks.append(f"{reaction['emoji']} {reaction['count']} by {', '.join(reaction['users'])}")
    return f"#{event['seq']} {event['sender']}: {event['content']!r}" + (f" [{'; '.join(marks)}]" if marks else "")


def text_columns() -> list[tuple[str, str]]:
    """(table, column) of every column that could hold a user's text: char, text and JSON columns."""
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in SCANNED_APPS or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, (models.CharField, models.TextField, models.JSONField)):
                found.append((model._meta.db_table, field.column))
    return found


def scan_sql(table: str = "<table>", column: str = "<column>") -> str:
    quote = connection.ops.quote_name
    return f"SELECT COUNT(*) FROM {quote(table)} WHERE CAST({quote(column)} AS TEXT) LIKE %s  -- '%' || text || '%'"


def rows_holding(text: str) -> list[str]:
    """``table.column: count`` wherever ``text`` is (JSON columns read as their text; a JSON string escapes nothing here)."""
    hits = []
    with connection.cursor() as cursor:
        for table, column in text_columns():
            cursor.execute(scan_sql(table, column).split("  --")[0], [f"%{text}%"])
            count = cursor.fetchone()[0]
            if count:
                hits.append(f"{table}.{column}: {count}")
    return hits
