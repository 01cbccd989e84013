"""A sign-out forgets the push subscriptions made in that session."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from ..models import PushSubscription
from ..store.users import User


@receiver(user_logged_out, dispatch_uid="messaging.forget_push_subscriptions_on_logout")
def forget_push_subscriptions_on_logout(
    sender: type[User], request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    """The browsers subscribed in this session get no more pushes: the next person on them is someone else.

    The page also unsubscribes in the browser before it signs out
    (``pwa.js``); this holds when it could not.
    """
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is None or not session_key:
        return
    PushSubscription.objects.filter(user_id=user.pk, session_key=session_key).delete()
