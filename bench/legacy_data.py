"""Data in the schema before the event log (migration ``messaging 0005_tick_index``), written in bulk.

Before the event log every message of a direct conversation had a
``recipient`` and a ``status`` (sent, delivered, read) of its own; old
messages could have been moved to ``messaging_archivedmessage``. The upgrade
(migrations 0006-0008) turns those statuses into each member's
``delivered_seq``/``read_seq``. This module fills a database at 0005 with
such data, to test that upgrade (``tests/test_event_log_migration.py``) and
to time it on a million messages (``manage.py generate_legacy_data``).

Rows go in with plain ``INSERT``s in batches (``COPY`` on PostgreSQL), never
the ORM one by one: a million messages take seconds, not an hour. Ids are
given explicitly, so an archived message keeps the id it had, as the
archiver did.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

SENT, DELIVERED, READ = "sent", "delivered", "read"
RANK = {SENT: 0, DELIVERED: 1, READ: 2}
#: the migration whose schema this module writes
LEGACY_MIGRATION = ("messaging", "0005_tick_index")
#: usernames of the generated users start with this
USER_PREFIX = "legacy-"
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class LegacyMessage:
    """One message of a direct conversation: who of the pair sent it, its status, whether it was archived."""

    from_first: bool
    status: str
    archived: bool = False


@dataclass(frozen=True)
class LegacyConversation:
    """A direct conversation between users ``first`` and ``second`` (indexes), its messages in seq order."""

    first: int
    second: int
    messages: tuple[LegacyMessage, ...] = field(default_factory=tuple)


def consistent_statuses(count: int, rng: random.Random) -> list[str]:
    """Statuses of ``count`` messages to one recipient, as the old rules left them: read, then delivered, then sent.

    (A read or a delivery receipt covered every earlier message.)
    """
    delivered = rng.randint(0, count)
    read = rng.randint(0, delivered)
    return [READ] * read + [DELIVERED] * (delivered - read) + [SENT] * (count - delivered)


def random_conversation(
    first: int, second: int, count: int, rng: random.Random, *, archived: float = 0.1, inconsistent: float = 0.0
) -> LegacyConversation:
    """``count`` messages between two users with consistent statuses per recipient.

    The oldest ``archived`` share of them sits in the archive; ``inconsistent``
    is the chance that a message's status was changed at random (data the old
    rules should not have produced, which the upgrade must not make worse).
    """
    senders = [rng.random() < 0.5 for _ in range(count)]
    statuses: list[str] = [SENT] * count
    for side in (True, False):
        positions = [i for i, from_first in enumerate(senders) if from_first == side]
        for i, status in zip(positions, consistent_statuses(len(positions), rng), strict=True):
            statuses[i] = status
    for i in range(count):
        if rng.random() < inconsistent:
            statuses[i] = rng.choice((SENT, DELIVERED, READ))
    cut = int(count * archived)
    return LegacyConversation(
        first,
        second,
        tuple(LegacyMessage(senders[i], statuses[i], i < cut) for i in range(count)),
    )


def migrate_to(target: tuple[str, str] | None) -> None:
    """Migrate the default database to ``target`` (``None``: the newest migrations), as ``manage.py migrate`` would."""
    executor = MigrationExecutor(connection)
    targets = [target] if target is not None else executor.loader.graph.leaf_nodes()
    executor.migrate(targets)


def applied_messaging_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    return sorted(name for app, name in executor.loader.applied_migrations if app == "messaging")


@dataclass
class Written:
    users: int = 0
    conversations: int = 0
    messages: int = 0
    archived: int = 0


class LegacyWriter:
    """Writes users, conversations and messages into a database at 0005, in batches."""

    USER_COLUMNS = (
        "id",
        "password",
        "is_superuser",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
    )
    CONVERSATION_COLUMNS = ("id", "kind", "direct_key", "last_seq", "created_at", "last_message_at")
    PARTICIPANT_COLUMNS = ("id", "conversation_id", "user_id", "joined_at")
    MESSAGE_COLUMNS = (
        "id",
        "conversation_id",
        "seq",
        "sender_id",
        "recipient_id",
        "content",
        "client_id",
        "status",
        "created_at",
        "delivered_at",
        "read_at",
    )

    def __init__(self, *, batch: int = 20000) -> None:
        self.batch = batch
        self.written = Written()
        row = self._one("SELECT COALESCE(MAX(id), 0) FROM auth_user")
        self.next_user = row + 1
        self.next_conversation = self._one("SELECT COALESCE(MAX(id), 0) FROM messaging_conversation") + 1
        self.next_participant = self._one("SELECT COALESCE(MAX(id), 0) FROM messaging_participant") + 1
        self.next_message = (
            max(
                self._one("SELECT COALESCE(MAX(id), 0) FROM messaging_message"),
                self._one("SELECT COALESCE(MAX(id), 0) FROM messaging_archivedmessage"),
            )
            + 1
        )
        self.pending: dict[str, list[tuple[Any, ...]]] = {}
        self.columns: dict[str, tuple[str, ...]] = {}

    @staticmethod
    def _one(sql: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return int(cursor.fetchone()[0])

    def users(self, count: int, tag: str = "") -> list[int]:
        """``count`` active users that cannot sign in (no usable password); their ids."""
        ids = list(range(self.next_user, self.next_user + count))
        self.next_user += count
        now = START
        self._write(
            "auth_user",
            self.USER_COLUMNS,
            [(pk, "!", False, f"{USER_PREFIX}{tag}{pk}", "", "", "", False, True, now) for pk in ids],
        )
        self.written.users += count
        return ids

    def conversations(self, user_ids: list[int], conversations: Iterable[LegacyConversation]) -> None:
        for conversation in conversations:
            self.conversation(user_ids[conversation.first], user_ids[conversation.second], conversation.messages)
        self.flush()

    def conversation(self, first: int, second: int, messages: tuple[LegacyMessage, ...]) -> int:
        pk = self.next_conversation
        self.next_conversation += 1
        created = START + datetime.timedelta(minutes=pk)
        times = [created + datetime.timedelta(seconds=seq) for seq in range(1, len(messages) + 1)]
        low, high = sorted((first, second))
        self._queue(
            "messaging_conversation",
            self.CONVERSATION_COLUMNS,
            (pk, "direct", f"{low}:{high}", len(messages), created, times[-1] if times else None),
        )
        for user in (first, second):
            self._queue("messaging_participant", self.PARTICIPANT_COLUMNS, (self.next_participant, pk, user, created))
            self.next_participant += 1
        for seq, message in enumerate(messages, start=1):
            sender, recipient = (first, second) if message.from_first else (second, first)
            at = times[seq - 1]
            delivered_at = at + datetime.timedelta(milliseconds=300) if message.status != SENT else None
            read_at = at + datetime.timedelta(seconds=2) if message.status == READ else None
            row = (
                self.next_message,
                pk,
                seq,
                sender,
                recipient,
                f"message {seq} of conversation {pk}",
                f"legacy-{pk}-{seq}",
                message.status,
                at,
                delivered_at,
                read_at,
            )
            self.next_message += 1
            if message.archived:
                self._queue("messaging_archivedmessage", (*self.MESSAGE_COLUMNS, "archived_at"), (*row, START))
                self.written.archived += 1
            else:
                self._queue("messaging_message", self.MESSAGE_COLUMNS, row)
            self.written.messages += 1
        self.written.conversations += 1
        return pk

    def _queue(self, table: str, columns: tuple[str, ...], row: tuple[Any, ...]) -> None:
        rows = self.pending.setdefault(table, [])
        rows.append(row)
        self.columns[table] = columns
        if len(rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write what is queued, parents first (conversations before their members and messages)."""
        for table in (
            "messaging_conversation",
            "messaging_participant",
            "messaging_message",
            "messaging_archivedmessage",
        ):
            rows = self.pending.pop(table, [])
            if rows:
                self._write(table, self.columns[table], rows)

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if connection.vendor == "postgresql":
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)

    def finish(self) -> None:
        """Flush, and move PostgreSQL's id sequences past the ids given here (SQLite follows by itself)."""
        self.flush()
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for table in ("auth_user", "messaging_conversation", "messaging_participant", "messaging_message"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
                )


def generated_conversations(
    messages: int, users: int, per_conversation: int, rng: random.Random, *, archived: float
) -> Iterator[LegacyConversation]:
    """Conversations between random pairs of ``users`` until ``messages`` messages are made."""
    pairs: set[tuple[int, int]] = set()
    left = messages
    while left > 0:
        if len(pairs) == users * (users - 1) // 2:
            raise ValueError(f"{users} users make too few pairs for {messages} messages; ask for more users")
        first, second = sorted(rng.sample(range(users), 2))
        if (first, second) in pairs:
            continue
        pairs.add((first, second))
        count = min(left, max(1, int(rng.expovariate(1 / per_conversation))))
        left -= count
        yield random_conversation(first, second, count, rng, archived=archived)
