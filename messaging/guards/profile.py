"""How often one user may change how they are shown: each change is pushed to all of their contacts."""

from __future__ import annotations

from .. import conf
from ..exceptions import RateLimited
from .rate_limit import TokenBucket


def check_profile_allowance(user_id: int) -> None:
    """Take a profile-change token for ``user_id`` (name, status and picture together), or raise ``rate_limited``."""
    bucket = TokenBucket("profile", conf.rate_setting("MESSAGING_PROFILE_RATE_LIMIT"))
    if not bucket.take(user_id):
        raise RateLimited("too many profile changes; wait a little", retry_after=round(bucket.retry_after(user_id), 3))
