"""Signed out means disconnected: a logout closes the sockets of that session."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from .pubsub import group_send, user_group


@receiver(user_logged_out, dispatch_uid="messaging.close_sockets_on_logout")
def close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Tell every socket of ``user`` that this session ended; the ones opened with it close.

    Sent before Django flushes the session, so the key is still known. Other
    sessions of the same user (another browser, a phone) stay connected.
    """
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is None or not session_key:
        return
    async_to_sync(group_send)(user_group(user.pk), {"type": "session.logout", "session_key": session_key})
