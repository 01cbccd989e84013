"""An open socket keeps its access only as long as the session it was opened with.

The handshake checks the session once (``AuthMiddlewareStack``). After that a
socket would stay open through a password change in another browser, an
admin deactivating the account, or its deletion. :class:`SessionGuard`
repeats the handshake's check on a fresh read of the session, and closes the
socket with ``CLOSE_SIGNED_OUT`` (4401) when it fails:

- at once when ``messaging.signals`` announces a change of the user
  (``session.recheck`` on the user's group ``user.<id>``);
- and on a timer, at least every ``MESSAGING_SESSION_RECHECK_SECONDS``, for
  what no signal tells (a queryset ``update()``, an expired or deleted
  session, another process on the in-memory layer).

The session that changed the password stays open: Django gives it a new key
and the new hash (``update_session_auth_hash``), and the announcement carries
the old key -> new key, so the socket follows its session.
"""

from __future__ import annotations

import asyncio
import logging
import random
from importlib import import_module
from typing import Any, Protocol

from autobahn.exception import Disconnected
from channels.auth import get_user
from django.conf import settings

from .. import conf
from ..error_models import Severity
from ..logging_utils import category_for_exception, messaging_logger
from ..store.users import User

log = logging.getLogger("messaging.sessions")

# A periodic check can land inside the very request that changed this
# session's password: after the new hash is saved, before the new session key
# is announced (when the response is done). A failed periodic check is
# therefore confirmed once, this long after, before the socket is closed.
RENEWAL_GRACE_SECONDS = 2.0


async def session_is_current(session_key: str | None, user_id: int) -> bool:
    """Would ``session_key`` still sign in as ``user_id``? The handshake's own check, on a fresh read.

    False when the session is gone or expired, its auth hash no longer
    matches the user's (password changed), or the user is inactive or
    deleted. As at the handshake (and as Django does on HTTP), a session
    whose hash no longer matches is flushed.
    """
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = await get_user({"session": store})  # type: ignore[typeddict-item]  # get_user reads only the session
    return bool(user.is_authenticated) and user.pk == user_id


def recheck_interval(seconds: float) -> float:
    """The next periodic check's delay: at most ``seconds``, spread so that the processes of a deployment do not check together."""
    return seconds * random.uniform(0.75, 1.0)


class GuardedSocket(Protocol):
    """What :class:`SessionGuard` needs of its consumer (a ``MessagingConsumer`` once it is connected)."""

    session_key: str | None
    user: User
    closing: bool

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None: ...


class SessionGuard:
    """Closes one consumer's socket when its session's access ended.

    The consumer provides ``session_key``, ``user``, ``closing``, ``limits``
    and ``close(code=...)``; the guard is started once the socket is accepted and
    stopped when it leaves. Its periodic check is :data:`watch`'s, shared by
    every socket of the process; a ``session.recheck`` event checks at once.
    """

    def __init__(self, consumer: GuardedSocket) -> None:
        self.consumer = consumer

    def start(self) -> None:
        watch.add(self)

    def stop(self) -> None:
        watch.discard(self)

    async def recheck(self, event: dict[str, Any]) -> None:
        """A ``session.recheck`` event: follow a renewed session key, then check now."""
        renewed = event.get("renewed") or {}
        if self.consumer.session_key in renewed:
            self.consumer.session_key = renewed[self.consumer.session_key]
        if not await self.is_current():
            await self.end("account change")

    async def is_current(self) -> bool:
        """The check; a database that cannot answer keeps the socket open (the next check decides)."""
        try:
            return await session_is_current(self.consumer.session_key, self.consumer.user.pk)
        except Exception as exc:  # noqa: BLE001 - recorded; failing open beats closing every socket on a blip
            await messaging_logger.athrottled(
                category_for_exception(exc),
                "session_check_failed",
                f"could not re-check a socket's session: {type(exc).__name__}: {exc}",
                self.consumer.user,
                severity=Severity.WARNING,
            )
            return True

    async def end(self, why: str) -> None:
        if self.consumer.closing:
            return
        self.consumer.closing = True
        log.info("closing a socket of user %s: its session ended (%s)", self.consumer.user.pk, why)
        try:
            await self.consumer.close(code=conf.CLOSE_SIGNED_OUT)
        except Disconnected:
            log.debug("the socket was already gone")


class SessionWatch:
    """The periodic check of every open socket's session in this process: one task, one check per session.

    A timer per socket cost each idle socket a task and two queries a
    minute, for sessions mostly shared (a person's tabs share one cookie):
    10,000 idle sockets made about 330 queries a second (docs/benchmark.md,
    issue 19). Here one task wakes at least every
    ``MESSAGING_SESSION_RECHECK_SECONDS`` and checks each distinct (session
    key, user) once; a failed check is confirmed after
    ``RENEWAL_GRACE_SECONDS`` (beside the round, which goes on) before that
    session's sockets are closed.
    """

    def __init__(self) -> None:
        self.guards: set[SessionGuard] = set()
        self._task: asyncio.Task[None] | None = None
        self._confirming: set[asyncio.Task[None]] = set()

    def add(self, guard: SessionGuard) -> None:
        self.guards.add(guard)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run(), name="messaging-session-watch")

    def discard(self, guard: SessionGuard) -> None:
        self.guards.discard(guard)

    async def _run(self) -> None:
        while True:
            interval = recheck_interval(conf.limits().session_recheck)
            await asyncio.sleep(interval)
            await self.check_all(grace=min(RENEWAL_GRACE_SECONDS, interval))

    def sessions(self) -> dict[tuple[str | None, int], list[SessionGuard]]:
        """The open sockets by the session they were opened with (followed through renewals)."""
        grouped: dict[tuple[str | None, int], list[SessionGuard]] = {}
        for guard in list(self.guards):
            consumer = guard.consumer
            if not consumer.closing:
                grouped.setdefault((consumer.session_key, consumer.user.pk), []).append(guard)
        return grouped

    async def check_all(self, *, grace: float) -> None:
        for (session_key, _), guards in self.sessions().items():
            if not await guards[0].is_current():
                task = asyncio.create_task(self._confirm(session_key, guards, grace))
                self._confirming.add(task)
                task.add_done_callback(self._confirming.discard)

    async def _confirm(self, session_key: str | None, guards: list[SessionGuard], grace: float) -> None:
        await asyncio.sleep(grace)
        # A socket may have followed a renewed key meanwhile: only those still on the failed one are judged.
        still = [g for g in guards if g in self.guards and g.consumer.session_key == session_key]
        if still and not await still[0].is_current():
            for guard in still:
                await guard.end("periodic check")


#: the process's periodic session check
watch = SessionWatch()
