"""The HTTP API's fetches under the same allowances as the socket's: the user's rate and share of database time.

The inbox, a conversation, its events and history pages over HTTP are the
twins of the socket's ``conversations``, ``members``, ``sync`` and
``history`` frames, and their views run in the same database thread. So
they draw from the same fetch budget (``MESSAGING_FETCH_WORK_LIMIT``, one per
user across sockets, requests and processes, :mod:`messaging.guards.work`),
charged with the time the view took, and from a fetch bucket
(``MESSAGING_FETCH_RATE_LIMIT``) kept per user in the cache: HTTP has no
socket to keep a per-socket bucket in. Both are checked before any database
work; a refusal is ``429 fetch_work_limited`` / ``fetch_rate_limited`` with
``retry_after`` and ``Retry-After``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse

from .. import conf
from ..exceptions import FetchRateLimited
from ..guards.admission import rate_limited
from ..guards.rate_limit import TokenBucket
from ..guards.work import fetch_budget, work_refusal
from .signed_in import SignedInRequest


def fetch_allowance(what: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A GET view that is the twin of the socket's ``what`` fetch: checked, then charged (inside ``api_view``)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: SignedInRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            limits = conf.limits()
            user_id = request.user.pk
            budget = fetch_budget(limits.fetch_work)
            owed = budget.wait(user_id)
            if owed:
                raise work_refusal(what, owed)
            wait = TokenBucket("fetch", limits.fetch_rate).take_or_wait(user_id)
            if wait:
                raise rate_limited(
                    f"too many fetches over HTTP (MESSAGING_FETCH_RATE_LIMIT, per user); {what} again after retry_after seconds",
                    wait,
                    FetchRateLimited,
                )
            started = time.perf_counter()
            try:
                return view(request, *args, **kwargs)
            finally:
                budget.charge(user_id, time.perf_counter() - started)

        return wrapper

    return decorate
