"""A session that ends takes its sockets with it.

- Logout closes the sockets opened with that session (``session.logout``).
- A password change, deactivation or deletion of a user makes every socket of
  that user re-check its session at once (``session.recheck``, handled by
  ``messaging.realtime.sessions.SessionGuard``): the sockets of sessions that
  lost their access close with 4401.

Inside an HTTP request the re-check is sent when the response is done
(``SessionRenewalMiddleware``): by then the request's own session is saved
under the new key and hash Django gives it (``update_session_auth_hash``), and
the announcement carries old key -> new key, so the sockets of the session
that changed the password follow it and stay open.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from .media import storage
from .models import Profile
from .pubsub import group_send, user_group
from .store.users import User

#: the group event that makes a user's sockets re-check their sessions
SESSION_RECHECK = "session.recheck"
# The fields of a user that decide whether its sessions still sign in:
# ``password`` feeds the session auth hash, ``is_active`` the backend's check.
ACCESS_FIELDS = frozenset({"password", "is_active"})

# The user ids whose sockets must re-check once the current HTTP response is
# done; None outside a request (re-checks are then sent at once).
_deferred: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("messaging_deferred_rechecks", default=None)


@receiver(user_logged_out, dispatch_uid="messaging.close_sockets_on_logout")
def close_sockets_on_logout(sender: type[User], request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    """Tell every socket of ``user`` that this session ended; the ones opened with it close.

    Sent before Django flushes the session, so the key is still known. Other
    sessions of the same user (another browser, a phone) stay connected.
    """
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is None or not session_key:
        return
    async_to_sync(group_send)(user_group(user.pk), {"type": "session.logout", "session_key": session_key})


def send_recheck(user_id: int, renewed: dict[str, str] | None = None) -> None:
    """Make every socket of ``user_id`` re-check its session now; ``renewed`` maps old session keys to new."""
    event: dict[str, Any] = {"type": SESSION_RECHECK}
    if renewed:
        event["renewed"] = renewed
    async_to_sync(group_send)(user_group(user_id), event)


def request_recheck(user_id: int) -> None:
    """Re-check the sockets of ``user_id`` once the change is committed (and the HTTP response, if any, is done)."""

    def announce() -> None:
        pending = _deferred.get()
        if pending is None:
            send_recheck(user_id)
        else:
            pending.add(user_id)

    transaction.on_commit(announce)


@contextlib.contextmanager
def deferred_rechecks() -> Iterator[set[int]]:
    """Collect the re-checks requested inside the block instead of sending them; the caller sends them."""
    pending: set[int] = set()
    token = _deferred.set(pending)
    try:
        yield pending
    finally:
        _deferred.reset(token)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="messaging.recheck_sessions_on_user_change")
def recheck_sessions_on_user_change(
    sender: type[User], instance: User, created: bool, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    """A saved user may have a new password or be deactivated: their sockets check.

    A new user has no socket, and a save that names only other fields (the
    login's ``last_login``) cannot have changed access.
    """
    if created:
        return
    if update_fields is not None and not ACCESS_FIELDS & set(update_fields):
        return
    request_recheck(instance.pk)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="messaging.recheck_sessions_on_user_delete")
def recheck_sessions_on_user_delete(sender: type[User], instance: User, **kwargs: Any) -> None:
    """A deleted user's sockets find no user behind their session and close."""
    request_recheck(instance.pk)


@receiver(post_delete, sender="messaging.Profile", dispatch_uid="messaging.delete_avatar_with_profile")
def delete_avatar_with_profile(sender: type[Profile], instance: Profile, **kwargs: Any) -> None:
    """A deleted user's (or profile's) avatar file goes too, once the deletion commits."""
    name = instance.avatar_name
    if name:
        transaction.on_commit(lambda: storage.delete(name))
