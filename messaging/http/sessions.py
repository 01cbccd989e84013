"""Open sockets hear of a request's account and session changes once its response is done.

List it before ``SessionMiddleware``, so that what it sends goes out after
the session was saved. Two things are sent to a user's sockets
(``session.recheck``, see ``messaging.signals``):

- the re-checks the request asked for (a password change, a deactivation,
  a deletion, by the user or an admin);
- a session key change of a signed-in session (``update_session_auth_hash``
  after a password change, a repeated login): old key -> new key, so the
  sockets opened with that session follow it instead of finding their key
  gone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse

from ..signals import deferred_rechecks, send_recheck


class SessionRenewalMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        old_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        with deferred_rechecks() as pending:
            response = self.get_response(request)
        renewed_user, renewed = self.renewal(request, old_key)
        if renewed_user is not None:
            pending.add(renewed_user)
        for user_id in pending:
            send_recheck(user_id, renewed if user_id == renewed_user else None)
        return response

    @staticmethod
    def renewal(request: HttpRequest, old_key: str | None) -> tuple[int | None, dict[str, str]]:
        """The user whose signed-in session got a new key in this request, and old key -> new key."""
        session: SessionBase | None = getattr(request, "session", None)
        new_key = session.session_key if session is not None else None
        if session is None or not old_key or not new_key or old_key == new_key:
            return None, {}
        user_id = session.get(SESSION_KEY)
        if user_id is None:
            return None, {}
        renewed_user: int = get_user_model()._meta.pk.to_python(user_id)
        return renewed_user, {old_key: new_key}
