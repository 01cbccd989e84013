"""The messaging app's settings and their defaults: the one place they live.

``linkup/settings.py`` sets a ``MESSAGING_*`` setting only when its
environment variable is present; everything else comes from :data:`DEFAULTS`
here. The app reads them through :func:`setting` (or :func:`limits`) at call
time, so that a test's ``settings`` override takes effect at once and nothing
caches a stale value: the limits built from several settings are built once
and again after any ``MESSAGING_*`` setting changes (Django's
``setting_changed``, which ``override_settings`` and pytest-django's
``settings`` fixture send), as Django's own cached settings are.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

DEFAULT_MAX_LENGTH = 4000
DEFAULT_MAX_FRAME_BYTES = 65536
DEFAULT_RATE_LIMIT = "60/10s"
# Each process refreshes its sockets' presence rows this often...
DEFAULT_PRESENCE_HEARTBEAT_SECONDS = 20
# ...and a row not refreshed for this long no longer counts: with the sweep
# running every heartbeat, a killed process's users go offline within
# expiry + heartbeat = 80 s, inside the contract's 90 s.
DEFAULT_PRESENCE_EXPIRY_SECONDS = 60
# A typing indicator not refreshed for this long is turned off.
DEFAULT_TYPING_EXPIRY_SECONDS = 5.0
# A well-behaved client sends a typing frame every couple of seconds at most;
# beyond this it gets rate_limited answers (nothing is broadcast).
DEFAULT_TYPING_RATE_LIMIT = "30/10s"
# Tabs, phones and the notification bell of one user together; beyond this a
# new socket is told why and closed.
DEFAULT_MAX_SOCKETS_PER_USER = 20
# Bad frames one socket may send per window before it is disconnected
# (close code CLOSE_PROTOCOL_ABUSE): a buggy client gets its errors, a
# fuzzer or an attacker gets cut off.
DEFAULT_BAD_FRAME_LIMIT = "30/60s"
# A group as big as a busy team or a family chat; Slack-sized channels would
# want the per-member work of notifications revisited first.
DEFAULT_MAX_GROUP_MEMBERS = 256
# A group's title: a line, not a paragraph.
DEFAULT_MAX_TITLE_LENGTH = 120
# Circuit breakers (SMTP, the channel layer): open after this many failures in
# a row, probe again after this many seconds...
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_RESET_SECONDS = 30.0
# ...except the channel layer's, which probes sooner: while it is open no push
# goes out, and a restarted Redis is usually back within seconds.
DEFAULT_LAYER_BREAKER_RESET_SECONDS = 5.0
# Similar notifications within this window share a row ("3 new messages").
DEFAULT_NOTIFICATION_GROUP_SECONDS = 300.0
# Every socket re-checks its session at least this often (a password change,
# deactivation or deletion announced by a signal closes it at once; this
# catches what no signal tells: a queryset update(), an expired session,
# another process on the in-memory layer). One session and one user read per
# socket per period on the sockets' database thread.
DEFAULT_SESSION_RECHECK_SECONDS = 60.0
# A WebSocket handshake that reaches its consumer later than this after it
# arrived is refused before its database work: daphne refuses one not accepted
# within 5 s anyway (websocket_connect_timeout), and in a reconnect storm the
# work for doomed handshakes delays every one behind them (realtime/handshake.py).
DEFAULT_HANDSHAKE_BUDGET_SECONDS = 3.5
# A WebSocket handshake not accepted this long after it arrived (its opening
# work, the database and channel-layer groups, stalled: Redis reconnecting,
# say) is given up and closed with 1013: autobahn drops a handshake not done
# within daphne's websocket_connect_timeout (5 s) without an HTTP answer, and
# the client would learn nothing but a broken connection (realtime/base.py).
DEFAULT_HANDSHAKE_ACCEPT_SECONDS = 4.5
# WebSocket handshakes pending (arrived, not yet accepted or refused) at once per
# process; one more is refused on arrival, before its session lookup.
DEFAULT_MAX_PENDING_HANDSHAKES = 64
# Links in emails point here.
DEFAULT_SITE_URL = "http://127.0.0.1:8000"
# The durable retry queue's backoff (exponential with full jitter): eight
# attempts span on average about an hour and a half.
DEFAULT_RETRY_BASE_SECONDS = 30.0
DEFAULT_RETRY_MAX_SECONDS = 3600.0
DEFAULT_RETRY_MAX_ATTEMPTS = 8
# Web Push (messaging/notify/webpush.py). Off until a deployment has VAPID
# keys (``manage.py vapid_keys``) and serves HTTPS.
DEFAULT_WEBPUSH_ENABLED = False
# How long a push service keeps a push for a device that is asleep or
# offline. pywebpush's default, 0, drops it unless the device is awake at
# that very moment; a day still reaches a phone that slept through the night,
# and a "new message" older than that is better read in the app.
DEFAULT_WEBPUSH_TTL_SECONDS = 86400
# RFC 8030 urgency: "high" lets a sleeping phone wake for a chat message.
DEFAULT_WEBPUSH_URGENCY = "high"
DEFAULT_WEBPUSH_TIMEOUT_SECONDS = 10.0
# Browsers a user may have subscribed at once; a new one beyond this replaces
# the one that has gone longest without a successful push.
DEFAULT_WEBPUSH_MAX_SUBSCRIPTIONS = 10
# A sender may edit a message, and delete it for everyone, for a day after
# sending it (a group's owner and admins may delete any message at any time).
# "0" never, "off" always; otherwise seconds, or a number with s, m, h or d.
DEFAULT_EDIT_WINDOW = "24h"
DEFAULT_DELETE_WINDOW = "24h"
# Different emoji on one message. Bounds what a message weighs in a page:
# each emoji lists at most REACTION_NAMES_SHOWN names, so a page of 100
# messages stays far below daphne's 1 MiB frame whatever the group's size.
DEFAULT_MAX_REACTIONS = 20
#: WhatsApp allows 3 pinned chats, Telegram 5: a few, so the pins stay a shortlist
DEFAULT_MAX_PINNED_CONVERSATIONS = 5
# --- Abuse and backpressure (docs/hardening.md) ---
# A resend with a client_id already stored (an outbox after a reconnect) is
# answered with its ack and costs no message token while the user sends fewer
# than this many repeats; beyond it a repeat costs a token like a new message,
# so a repeat storm is rate limited too.
DEFAULT_REPEAT_RATE_LIMIT = "60/60s"
# Messages one socket may have queued for the database and not yet answered.
# At or above the message bucket's burst, so an honest outbox burst is limited
# by the rate alone; it bounds what one socket queues when the rate is raised.
DEFAULT_MAX_IN_FLIGHT = 64
# Threads (each with its own database connection) that run the sockets'
# fetches beside the one thread that writes, so a commit never waits behind
# a page (messaging/guards/read_threads.py); 0 reads on the writer's thread.
DEFAULT_READ_THREADS = 1
# Per-socket allowances for frames that cost the server work but store no
# event: pings; reports (received, read, view, mute, mark_read,
# mark_all_read); fetches (sync, history, resume, conversations, members,
# list). Far above what the browser app sends (a ping every 25 s, a report
# per conversation per quarter second, a fetch per page), far below a flood.
DEFAULT_PING_RATE_LIMIT = "30/10s"
DEFAULT_REPORT_RATE_LIMIT = "300/10s"
DEFAULT_FETCH_RATE_LIMIT = "120/10s"
# Milliseconds of database-thread time one user's fetches may take per window,
# all their sockets, processes and HTTP fetches together (messaging/guards/work.py): a
# burst of 2 s (a tab reconnecting reads its inbox and a few pages in a small
# part of that), then a twentieth of the thread, so one account with many
# sockets cannot keep the thread that commits everyone's messages busy.
DEFAULT_FETCH_WORK_LIMIT = "2000/40s"
# The most a refusal over an allowance (any code with retry_after) stops reading that
# socket: its client was told to wait retry_after, and what it sends anyway
# waits in its own TCP buffers instead of costing a parse and an answer each
# (linkup/server.py, FrameQueue). Short, so that an honest client's other
# frames (a message while its fetch waits) are only delayed. 0: off.
DEFAULT_REFUSED_HOLD_SECONDS = 1.0
# Bytes the server may hold for one socket that the client has not read yet
# (Twisted's write buffer under daphne). A client that falls further behind
# is closed with CLOSE_NOT_READING and resumes with sync; one frame more than
# this is the most the server ever holds for it.
DEFAULT_MAX_UNSENT_BYTES = 1024 * 1024
# A page (sync, history, resume, conversations, members, notifications) stops
# adding items past this many bytes of JSON, with has_more set: well under
# autobahn's 1 MiB frame limit, and at least two of the largest items.
DEFAULT_PAGE_BYTES = 256 * 1024
# Anyone who reaches the site may create an account. The project turns this
# off by default on a deployment (linkup/settings.py).
DEFAULT_SIGNUP_ENABLED = True
# --- Attachments (messaging/media/, messaging/store/attachments.py) ---------
# One file: a phone's video clip or a scanned PDF, not a disk image
# (Mattermost's default is 100 MB, Slack's 1 GB; 25 MB keeps a daphne process's
# temporary files and an S3 bucket's bill small).
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
# Files one message may carry (and one upload request may hold).
DEFAULT_MAX_FILES_PER_MESSAGE = 10
# Bytes one user may have stored in all (originals; thumbnails are not counted).
DEFAULT_UPLOAD_QUOTA_BYTES = 1024 * 1024 * 1024
# An image whose header claims more pixels than this is refused before it is
# decoded: 50 MP is a high-end camera's photo; decoding one takes ~150 MB.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
# An upload no message claimed within this many hours is removed by
# ``manage.py purge_orphan_uploads`` (run it from cron).
DEFAULT_UPLOAD_ORPHAN_HOURS = 24.0
# --- Profiles (messaging/http/profile.py, messaging/media/avatars.py) ---------
# The columns' lengths (Profile): the settings below may not pass them.
DISPLAY_NAME_CEILING = 150
STATUS_CEILING = 500
# A display name is a name, not a sentence (Slack allows 80, Matrix 256);
# at most DISPLAY_NAME_CEILING.
DEFAULT_MAX_DISPLAY_NAME_LENGTH = 64
# A status line is one line under a name ("In a meeting until 3"); at most
# STATUS_CEILING.
DEFAULT_MAX_STATUS_LENGTH = 140
# An avatar upload: a phone photo is 2-8 MB; what is stored is a 256 px WebP
# of a few kilobytes whatever was sent.
DEFAULT_MAX_AVATAR_BYTES = 10 * 1024 * 1024
# Where nginx serves the attachment files from (an ``internal`` location):
# when set, downloads answer with ``X-Accel-Redirect: <prefix><storage name>``
# after the access check and Python never streams the bytes.
DEFAULT_ATTACHMENT_ACCEL_PREFIX = ""
# On S3 storage a download redirects to a presigned URL valid this long.
DEFAULT_ATTACHMENT_URL_SECONDS = 60

# Search (messaging/store/search/). A query is a line typed in a search box:
# longer ones are mistakes or abuse, and every term is one more condition
# for the database to check.
DEFAULT_SEARCH_MAX_QUERY_LENGTH = 256
DEFAULT_SEARCH_MAX_TERMS = 16
# A search reads up to a few thousand index rows: a person searches a few
# times a minute; a client firing more is refused with rate_limited.
DEFAULT_SEARCH_RATE_LIMIT = "30/60s"
# A profile change (name, status, picture) is pushed to everyone who shares a
# conversation with the person: a person edits theirs a few times in a row;
# a client changing it in a loop would make every contact's tabs repaint.
DEFAULT_PROFILE_RATE_LIMIT = "10/60s"
# Failed sign-ins (guards/accounts.py: a right password gives its token back).
# Per username: ten typos before any wait, which no one honest reaches, then
# one guess per 30 s (2,880 a day) for whoever guesses at one account. Per
# client address: a spray of usernames from one place, several people behind
# one NAT mistyping included, slowed to one failure per 6 s.
DEFAULT_SIGNIN_RATE_LIMIT = "10/300s"
DEFAULT_SIGNIN_ADDRESS_RATE_LIMIT = "50/300s"
# Every sign-up form posted from one client address, a refused one included:
# a family or an office signing up together fits; an account-making loop
# gets ten an hour.
DEFAULT_SIGNUP_RATE_LIMIT = "10/3600s"
# Reset requests per client address and, apart, per email address: each one
# may mail a stranger, so a few an hour.
DEFAULT_PASSWORD_RESET_RATE_LIMIT = "5/3600s"
# A server process indexes the messages queued for search this often (0:
# never, when `manage.py search_index --loop` runs beside the servers, as
# scripts/start and a deployment do; docs/benchmark.md "Issue 16"). On by default so that a server
# that nobody gave a worker still indexes everything; the tests set 0 (a
# search indexes what is still queued before it reads).
DEFAULT_SEARCH_INDEX_INTERVAL_SECONDS = 1.0
# On SQLite, a server process's own thread copies the write-ahead log into
# the database file (a passive checkpoint) this long after it wrote, instead
# of the commit that crossed SQLite's page threshold doing it on the send
# path (messaging/store/wal.py; 0: SQLite's own checkpoints only).
DEFAULT_SQLITE_CHECKPOINT_SECONDS = 0.5

#: every messaging setting read through :func:`setting`, with its default
DEFAULTS: dict[str, object] = {
    "MESSAGING_MAX_LENGTH": DEFAULT_MAX_LENGTH,
    "MESSAGING_MAX_FRAME_BYTES": DEFAULT_MAX_FRAME_BYTES,
    "MESSAGING_RATE_LIMIT": DEFAULT_RATE_LIMIT,
    "MESSAGING_PRESENCE_HEARTBEAT_SECONDS": DEFAULT_PRESENCE_HEARTBEAT_SECONDS,
    "MESSAGING_PRESENCE_EXPIRY_SECONDS": DEFAULT_PRESENCE_EXPIRY_SECONDS,
    "MESSAGING_TYPING_EXPIRY_SECONDS": DEFAULT_TYPING_EXPIRY_SECONDS,
    "MESSAGING_TYPING_RATE_LIMIT": DEFAULT_TYPING_RATE_LIMIT,
    "MESSAGING_MAX_SOCKETS_PER_USER": DEFAULT_MAX_SOCKETS_PER_USER,
    "MESSAGING_BAD_FRAME_LIMIT": DEFAULT_BAD_FRAME_LIMIT,
    "MESSAGING_MAX_GROUP_MEMBERS": DEFAULT_MAX_GROUP_MEMBERS,
    "MESSAGING_MAX_TITLE_LENGTH": DEFAULT_MAX_TITLE_LENGTH,
    "MESSAGING_BREAKER_FAILURES": DEFAULT_BREAKER_FAILURES,
    "MESSAGING_BREAKER_RESET_SECONDS": DEFAULT_BREAKER_RESET_SECONDS,
    "MESSAGING_LAYER_BREAKER_RESET_SECONDS": DEFAULT_LAYER_BREAKER_RESET_SECONDS,
    "MESSAGING_NOTIFICATION_GROUP_SECONDS": DEFAULT_NOTIFICATION_GROUP_SECONDS,
    "MESSAGING_SESSION_RECHECK_SECONDS": DEFAULT_SESSION_RECHECK_SECONDS,
    "MESSAGING_HANDSHAKE_BUDGET_SECONDS": DEFAULT_HANDSHAKE_BUDGET_SECONDS,
    "MESSAGING_HANDSHAKE_ACCEPT_SECONDS": DEFAULT_HANDSHAKE_ACCEPT_SECONDS,
    "MESSAGING_MAX_PENDING_HANDSHAKES": DEFAULT_MAX_PENDING_HANDSHAKES,
    "MESSAGING_SITE_URL": DEFAULT_SITE_URL,
    "MESSAGING_RETRY_BASE_SECONDS": DEFAULT_RETRY_BASE_SECONDS,
    "MESSAGING_RETRY_MAX_SECONDS": DEFAULT_RETRY_MAX_SECONDS,
    "MESSAGING_RETRY_MAX_ATTEMPTS": DEFAULT_RETRY_MAX_ATTEMPTS,
    "MESSAGING_WEBPUSH_ENABLED": DEFAULT_WEBPUSH_ENABLED,
    "MESSAGING_VAPID_PRIVATE_KEY": "",
    "MESSAGING_VAPID_SUBJECT": "",
    "MESSAGING_WEBPUSH_TTL_SECONDS": DEFAULT_WEBPUSH_TTL_SECONDS,
    "MESSAGING_WEBPUSH_URGENCY": DEFAULT_WEBPUSH_URGENCY,
    "MESSAGING_WEBPUSH_TIMEOUT_SECONDS": DEFAULT_WEBPUSH_TIMEOUT_SECONDS,
    "MESSAGING_WEBPUSH_MAX_SUBSCRIPTIONS": DEFAULT_WEBPUSH_MAX_SUBSCRIPTIONS,
    # Accept http:// push endpoints: only for a push service on this machine
    # (the tests'); browsers' push services are all HTTPS.
    "MESSAGING_WEBPUSH_ALLOW_HTTP": False,
    "SIGNUP_ENABLED": DEFAULT_SIGNUP_ENABLED,
    "MESSAGING_EDIT_WINDOW": DEFAULT_EDIT_WINDOW,
    "MESSAGING_DELETE_WINDOW": DEFAULT_DELETE_WINDOW,
    "MESSAGING_MAX_REACTIONS": DEFAULT_MAX_REACTIONS,
    "MESSAGING_MAX_PINNED_CONVERSATIONS": DEFAULT_MAX_PINNED_CONVERSATIONS,
    "MESSAGING_MAX_UPLOAD_BYTES": DEFAULT_MAX_UPLOAD_BYTES,
    "MESSAGING_MAX_DISPLAY_NAME_LENGTH": DEFAULT_MAX_DISPLAY_NAME_LENGTH,
    "MESSAGING_MAX_STATUS_LENGTH": DEFAULT_MAX_STATUS_LENGTH,
    "MESSAGING_MAX_AVATAR_BYTES": DEFAULT_MAX_AVATAR_BYTES,
    "MESSAGING_MAX_FILES_PER_MESSAGE": DEFAULT_MAX_FILES_PER_MESSAGE,
    "MESSAGING_UPLOAD_QUOTA_BYTES": DEFAULT_UPLOAD_QUOTA_BYTES,
    "MESSAGING_MAX_IMAGE_PIXELS": DEFAULT_MAX_IMAGE_PIXELS,
    "MESSAGING_UPLOAD_ORPHAN_HOURS": DEFAULT_UPLOAD_ORPHAN_HOURS,
    "MESSAGING_ATTACHMENT_ACCEL_PREFIX": DEFAULT_ATTACHMENT_ACCEL_PREFIX,
    "MESSAGING_ATTACHMENT_URL_SECONDS": DEFAULT_ATTACHMENT_URL_SECONDS,
    "MESSAGING_REPEAT_RATE_LIMIT": DEFAULT_REPEAT_RATE_LIMIT,
    "MESSAGING_MAX_IN_FLIGHT": DEFAULT_MAX_IN_FLIGHT,
    "MESSAGING_READ_THREADS": DEFAULT_READ_THREADS,
    "MESSAGING_PING_RATE_LIMIT": DEFAULT_PING_RATE_LIMIT,
    "MESSAGING_REPORT_RATE_LIMIT": DEFAULT_REPORT_RATE_LIMIT,
    "MESSAGING_FETCH_RATE_LIMIT": DEFAULT_FETCH_RATE_LIMIT,
    "MESSAGING_FETCH_WORK_LIMIT": DEFAULT_FETCH_WORK_LIMIT,
    "MESSAGING_REFUSED_HOLD_SECONDS": DEFAULT_REFUSED_HOLD_SECONDS,
    "MESSAGING_MAX_UNSENT_BYTES": DEFAULT_MAX_UNSENT_BYTES,
    "MESSAGING_PAGE_BYTES": DEFAULT_PAGE_BYTES,
    "MESSAGING_SEARCH_MAX_QUERY_LENGTH": DEFAULT_SEARCH_MAX_QUERY_LENGTH,
    "MESSAGING_SEARCH_MAX_TERMS": DEFAULT_SEARCH_MAX_TERMS,
    "MESSAGING_SEARCH_RATE_LIMIT": DEFAULT_SEARCH_RATE_LIMIT,
    "MESSAGING_PROFILE_RATE_LIMIT": DEFAULT_PROFILE_RATE_LIMIT,
    "MESSAGING_SIGNIN_RATE_LIMIT": DEFAULT_SIGNIN_RATE_LIMIT,
    "MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT": DEFAULT_SIGNIN_ADDRESS_RATE_LIMIT,
    "MESSAGING_SIGNUP_RATE_LIMIT": DEFAULT_SIGNUP_RATE_LIMIT,
    "MESSAGING_PASSWORD_RESET_RATE_LIMIT": DEFAULT_PASSWORD_RESET_RATE_LIMIT,
    "MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS": DEFAULT_SEARCH_INDEX_INTERVAL_SECONDS,
    "MESSAGING_SQLITE_CHECKPOINT_SECONDS": DEFAULT_SQLITE_CHECKPOINT_SECONDS,
}

# WebSocket close codes of our own (4000-4999 are for applications).
CLOSE_PROTOCOL_ABUSE = 4400
CLOSE_SIGNED_OUT = 4401
CLOSE_TOO_MANY_SOCKETS = 4429
# The client did not read what was sent to it (MESSAGING_MAX_UNSENT_BYTES):
# reconnect and resume.
CLOSE_NOT_READING = 4408
# daphne drops frames over 1 MiB before the application sees them.
DAPHNE_MAX_MESSAGE_BYTES = 1024 * 1024

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*s\s*$")


@dataclass(frozen=True)
class Rate:
    """``count`` events per ``seconds``."""

    count: int
    seconds: int


def parse_rate(value: str | None) -> Rate | None:
    """Parse ``"N/Ss"`` (e.g. ``"60/10s"``); ``"off"`` or empty means no limit."""
    if value is None or str(value).strip().lower() in {"", "off", "none"}:
        return None
    match = _RATE.match(str(value))
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ImproperlyConfigured(
            f"A messaging rate must look like '60/10s' (N per S seconds) or 'off', not {value!r}."
        )
    return Rate(int(match.group(1)), int(match.group(2)))


_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_WINDOW_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(name: str, value: object) -> datetime.timedelta | None:
    """A time window setting: ``"24h"``, ``"90m"``, ``"3600"`` or ``3600``; ``"off"`` is None (no limit); ``0`` never."""
    text = str(value).strip().lower()
    if text in {"off", "none"}:
        return None
    match = _WINDOW.match(text)
    if not match:
        raise ImproperlyConfigured(
            f"{name} must be a duration such as '24h', '90m' or '3600', '0' or 'off'; not {value!r}."
        )
    return datetime.timedelta(seconds=float(match.group(1)) * _WINDOW_UNITS[match.group(2)])


def edit_window() -> datetime.timedelta | None:
    """How long after sending a message its sender may edit it (None: always)."""
    return parse_window("MESSAGING_EDIT_WINDOW", setting("MESSAGING_EDIT_WINDOW"))


def delete_window() -> datetime.timedelta | None:
    """How long after sending a message its sender may delete it for everyone (None: always)."""
    return parse_window("MESSAGING_DELETE_WINDOW", setting("MESSAGING_DELETE_WINDOW"))


def max_reactions() -> int:
    return int_setting("MESSAGING_MAX_REACTIONS")


def max_pending_handshakes() -> int:
    """Read on every handshake (cheap): the limit of :class:`messaging.realtime.handshake.HandshakeClock`."""
    value = int_setting("MESSAGING_MAX_PENDING_HANDSHAKES")
    if value < 1:
        raise ImproperlyConfigured("MESSAGING_MAX_PENDING_HANDSHAKES must be at least 1.")
    return value


def max_pinned_conversations() -> int:
    return int_setting("MESSAGING_MAX_PINNED_CONVERSATIONS")


@dataclass(frozen=True)
class Limits:
    max_length: int
    max_frame_bytes: int
    rate: Rate | None
    presence_heartbeat: float
    presence_expiry: float
    typing_expiry: float
    typing_rate: Rate | None
    max_sockets_per_user: int
    bad_frame_rate: Rate | None
    max_group_members: int
    max_title_length: int
    session_recheck: float
    repeat_rate: Rate | None = None
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    ping_rate: Rate | None = None
    report_rate: Rate | None = None
    fetch_rate: Rate | None = None
    #: milliseconds of database work per window, per user and process (fetches)
    fetch_work: Rate | None = None
    #: the most a refusal with retry_after (any limit's code) stops reading its socket (0: never)
    refused_hold: float = DEFAULT_REFUSED_HOLD_SECONDS
    max_unsent_bytes: int = DEFAULT_MAX_UNSENT_BYTES
    page_bytes: int = DEFAULT_PAGE_BYTES
    #: events in one page of sync (and resume, per conversation)
    page: int = 100
    #: seconds after its arrival a handshake may reach its consumer and still be served
    handshake_budget: float = DEFAULT_HANDSHAKE_BUDGET_SECONDS
    #: seconds after its arrival a handshake must be accepted, or it is closed with 1013
    handshake_accept: float = DEFAULT_HANDSHAKE_ACCEPT_SECONDS
    #: seconds between a server's writes and its search indexer's drain (0: no indexer thread)
    search_index_interval: float = DEFAULT_SEARCH_INDEX_INTERVAL_SECONDS
    #: seconds between a server's writes and its checkpoint of SQLite's log (0: SQLite's own only)
    sqlite_checkpoint: float = DEFAULT_SQLITE_CHECKPOINT_SECONDS

    def public(self) -> dict[str, int]:
        """The limits a client needs to know, as the ``connected`` frame tells them."""
        return {
            "max_length": self.max_length,
            "max_frame_bytes": self.max_frame_bytes,
            "page": self.page,
            "max_group_members": self.max_group_members,
            "max_title_length": self.max_title_length,
            "page_bytes": self.page_bytes,
        }


def setting(name: str) -> object:
    """The current value of the messaging setting ``name`` (its default when the project does not set it).

    Raw: a project may set any Python value. Code reads a setting through the
    reader of its type below, so a wrong value fails here, with its name, not
    as a ``TypeError`` somewhere down the line.
    """
    return getattr(settings, name, DEFAULTS[name])


def _wrong(name: str, kind: str, value: object) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name} must be {kind}, not {value!r}.")


def int_setting(name: str) -> int:
    """An integer setting (an ``int``, or a string or float ``int()`` takes, as environment variables are)."""
    value = setting(name)
    if isinstance(value, int | float | str):
        return int(value)
    raise _wrong(name, "an integer", value)


def float_setting(name: str) -> float:
    """A number setting (an ``int``/``float``, or a string ``float()`` takes)."""
    value = setting(name)
    if isinstance(value, int | float | str):
        return float(value)
    raise _wrong(name, "a number", value)


def str_setting(name: str) -> str:
    """A text setting; unset (``None``) reads as the empty string."""
    value = setting(name)
    return "" if value is None else str(value)


def bool_setting(name: str) -> bool:
    """A switch: Python truth, as ``linkup/settings.py`` parses the environment variable into a bool."""
    return bool(setting(name))


def rate_setting(name: str) -> Rate | None:
    """A rate setting (``"N/Ss"``, or ``"off"``/empty/``None``: no limit), see :func:`parse_rate`."""
    value = setting(name)
    return parse_rate(None if value is None else str(value))


@functools.cache
def limits() -> Limits:
    max_frame_bytes = int_setting("MESSAGING_MAX_FRAME_BYTES")
    if not 0 < max_frame_bytes < DAPHNE_MAX_MESSAGE_BYTES:
        raise ImproperlyConfigured("MESSAGING_MAX_FRAME_BYTES must be positive and below daphne's 1 MiB frame limit.")
    session_recheck = float_setting("MESSAGING_SESSION_RECHECK_SECONDS")
    if session_recheck <= 0:
        raise ImproperlyConfigured("MESSAGING_SESSION_RECHECK_SECONDS must be a positive number of seconds.")
    handshake_budget = float_setting("MESSAGING_HANDSHAKE_BUDGET_SECONDS")
    if handshake_budget <= 0:
        raise ImproperlyConfigured("MESSAGING_HANDSHAKE_BUDGET_SECONDS must be a positive number of seconds.")
    handshake_accept = float_setting("MESSAGING_HANDSHAKE_ACCEPT_SECONDS")
    if handshake_accept <= handshake_budget:
        raise ImproperlyConfigured(
            "MESSAGING_HANDSHAKE_ACCEPT_SECONDS must be longer than MESSAGING_HANDSHAKE_BUDGET_SECONDS (a handshake "
            "within its budget needs time left to open), and under daphne's websocket_connect_timeout (5 s)."
        )
    page_bytes = int_setting("MESSAGING_PAGE_BYTES")
    if not 2 * max_frame_bytes <= page_bytes <= DAPHNE_MAX_MESSAGE_BYTES // 2:
        raise ImproperlyConfigured(
            "MESSAGING_PAGE_BYTES must hold two of the largest items (2 x MESSAGING_MAX_FRAME_BYTES: an item is "
            "never larger than the frame that made it) and stay within half of the 1 MiB frame limit."
        )
    max_in_flight = int_setting("MESSAGING_MAX_IN_FLIGHT")
    max_unsent_bytes = int_setting("MESSAGING_MAX_UNSENT_BYTES")
    if max_in_flight < 1 or max_unsent_bytes < DAPHNE_MAX_MESSAGE_BYTES // 16:
        raise ImproperlyConfigured(
            "MESSAGING_MAX_IN_FLIGHT must be at least 1 and MESSAGING_MAX_UNSENT_BYTES at least 64 KiB."
        )
    return Limits(
        max_length=int_setting("MESSAGING_MAX_LENGTH"),
        max_frame_bytes=max_frame_bytes,
        rate=rate_setting("MESSAGING_RATE_LIMIT"),
        presence_heartbeat=float_setting("MESSAGING_PRESENCE_HEARTBEAT_SECONDS"),
        presence_expiry=float_setting("MESSAGING_PRESENCE_EXPIRY_SECONDS"),
        typing_expiry=float_setting("MESSAGING_TYPING_EXPIRY_SECONDS"),
        typing_rate=rate_setting("MESSAGING_TYPING_RATE_LIMIT"),
        max_sockets_per_user=int_setting("MESSAGING_MAX_SOCKETS_PER_USER"),
        bad_frame_rate=rate_setting("MESSAGING_BAD_FRAME_LIMIT"),
        max_group_members=int_setting("MESSAGING_MAX_GROUP_MEMBERS"),
        max_title_length=int_setting("MESSAGING_MAX_TITLE_LENGTH"),
        session_recheck=session_recheck,
        repeat_rate=rate_setting("MESSAGING_REPEAT_RATE_LIMIT"),
        max_in_flight=max_in_flight,
        ping_rate=rate_setting("MESSAGING_PING_RATE_LIMIT"),
        report_rate=rate_setting("MESSAGING_REPORT_RATE_LIMIT"),
        fetch_rate=rate_setting("MESSAGING_FETCH_RATE_LIMIT"),
        fetch_work=rate_setting("MESSAGING_FETCH_WORK_LIMIT"),
        refused_hold=float_setting("MESSAGING_REFUSED_HOLD_SECONDS"),
        max_unsent_bytes=max_unsent_bytes,
        page_bytes=page_bytes,
        handshake_budget=handshake_budget,
        handshake_accept=handshake_accept,
        search_index_interval=float_setting("MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS"),
        sqlite_checkpoint=float_setting("MESSAGING_SQLITE_CHECKPOINT_SECONDS"),
    )


@dataclass(frozen=True)
class UploadLimits:
    """The attachment limits (each refused with its own code, docs/hardening.md)."""

    max_bytes: int
    max_files: int
    quota_bytes: int
    max_pixels: int
    orphan_hours: float


@functools.cache
def upload_limits() -> UploadLimits:
    values = UploadLimits(
        max_bytes=int_setting("MESSAGING_MAX_UPLOAD_BYTES"),
        max_files=int_setting("MESSAGING_MAX_FILES_PER_MESSAGE"),
        quota_bytes=int_setting("MESSAGING_UPLOAD_QUOTA_BYTES"),
        max_pixels=int_setting("MESSAGING_MAX_IMAGE_PIXELS"),
        orphan_hours=float_setting("MESSAGING_UPLOAD_ORPHAN_HOURS"),
    )
    if min(values.max_bytes, values.max_files, values.quota_bytes, values.max_pixels) < 1 or values.orphan_hours <= 0:
        raise ImproperlyConfigured("The MESSAGING upload limits must be positive numbers.")
    return values


@dataclass(frozen=True)
class ProfileLimits:
    max_display_name: int
    max_status: int
    max_avatar_bytes: int
    max_pixels: int


@functools.cache
def profile_limits() -> ProfileLimits:
    """The profile limits; a length setting beyond its column's ceiling is a configuration error."""
    limits = ProfileLimits(
        max_display_name=int_setting("MESSAGING_MAX_DISPLAY_NAME_LENGTH"),
        max_status=int_setting("MESSAGING_MAX_STATUS_LENGTH"),
        max_avatar_bytes=int_setting("MESSAGING_MAX_AVATAR_BYTES"),
        max_pixels=int_setting("MESSAGING_MAX_IMAGE_PIXELS"),
    )
    if not 1 <= limits.max_display_name <= DISPLAY_NAME_CEILING:
        raise ImproperlyConfigured(f"MESSAGING_MAX_DISPLAY_NAME_LENGTH must be 1..{DISPLAY_NAME_CEILING}")
    if not 1 <= limits.max_status <= STATUS_CEILING:
        raise ImproperlyConfigured(f"MESSAGING_MAX_STATUS_LENGTH must be 1..{STATUS_CEILING}")
    return limits


def _forget_limits(*, setting: str, **kwargs: object) -> None:
    """A messaging setting changed (a test's override): the cached limits are built again when next read."""
    if setting.startswith("MESSAGING_"):
        for built in (limits, upload_limits, profile_limits):
            built.cache_clear()


setting_changed.connect(_forget_limits, dispatch_uid="messaging.conf.limits")
