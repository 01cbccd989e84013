"""A realistic chat corpus, generated in bulk: users, direct and group conversations, messages, cursors, notifications.

For benchmarks that need a deployment-sized database (search latency, the
growth benchmarks): ``manage.py generate_corpus --users 1000 --conversations
20000 --messages 1000000`` writes in minutes what a busy team would write in a
year. What it writes, and why it looks like a real deployment:

- **Users** ``<prefix><n>`` (``corpus-1`` …), all with the same password
  (``--password``, hashed once), with a popularity drawn from a Zipf law: a
  few people are in many conversations, most in a few.
- **Conversations**: direct ones between two users, and groups
  (``--group-share``) whose sizes follow a long tail (most have 3-8 members,
  a few are near ``--max-group-members``). Activity follows a long tail too:
  a few conversations hold a large share of the messages, many hold one or two.
- **Messages** in one global timeline over ``--days`` days (busier by day
  than by night), so that ids, seqs and times all grow together as they do
  in a live server. Each conversation writes in one script (Latin-alphabet
  English, Cyrillic Russian, Chinese/Japanese without spaces, or a mix);
  words are drawn from a Zipf vocabulary (real words first, then made-up
  ones), so frequencies go from "in most messages" to "in one"; some
  messages carry emoji (with skin tones and joiners).
- **Group life**: founders are in from the ``created`` event; others join
  later (``members_added``) and some leave (``member_left``), so visibility
  windows are real windows; senders are always current members.
- **Cursors**: most members have read everything, some are a few messages
  behind, a few far behind (their ``delivered_seq`` at or above ``read_seq``).
- **Notifications**: a ``new_message`` row for members with unread messages.
- **Archive**: the oldest ``--archived`` share of events sits in the archive
  table, with the ids they had.
- **The far end of the tail**, for the growth benchmarks: ``--hub-conversations
  N`` puts the first user in N conversations (direct ones with N distinct
  people as far as there are people, groups beyond), and ``--backlog N``
  adds N messages, spread over the span, to one direct conversation whose
  second member has read (and been delivered) none of its last N events.
- **Search index**: written directly (``--no-index`` leaves every message
  queued for the indexer instead, to time indexing).

Everything goes in with ``COPY`` on PostgreSQL and batched ``INSERT`` s on
SQLite, ids given explicitly, after the rows already there (a corpus can be
added to a database in use; its usernames must not exist yet).
"""

from __future__ import annotations

import datetime
import itertools
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection

DEFAULT_PASSWORD = "linkup-corpus-password"
END = datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC)

# --- Vocabularies -----------------------------------------------------------------

ENGLISH = [
    "the",
    "to",
    "i",
    "you",
    "a",
    "and",
    "it",
    "is",
    "that",
    "of",
    "in",
    "for",
    "on",
    "we",
    "this",
    "be",
    "can",
    "have",
    "are",
    "with",
    "just",
    "not",
    "do",
    "at",
    "so",
    "but",
    "if",
    "my",
    "me",
    "what",
    "will",
    "get",
    "know",
    "was",
    "all",
    "about",
    "be",
    "like",
    "up",
    "no",
    "there",
    "think",
    "your",
    "how",
    "one",
    "out",
    "yes",
    "ok",
    "okay",
    "thanks",
    "good",
    "now",
    "when",
    "should",
    "then",
    "need",
    "time",
    "today",
    "tomorrow",
    "going",
    "see",
    "let",
    "from",
    "work",
    "would",
    "make",
    "meeting",
    "lunch",
    "deploy",
    "release",
    "branch",
    "review",
    "merge",
    "build",
    "test",
    "tests",
    "server",
    "client",
    "database",
    "query",
    "index",
    "search",
    "message",
    "chat",
    "group",
    "call",
    "later",
    "morning",
    "evening",
    "weekend",
    "please",
    "sure",
    "great",
    "nice",
    "cool",
    "sorry",
    "maybe",
    "back",
    "home",
    "office",
    "team",
    "project",
    "issue",
    "bug",
    "fix",
    "fixed",
    "staging",
    "production",
    "config",
    "docs",
    "ticket",
    "sprint",
    "standup",
    "coffee",
    "pizza",
    "train",
    "flight",
    "hotel",
    "trip",
    "photo",
    "video",
    "link",
    "file",
    "update",
    "version",
    "versions",
    "api",
    "login",
    "password",
    "cache",
    "queue",
    "worker",
    "email",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "birthday",
    "party",
    "dinner",
    "movie",
    "game",
    "music",
    "book",
]
RUSSIAN = [
    "и",
    "в",
    "не",
    "на",
    "я",
    "что",
    "он",
    "с",
    "это",
    "как",
    "а",
    "по",
    "но",
    "она",
    "к",
    "ты",
    "мы",
    "да",
    "нет",
    "привет",
    "спасибо",
    "хорошо",
    "завтра",
    "сегодня",
    "встреча",
    "работа",
    "проект",
    "сервер",
    "база",
    "данных",
    "поиск",
    "сообщение",
    "группа",
    "вечером",
    "утром",
    "обед",
    "кофе",
    "поезд",
    "отпуск",
    "фото",
    "видео",
    "ссылка",
    "файл",
    "версия",
    "релиз",
    "ошибка",
    "исправил",
    "тест",
    "когда",
    "где",
    "почему",
    "можно",
    "нужно",
    "будет",
    "было",
    "буду",
    "пока",
    "ещё",
    "уже",
    "очень",
]
HANZI = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可"
    "她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已"
    "老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力"
    "机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军"
    "产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常"
    "提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服"
    "毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言"
)
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼぱぴぷぺぽ"
KATAKANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダデドバビブベボパピプペポー"
JAPANESE_PARTICLES = ["は", "が", "を", "に", "で", "と", "の", "も", "です", "ます", "した", "ですね", "よ", "か"]
EMOJI = [
    "👍",
    "👍🏽",
    "😂",
    "❤️",
    "🎉",
    "🙏",
    "😊",
    "🔥",
    "✅",
    "🚀",
    "😅",
    "🤔",
    "👀",
    "💯",
    "🙌",
    "😭",
    "👨‍👩‍👧",
    "🏳️‍🌈",
    "☕",
    "🍕",
    "✈️",
    "🐛",
    "📎",
    "⚠️",
    "🇫🇷",
    "👋🏿",
    "🤝",
    "😴",
    "🎂",
    "📷",
]
LATIN_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ar", "en", "is", "or", "ul")]
CYRILLIC_SYLLABLES = [c + v for c in "бвгдзклмнпрстфх" for v in ("а", "е", "и", "о", "у", "ы", "я", "ой", "ан", "ер")]

#: how a conversation writes, and how often (weights)
SCRIPTS = {"english": 0.6, "russian": 0.15, "chinese": 0.1, "japanese": 0.07, "mixed": 0.08}


def _made_up(rng: random.Random, syllables: list[str], count: int, taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3, 3, 3, 4))))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


@dataclass
class Vocabulary:
    """Words with Zipf frequencies (rank r drawn with weight 1 / r^exponent), real words at the top ranks."""

    words: list[str]
    cumulative: list[float]

    @classmethod
    def zipf(cls, words: list[str], exponent: float = 1.05) -> Vocabulary:
        weights = [1.0 / (rank**exponent) for rank in range(1, len(words) + 1)]
        return cls(words, list(itertools.accumulate(weights)))

    def draw(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)


def vocabularies(rng: random.Random, size: int = 20000) -> dict[str, Vocabulary]:
    taken: set[str] = set(ENGLISH) | set(RUSSIAN)
    english = ENGLISH + _made_up(rng, LATIN_SYLLABLES, size - len(ENGLISH), taken)
    russian = RUSSIAN + _made_up(rng, CYRILLIC_SYLLABLES, size // 2 - len(RUSSIAN), taken)
    chinese = sorted(
        {"".join(rng.choice(HANZI) for _ in range(rng.choice((1, 2, 2, 2, 3, 4)))) for _ in range(size // 4)}
    )
    rng.shuffle(chinese)
    katakana = ["".join(rng.choice(KATAKANA) for _ in range(rng.randint(2, 5))) for _ in range(size // 8)]
    kanji = ["".join(rng.choice(HANZI) for _ in range(rng.choice((1, 2, 2)))) for _ in range(size // 8)]
    japanese = [w for pair in zip(kanji, katakana, strict=False) for w in pair]
    return {
        "english": Vocabulary.zipf(english),
        "russian": Vocabulary.zipf(russian),
        "chinese": Vocabulary.zipf(chinese, 0.95),
        "japanese": Vocabulary.zipf(japanese, 0.95),
    }


def message_text(rng: random.Random, script: str, vocab: dict[str, Vocabulary]) -> str:
    """One message: a few to a few dozen words of the conversation's script, sometimes emoji."""
    length = max(1, min(60, int(rng.lognormvariate(1.9, 0.7))))
    if script == "mixed":
        script = rng.choice(("english", "russian", "chinese", "japanese"))
    words = vocab[script].draw(rng, length)
    if script == "chinese":
        text = "".join(w + ("，" if rng.random() < 0.1 else "") for w in words) + rng.choice(("", "。", "！", "？"))
    elif script == "japanese":
        parts = []
        for w in words:
            parts.append(w)
            if rng.random() < 0.6:
                parts.append(rng.choice(JAPANESE_PARTICLES))
        text = "".join(parts) + rng.choice(("", "。", "！"))
    else:
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        text = " ".join(words) + rng.choice(("", "", ".", "!", "?", "..."))
    if rng.random() < 0.15:
        emoji = "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
        text = f"{emoji} {text}" if rng.random() < 0.3 else f"{text} {emoji}"
    return text


# --- The plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusOptions:
    users: int = 1000
    conversations: int = 20000
    messages: int = 1_000_000
    #: share of conversations that are groups
    group_share: float = 0.2
    max_group_members: int = 256
    #: share of the oldest events that sits in the archive table
    archived: float = 0.1
    days: int = 365
    seed: int = 16
    prefix: str = "corpus-"
    password: str = DEFAULT_PASSWORD
    #: write the search entries directly (False: leave the messages queued for the indexer)
    index: bool = True
    notifications: bool = True
    #: rows per INSERT batch / COPY
    batch: int = 20000
    #: the long tail's far end: the first user is a member of this many conversations (0: as popularity falls)
    hub_conversations: int = 0
    #: this many extra messages, the newest, in one direct conversation whose second member read none of them
    backlog: int = 0


@dataclass
class Member:
    user: int
    joined_seq: int = 0
    left_seq: int | None = None
    role: str = "member"


@dataclass
class PlannedConversation:
    id: int
    kind: str
    members: list[Member]
    script: str
    title: str = ""
    #: group life: (message index before which it happens, "add" or "leave", member index)
    changes: list[tuple[int, str, int]] = field(default_factory=list)
    seq: int = 0
    last_message_seq: int = 0
    membership_seq: int = 0
    last_at: datetime.datetime | None = None
    created_at: datetime.datetime | None = None
    messages_seen: int = 0
    #: the users who may send now
    current: list[int] = field(default_factory=list)


@dataclass
class Written:
    users: int = 0
    conversations: int = 0
    groups: int = 0
    participants: int = 0
    events: int = 0
    messages: int = 0
    archived: int = 0
    notifications: int = 0
    entries: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.users} users, {self.conversations} conversations ({self.groups} groups), "
            f"{self.participants} memberships, {self.messages} messages ({self.events} events, {self.archived} archived), "
            f"{self.notifications} notifications, {self.entries} search entries in {self.seconds:.1f} s"
        )


def _long_tail(rng: random.Random, alpha: float, low: int, high: int) -> int:
    """An integer from a Pareto law above ``low``, capped at ``high``."""
    return min(high, int(low * rng.paretovariate(alpha)))


class CorpusWriter:
    """Plans the corpus with one seeded random generator and writes it table by table."""

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
    CONVERSATION_COLUMNS = (
        "id",
        "kind",
        "direct_key",
        "title",
        "created_by_id",
        "last_seq",
        "last_message_seq",
        "membership_seq",
        "member_count",
        "created_at",
        "last_message_at",
    )
    PARTICIPANT_COLUMNS = (
        "id",
        "conversation_id",
        "user_id",
        "role",
        "joined_at",
        "joined_seq",
        "left_seq",
        "left_at",
        "delivered_seq",
        "read_seq",
        "delivered_at",
        "read_at",
        "muted_until",
        "cleared_seq",
    )
    EVENT_COLUMNS = (
        "id",
        "conversation_id",
        "seq",
        "kind",
        "sender_id",
        "content",
        "client_id",
        "target_seq",
        "data",
        "created_at",
    )
    ENTRY_COLUMNS = ("event_id", "conversation_id", "seq", "sender_id", "created_at", "text")
    NOTIFICATION_COLUMNS = (
        "id",
        "user_id",
        "kind",
        "title",
        "body",
        "url",
        "group_key",
        "count",
        "message_id",
        "created_at",
        "updated_at",
        "read",
        "read_at",
        "pushed_at",
        "email_state",
        "emailed_at",
    )

    def __init__(self, options: CorpusOptions, *, progress: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.progress = progress or (lambda line: None)
        self.written = Written()
        self.pending: dict[str, list[tuple[Any, ...]]] = {}
        self.on_postgres = connection.vendor == "postgresql"
        self.next_id = {
            table: self._one(f"SELECT COALESCE(MAX(id), 0) FROM {table}") + 1
            for table in ("auth_user", "messaging_conversation", "messaging_participant", "messaging_notification")
        }
        self.next_event = (
            max(
                self._one("SELECT COALESCE(MAX(id), 0) FROM messaging_event"),
                self._one("SELECT COALESCE(MAX(id), 0) FROM messaging_archivedevent"),
            )
            + 1
        )
        self.first_event = self.next_event

    @staticmethod
    def _one(sql: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return int(cursor.fetchone()[0])

    def _ids(self, table: str, count: int) -> list[int]:
        start = self.next_id[table]
        self.next_id[table] += count
        return list(range(start, start + count))

    # --- writing ------------------------------------------------------------------

    def run(self) -> Written:
        started = time.perf_counter()
        if not self.on_postgres:
            with connection.cursor() as cursor:
                # One long transaction: with SQLite's default 2 MB page cache
                # the same pages would be spilled to the WAL again and again.
                cursor.execute("PRAGMA cache_size = -1000000")
        user_ids, popularity = self._users()
        conversations = self._conversations(user_ids, popularity)
        self._timeline(conversations)
        self._members_and_notifications(conversations)
        self.flush()
        self._finish()
        self.written.seconds = time.perf_counter() - started
        return self.written

    def _users(self) -> tuple[list[int], list[float]]:
        options = self.options
        ids = self._ids("auth_user", options.users)
        hashed = make_password(options.password)
        joined = END - datetime.timedelta(days=options.days + 1)
        self.usernames: dict[int, str] = {}
        for pk in ids:
            name = f"{options.prefix}{pk - ids[0] + 1}"
            self.usernames[pk] = name
            self._queue("auth_user", (pk, hashed, False, name, "", "", f"{name}@corpus.invalid", False, True, joined))
        self.flush()
        self.written.users = len(ids)
        popularity = [1.0 / (rank**0.8) for rank in range(1, len(ids) + 1)]
        self.rng.shuffle(popularity)
        self.progress(f"users: {len(ids)}")
        return ids, popularity

    def _conversations(self, user_ids: list[int], popularity: list[float]) -> list[PlannedConversation]:
        options, rng = self.options, self.rng
        cumulative = list(itertools.accumulate(popularity))
        scripts, script_weights = zip(*SCRIPTS.items(), strict=True)
        pairs: set[tuple[int, int]] = set()
        planned: list[PlannedConversation] = []
        ids = self._ids("messaging_conversation", options.conversations)
        max_group = max(3, min(options.max_group_members, len(user_ids)))
        hub = user_ids[0]
        hub_peers = len(user_ids) - 1
        for n, pk in enumerate(ids):
            script = rng.choices(scripts, weights=script_weights)[0]
            with_hub = n < options.hub_conversations
            if with_hub and hub_peers and rng.random() >= options.group_share:
                # The hub's direct conversations: a partner not yet paired with it, drawn
                # uniformly (by popularity the last free partners would take long to hit).
                while True:
                    b = rng.choice(user_ids[1:])
                    key = (hub, b)
                    if key not in pairs:
                        pairs.add(key)
                        break
                hub_peers -= 1
                planned.append(PlannedConversation(pk, "direct", [Member(hub), Member(b)], script, current=[hub, b]))
                continue
            if len(user_ids) >= 3 and (with_hub or rng.random() < options.group_share):
                size = _long_tail(rng, 1.3, 3, max_group)
                chosen: set[int] = {hub} if with_hub else set()
                while len(chosen) < size:
                    chosen.update(rng.choices(user_ids, cum_weights=cumulative, k=size - len(chosen)))
                people = list(chosen)
                rng.shuffle(people)
                if with_hub:  # a founder, so that it is in from the start
                    people.remove(hub)
                    people.insert(0, hub)
                founders = max(2, int(len(people) * rng.uniform(0.6, 1.0)))
                members = [Member(user, role="owner" if i == 0 else "member") for i, user in enumerate(people)]
                conversation = PlannedConversation(pk, "group", members, script, title=_title(rng, script))
                conversation.changes = [(-1, "found", i) for i in range(founders)]
                conversation.changes += [(0, "add", i) for i in range(founders, len(people))]  # positions set later
                planned.append(conversation)
                self.written.groups += 1
            else:
                while True:
                    a, b = rng.choices(user_ids, cum_weights=cumulative, k=2)
                    key = (min(a, b), max(a, b))
                    if a != b and key not in pairs:
                        pairs.add(key)
                        break
                planned.append(PlannedConversation(pk, "direct", [Member(a), Member(b)], script, current=[a, b]))
        self.written.conversations = len(planned)
        self.progress(f"conversations: {len(planned)} ({self.written.groups} groups)")
        return planned

    def _timeline(self, conversations: list[PlannedConversation]) -> None:
        """Every event in one global order of time: conversations chosen by activity, groups living their lives."""
        options, rng = self.options, self.rng
        activity = [rng.lognormvariate(0, 1.6) for _ in conversations]
        picks = rng.choices(range(len(conversations)), weights=activity, k=options.messages)
        self.backlog_conversation: PlannedConversation | None = None
        directs = [i for i, c in enumerate(conversations) if c.kind == "direct"]
        if options.backlog and directs:
            # The last direct conversation takes ``backlog`` more messages, spread
            # over the whole span (at the end they would push every other
            # conversation's last message back by their share of the time).
            index = directs[-1]
            self.backlog_conversation = conversations[index]
            picks += [index] * options.backlog
            rng.shuffle(picks)  # the others are independent draws: shuffled, they are still
        counts = [0] * len(conversations)
        for index in picks:
            counts[index] += 1
        for conversation, count in zip(conversations, counts, strict=True):
            if conversation.kind == "group":
                self._plan_group_life(conversation, count)
        vocab = vocabularies(rng)
        start = END - datetime.timedelta(days=options.days)
        span = (END - start).total_seconds()
        times = sorted(_busy_moment(rng) for _ in range(len(picks)))
        archive_below = self.first_event + int(len(picks) * options.archived)
        self._archive_below = archive_below
        for n, (index, moment) in enumerate(zip(picks, times, strict=True)):
            conversation = conversations[index]
            at = start + datetime.timedelta(seconds=moment * span)
            if conversation.created_at is None:
                conversation.created_at = at - datetime.timedelta(seconds=1)
                if conversation.kind == "group":
                    self._group_created(conversation, conversation.created_at)
            if conversation.kind == "group":
                self._apply_changes(conversation, at)
            sender = rng.choice(conversation.current)
            self._event(conversation, "message", sender, message_text(rng, conversation.script, vocab), at)
            conversation.messages_seen += 1
            if n and n % 100000 == 0:
                self.progress(f"messages: {n}")
        self.written.messages = len(picks)

    def _plan_group_life(self, conversation: PlannedConversation, count: int) -> None:
        """When late members join (``add``) and some members leave (``leave``), by message index."""
        rng = self.rng
        changes = [c for c in conversation.changes if c[1] == "found"]
        for _, _, member in (c for c in conversation.changes if c[1] == "add"):
            changes.append((rng.randint(0, max(0, count - 1)), "add", member))
        leavers = [i for i in range(1, len(conversation.members)) if rng.random() < 0.08]
        for member in leavers:
            changes.append((rng.randint(0, max(0, count - 1)) + 1, "leave", member))
        conversation.changes = sorted(changes)

    def _group_created(self, conversation: PlannedConversation, at: datetime.datetime) -> None:
        founders = [conversation.members[i] for when, what, i in conversation.changes if what == "found"]
        usernames = [self._username(m.user) for m in founders]
        seq = self._event(
            conversation, "created", founders[0].user, "", at, {"title": conversation.title, "members": usernames}
        )
        for member in founders:
            member.joined_seq = seq
        conversation.current = [m.user for m in founders]
        for member in conversation.members:
            if member not in founders:
                member.joined_seq = -1  # not in yet
        conversation.changes = [c for c in conversation.changes if c[1] != "found"]

    def _apply_changes(self, conversation: PlannedConversation, at: datetime.datetime) -> None:
        while conversation.changes and conversation.changes[0][0] <= conversation.messages_seen:
            _, what, index = conversation.changes.pop(0)
            member = conversation.members[index]
            owner = conversation.members[0]
            if what == "add" and member.joined_seq == -1:
                seq = self._event(
                    conversation, "members_added", owner.user, "", at, {"users": [self._username(member.user)]}
                )
                member.joined_seq = seq
                conversation.current.append(member.user)
            elif what == "leave" and member.joined_seq >= 0 and member.left_seq is None:
                seq = self._event(conversation, "member_left", member.user, "", at, {})
                member.left_seq = seq
                conversation.current.remove(member.user)

    def _username(self, user_id: int) -> str:
        return self.usernames[user_id]

    def _event(
        self,
        conversation: PlannedConversation,
        kind: str,
        sender: int,
        content: str,
        at: datetime.datetime,
        data: dict[str, Any] | None = None,
    ) -> int:
        conversation.seq += 1
        seq = conversation.seq
        pk = self.next_event
        self.next_event += 1
        row = (pk, conversation.id, seq, kind, sender, content, f"corpus-{pk}", None, _json(data or {}), at)
        if pk < self._archive_below:
            self._queue("messaging_archivedevent", (*row, at))
            self.written.archived += 1
        else:
            self._queue("messaging_event", row)
        self.written.events += 1
        if kind == "message":
            conversation.last_message_seq = seq
            if self.options.index:
                text = _search_text(content)
                if text != " ":
                    entry = (pk, conversation.id, seq, sender, at, text)
                    self._queue("messaging_searchentry", (*entry, _vector(text)) if self.on_postgres else entry)
                    self.written.entries += 1
        elif kind in ("created", "members_added", "member_left"):
            conversation.membership_seq = seq
        conversation.last_at = at
        return seq

    def _members_and_notifications(self, conversations: list[PlannedConversation]) -> None:
        rng = self.rng
        for conversation in conversations:
            if conversation.created_at is None:  # no message at all: created, quiet since
                conversation.created_at = END - datetime.timedelta(days=rng.uniform(0, self.options.days))
                if conversation.kind == "group":
                    self._group_created(conversation, conversation.created_at)
            current = [m for m in conversation.members if m.joined_seq >= 0 and m.left_seq is None]
            self._queue(
                "messaging_conversation",
                (
                    conversation.id,
                    conversation.kind,
                    None
                    if conversation.kind == "group"
                    else f"{min(m.user for m in conversation.members)}:{max(m.user for m in conversation.members)}",
                    conversation.title,
                    conversation.members[0].user,
                    conversation.seq,
                    conversation.last_message_seq,
                    conversation.membership_seq,
                    len(current),
                    conversation.created_at,
                    conversation.last_at or conversation.created_at,
                ),
            )
            for member in conversation.members:
                if member.joined_seq < 0:
                    continue  # planned to join after the last message
                end = member.left_seq if member.left_seq is not None else conversation.seq
                behind = (
                    0
                    if rng.random() < 0.7
                    else int(rng.expovariate(1 / 15))
                    if rng.random() < 0.8
                    else rng.randint(0, end)
                )
                read = max(member.joined_seq, end - behind)
                delivered = max(read, min(end, read + int(rng.expovariate(1 / 3))))
                if conversation is self.backlog_conversation and member is conversation.members[1]:
                    read = delivered = max(0, end - self.options.backlog)
                pk = self._ids("messaging_participant", 1)[0]
                at = conversation.last_at or conversation.created_at
                self._queue(
                    "messaging_participant",
                    (
                        pk,
                        conversation.id,
                        member.user,
                        member.role,
                        conversation.created_at,
                        member.joined_seq,
                        member.left_seq,
                        at if member.left_seq is not None else None,
                        delivered,
                        read,
                        at,
                        at,
                        None,
                        0,
                    ),
                )
                self.written.participants += 1
                if self.options.notifications and end > read and member.left_seq is None:
                    self._notification(conversation, member, end - read, at)

    def _notification(
        self, conversation: PlannedConversation, member: Member, unread: int, at: datetime.datetime
    ) -> None:
        pk = self._ids("messaging_notification", 1)[0]
        where = f"/messages/c/{conversation.id}/"
        title = f"{unread} new message{'s' if unread > 1 else ''}" + (
            f" in {conversation.title}" if conversation.title else ""
        )
        self._queue(
            "messaging_notification",
            (
                pk,
                member.user,
                "new_message",
                title[:200],
                "",
                where,
                f"conversation:{conversation.id}",
                unread,
                None,
                at,
                at,
                False,
                None,
                None,
                "none",
                None,
            ),
        )
        self.written.notifications += 1

    # --- rows out -------------------------------------------------------------------

    ORDER = (
        "auth_user",
        "messaging_conversation",
        "messaging_participant",
        "messaging_event",
        "messaging_archivedevent",
        "messaging_searchentry",
        "messaging_notification",
    )

    def _columns(self, table: str) -> tuple[str, ...]:
        return {
            "auth_user": self.USER_COLUMNS,
            "messaging_conversation": self.CONVERSATION_COLUMNS,
            "messaging_participant": self.PARTICIPANT_COLUMNS,
            "messaging_event": self.EVENT_COLUMNS,
            "messaging_archivedevent": (*self.EVENT_COLUMNS, "archived_at"),
            "messaging_searchentry": (*self.ENTRY_COLUMNS, "vector") if self.on_postgres else self.ENTRY_COLUMNS,
            "messaging_notification": self.NOTIFICATION_COLUMNS,
        }[table]

    def _queue(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self.pending.setdefault(table, [])
        rows.append(row)
        if len(rows) >= self.options.batch:
            # Foreign keys are checked at commit (Django makes them deferrable):
            # events may go in before their conversation's row.
            self._write(table, self.pending.pop(table))

    def flush(self) -> None:
        for table in self.ORDER:
            rows = self.pending.pop(table, [])
            if rows:
                self._write(table, rows)

    def _write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        columns = self._columns(table)
        for start in range(0, len(rows), self.options.batch):
            chunk = rows[start : start + self.options.batch]
            if self.on_postgres:
                with (
                    connection.cursor() as cursor,
                    cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
                ):
                    for row in chunk:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                adapt = connection.ops.adapt_datetimefield_value
                chunk = [tuple(adapt(v) if isinstance(v, datetime.datetime) else v for v in row) for row in chunk]
                with connection.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", chunk)
                    if table == "messaging_searchentry":
                        # The FTS5 rows, which the indexer writes beside its entries (migration 0019).
                        _insert_fts_rows(cursor, [(row[0], row[-1]) for row in chunk])

    def _finish(self) -> None:
        """Queued entries of what was indexed here go; the planner learns the new tables; PostgreSQL's id sequences move past the ids given."""
        with connection.cursor() as cursor:
            if self.options.index:
                cursor.execute(
                    "DELETE FROM messaging_searchqueue WHERE event_id >= %s AND event_id < %s",
                    [self.first_event, self.next_event],
                )
            # Without statistics PostgreSQL takes a bulk-loaded table for empty
            # and joins it the slow way (a search went from 20 to 300 ms).
            cursor.execute("ANALYZE")
            if not self.on_postgres:
                return
            for table in (
                "auth_user",
                "messaging_conversation",
                "messaging_participant",
                "messaging_notification",
                "messaging_event",
            ):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), "
                    f"(SELECT COALESCE(MAX(id), 0) FROM messaging_archivedevent), 1))"
                    if table == "messaging_event"
                    else f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
                )


def _busy_moment(rng: random.Random) -> float:
    """A moment in [0, 1) of the span, three times as likely by day (08-20 h) as by night."""
    while True:
        moment = rng.random()
        hour = (moment * 24 * 365) % 24
        if 8 <= hour < 20 or rng.random() < 1 / 3:
            return moment


def _title(rng: random.Random, script: str) -> str:
    names = {
        "english": ["Team", "Trip", "Family", "Book club", "Release", "Football", "Lunch", "Project", "Ops", "Design"],
        "russian": ["Команда", "Поездка", "Семья", "Работа", "Дача"],
        "chinese": ["团队", "家人", "旅行", "项目"],
        "japanese": ["チーム", "家族", "旅行", "プロジェクト"],
        "mixed": ["Friends", "Друзья", "朋友", "友達"],
    }[script]
    return f"{rng.choice(names)} {rng.randint(1, 999)}"


def _json(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _search_text(content: str) -> str:
    from messaging.store.search.text import search_text

    return search_text(content)


def _vector(text: str) -> str:
    from messaging.store.search.index import vector_literal

    return vector_literal(text)


def _insert_fts_rows(cursor: Any, rows: list[tuple[int, str]]) -> None:
    from messaging.store.search.index import insert_fts_rows

    insert_fts_rows(cursor, rows)


def word_frequencies(texts: Iterable[str]) -> dict[str, int]:
    """In how many of ``texts`` (search texts) each word appears (for picking benchmark queries)."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in set(text.split()):
            counts[word] = counts.get(word, 0) + 1
    return counts


def closest(counts: dict[str, int], target: int, *, min_length: int = 3) -> tuple[str, int]:
    """The word whose count is closest to ``target`` (words of at least ``min_length`` characters)."""
    best = min(
        ((word, count) for word, count in counts.items() if len(word) >= min_length),
        key=lambda item: (abs(math.log(item[1]) - math.log(target)), item[0]),
    )
    return best
