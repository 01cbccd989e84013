"""The request a signed-in view gets, as a type.

``login_required`` and :func:`messaging.http.api.api_view` turn anonymous
requests away before the view runs, so in the view ``request.user`` is a
user, never ``AnonymousUser``: views behind them annotate their request with
:class:`SignedInRequest` (django-stubs' documented pattern) instead of
narrowing ``request.user`` again on every line.
"""

from __future__ import annotations

from typing import TypeGuard

from django.http import HttpRequest

from ..store.users import User


class SignedInRequest(HttpRequest):
    user: User


def is_signed_in(request: HttpRequest) -> TypeGuard[SignedInRequest]:
    """For the views that check the user themselves (an upload reads its limits before Django parses the body)."""
    return request.user.is_authenticated
