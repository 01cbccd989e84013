"""How often one user may change how they are shown: each change is pushed to all of their contacts."""

from __future__ import annotations

from .. import conf
from ..exceptions import ProfileRateLimited
from .admission import rate_limited
from .rate_limit import TokenBucket


def check_profile_allowance(user_id: int) -> None:
    """Take a profile-change token for ``user_id`` (name, status and picture together), or raise ``profile_rate_limited``."""
    bucket = TokenBucket("profile", conf.rate_setting("MESSAGING_PROFILE_RATE_LIMIT"))
    wait = bucket.take_or_wait(user_id)
    if wait:
        raise rate_limited(
            "too many profile changes; wait a little (MESSAGING_PROFILE_RATE_LIMIT)", wait, ProfileRateLimited
        )
