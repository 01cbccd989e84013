"""``manage.py demo_groups``: groups on a running LinkUp, over real sockets, narrated.

Run it next to a running server that uses the same database (``./scripts/start``
in one terminal, this in another). It makes sure alice, bob, carol and dave
exist (password ``linkup-demo`` unless given), signs each in through the login
form, and over ``ws/chat/``:

1. alice creates a group of three (alice, bob, carol) and they talk;
2. dave is added and sees the history from his join only;
3. carol is removed and gets nothing after her removal;
4. alice sends a message and goes offline; bob and dave read it; alice comes
   back and her ``resume`` carries the receipts (ticks) she missed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bench.demo import DemoBase, cid, ensure_users
from bench.wsclient import ChatClient

NAMES = ("alice", "bob", "carol", "dave")


class Command(BaseCommand):
    help = "Create a group of three on a running server over real sockets and narrate what each member sees."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
        parser.add_argument("--password", default="linkup-demo")

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_users(NAMES, options["password"])
        asyncio.run(Demo(options["url"], options["password"], self.stdout.write).run())


class Demo(DemoBase):
    async def say_hi(self, name: str, group: int, text: str) -> int:
        ack = await self.ask(name, {"type": "message", "conversation": group, "content": text, "client_id": cid()})
        self.say(f"  {name} says {text!r}: acked as seq {ack['event']['seq']}")
        return ack["event"]["seq"]

    async def seen_by(self, name: str, group: int) -> list[str]:
        sync = await self.ask(name, {"type": "sync", "conversation": group, "after": 0})
        return [describe(e) for e in sync["events"]]

    async def run(self) -> None:
        for name in ("alice", "bob", "carol"):
            await self.open(name)
        self.say("1. alice creates a group of three")
        created = await self.ask(
            "alice", {"type": "create_group", "title": "Weekend trip", "members": ["bob", "carol"], "client_id": cid()}
        )
        group = created["conversation"]["id"]
        self.say(f"  conversation {group}: {describe(created['event'])}")
        await self.say_hi("alice", group, "Who is in for Saturday?")
        await self.say_hi("bob", group, "Me!")
        await self.say_hi("carol", group, "Count me in")
        for name in ("bob", "carol"):
            self.say(f"  {name} sees: {await self.seen_by(name, group)}")

        self.say("2. alice adds dave: he sees the group from his join only")
        await self.open("dave")
        added = await self.ask(
            "alice", {"type": "add_members", "conversation": group, "users": ["dave"], "client_id": cid()}
        )
        self.say(f"  {describe(added['event'])}")
        notice = await self.clients["dave"].expect("conversation")
        self.say(
            f"  dave is told: member of {notice['conversation']['title']!r} from seq {notice['conversation']['joined_seq']}"
        )
        await self.say_hi("dave", group, "Hi all, thanks for adding me")
        self.say(f"  dave sees: {await self.seen_by('dave', group)}")

        self.say("3. alice removes carol: her open socket gets the removal and nothing after it")
        drain(self.clients["carol"])
        removed = await self.ask(
            "alice", {"type": "remove_member", "conversation": group, "user": "carol", "client_id": cid()}
        )
        self.say(f"  {describe(removed['event'])}")
        await self.say_hi("alice", group, "Carol cannot come after all")
        await asyncio.sleep(0.5)
        pushed = drain(self.clients["carol"])
        self.say(
            f"  carol's socket received: {[describe(f['event']) if f['type'] == 'event' else f['type'] for f in pushed]}"
        )
        refused = await self.ask(
            "carol", {"type": "message", "conversation": group, "content": "hello?", "client_id": cid()}
        )
        self.say(f"  carol tries to write: {refused['code']} ({refused['detail']})")
        self.say(f"  carol still sees what she could: {await self.seen_by('carol', group)}")

        self.say("4. alice sends and goes offline; the ticks she misses are repaired by her resume")
        seq = await self.say_hi("alice", group, "Train at 9:12")
        alice_cursor = seq
        await self.clients["alice"].close()
        self.say("  alice is offline")
        for name in ("bob", "dave"):
            await self.clients[name].expect("event", where=lambda f: f["event"]["seq"] == seq)
            await self.clients[name].send({"type": "received", "conversation": group, "up_to": seq})
            await self.clients[name].send({"type": "read", "conversation": group, "up_to": seq})
            self.say(f"  {name} got #{seq} and read it (a receipt alice's closed socket never hears)")
        await asyncio.sleep(0.5)
        await self.open("alice")
        resumed = await self.ask("alice", {"type": "resume", "cursors": {str(group): alice_cursor}})
        receipts = resumed["conversations"][0]["receipts"]
        self.say(
            f"  alice reconnects; her resume from seq {alice_cursor} carries the receipts "
            f"{[(r['user'], r['delivered_seq'], r['read_seq']) for r in receipts]}"
        )
        self.say(f"  so her 'Train at 9:12' (seq {seq}) shows: {status_for(seq, receipts, exclude='alice')}")
        for client in self.clients.values():
            await client.close()


def describe(event: dict[str, Any]) -> str:
    kind, data = event["kind"], event.get("data") or {}
    who = event["sender"]
    text = {
        "message": f"{who}: {event['content']}",
        "created": f"{who} created {data.get('title')!r} with {', '.join(data.get('members', []))}",
        "members_added": f"{who} added {', '.join(data.get('users', []))}",
        "member_removed": f"{who} removed {data.get('user')}",
        "member_left": f"{who} left",
        "renamed": f"{who} renamed it {data.get('title')!r}",
        "role_changed": f"{who} made {data.get('user')} {data.get('role')}",
    }.get(kind, kind)
    return f"#{event['seq']} {text}"


def drain(client: ChatClient) -> list[dict[str, Any]]:
    frames = []
    while not client.frames.empty():
        frames.append(client.frames.get_nowait())
    return frames


def status_for(seq: int, receipts: list[dict[str, Any]], exclude: str) -> str:
    others = [r for r in receipts if r["user"] != exclude and r["joined_seq"] <= seq]
    if all(r["read_seq"] >= seq for r in others):
        return "read"
    if all(r["delivered_seq"] >= seq for r in others):
        return "delivered"
    return "read by " + ", ".join(r["user"] for r in others if r["read_seq"] >= seq) + " only"
