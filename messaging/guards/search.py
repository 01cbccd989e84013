"""How often one user may search: a search reads index rows by the thousand, a message writes one."""

from __future__ import annotations

from .. import conf
from ..exceptions import SearchRateLimited
from .admission import rate_limited
from .rate_limit import TokenBucket


def check_search_allowance(user_id: int) -> None:
    """Take a search token for ``user_id`` (shared by the socket and the API), or raise ``search_rate_limited``."""
    bucket = TokenBucket("search", conf.rate_setting("MESSAGING_SEARCH_RATE_LIMIT"))
    wait = bucket.take_or_wait(user_id)
    if wait:
        raise rate_limited("too many searches; wait a little (MESSAGING_SEARCH_RATE_LIMIT)", wait, SearchRateLimited)
