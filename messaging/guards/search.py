"""How often one user may search: a search reads index rows by the thousand, a message writes one."""

from __future__ import annotations

from .. import conf
from ..exceptions import RateLimited
from .rate_limit import TokenBucket


def check_search_allowance(user_id: int) -> None:
    """Take a search token for ``user_id`` (shared by the socket and the API), or raise ``rate_limited``."""
    bucket = TokenBucket("search", conf.rate_setting("MESSAGING_SEARCH_RATE_LIMIT"))
    if not bucket.take(user_id):
        raise RateLimited("too many searches; wait a little", retry_after=round(bucket.retry_after(user_id), 3))
