"""Signed out means disconnected: a logout closes the sockets of that session and forgets its push subscriptions."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from .models import PushSubscription
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


@receiver(user_logged_out, dispatch_uid="messaging.forget_push_subscriptions_on_logout")
def forget_push_subscriptions_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The browsers subscribed in this session get no more pushes: the next person on them is someone else.

    The page also unsubscribes in the browser before it signs out
    (``pwa.js``); this holds when it could not.
    """
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is None or not session_key:
        return
    PushSubscription.objects.filter(user_id=user.pk, session_key=session_key).delete()
