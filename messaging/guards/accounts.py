"""How often a client may try to sign in, sign up and ask for a password reset.

Each allowance is a :class:`TokenBucket` per subject in Django's cache (so all
server processes share it on Redis): a username or email address, or the
client's address. Names and email addresses are keyed by a digest of their
case-folded form, as a person would type them in any case, and so that the
cache holds no address in clear. An IPv6 client is keyed by its /64 network:
one host usually has a whole /64 to pick addresses from.

A refusal is counted (``linkup_account_refusals``) and never recorded as a
``MessagingError``: someone hammering the sign-in page must not fill the
errors table.
"""

from __future__ import annotations

import hashlib
import ipaddress

from .. import conf
from ..exceptions import PasswordResetRateLimited, RateLimited, SigninRateLimited, SignupRateLimited
from ..ops import metrics
from .admission import rate_limited
from .rate_limit import TokenBucket


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().casefold().encode()).hexdigest()


def address_subject(address: str) -> str:
    """The bucket subject of a client address: IPv4 as it is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return _digest(address)  # not an address (a Unix socket's empty one): one subject for all such
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _refused(kind: type[RateLimited], bucket: TokenBucket, setting: str, wait: float) -> RateLimited:
    metrics.ACCOUNT_REFUSALS.labels(kind.code.value, bucket.name).inc()
    return rate_limited(f"too many attempts; wait a little ({setting})", wait, kind, setting=setting)


class SigninAttempt:
    """One sign-in's two tokens, taken before the password is checked and given back when it was right.

    So the buckets count failures only, yet two guesses sent at once cannot
    both pass a bucket with one token left: the token is taken before the
    check, not after a failure. A right password gives back both, so an
    honest user's successes never use up what others share with them. The
    price: a sign-in holds its tokens while its password is checked, so more
    sign-ins in flight at once from one address than its allowance (50)
    would see a refusal.
    """

    def __init__(self, username: str, address: str) -> None:
        self.username = TokenBucket("signin", conf.rate_setting("MESSAGING_SIGNIN_RATE_LIMIT"))
        self.address = TokenBucket("signin_address", conf.rate_setting("MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT"))
        self.username_subject = _digest(username)
        self.address_subject = address_subject(address)

    def take(self) -> None:
        """Take a token from the username's bucket and the address's, or raise ``signin_rate_limited``."""
        wait = self.username.take_or_wait(self.username_subject)
        if wait:
            raise _refused(SigninRateLimited, self.username, "MESSAGING_SIGNIN_RATE_LIMIT", wait)
        wait = self.address.take_or_wait(self.address_subject)
        if wait:
            self.username.give_back(self.username_subject)  # this attempt was not checked: not a failure
            raise _refused(SigninRateLimited, self.address, "MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT", wait)

    def succeeded(self) -> None:
        """The password was right: the attempt was no failure, both tokens go back."""
        self.username.give_back(self.username_subject)
        self.address.give_back(self.address_subject)


def check_signup_allowance(address: str) -> None:
    """Take a sign-up token for the client ``address`` (every form posted), or raise ``signup_rate_limited``."""
    bucket = TokenBucket("signup_address", conf.rate_setting("MESSAGING_SIGNUP_RATE_LIMIT"))
    wait = bucket.take_or_wait(address_subject(address))
    if wait:
        raise _refused(SignupRateLimited, bucket, "MESSAGING_SIGNUP_RATE_LIMIT", wait)


def check_password_reset_allowance(address: str) -> None:
    """Take a reset-request token for the client ``address``, or raise ``password_reset_rate_limited``."""
    bucket = TokenBucket("password_reset_address", conf.rate_setting("MESSAGING_PASSWORD_RESET_RATE_LIMIT"))
    wait = bucket.take_or_wait(address_subject(address))
    if wait:
        raise _refused(PasswordResetRateLimited, bucket, "MESSAGING_PASSWORD_RESET_RATE_LIMIT", wait)


def may_mail_password_reset(email: str) -> bool:
    """Take a reset-email token for ``email``, whether or not an account has it; False (counted) when none is left.

    The caller then sends nothing and answers as for an unknown address: the
    page must not tell whether an address has an account.
    """
    bucket = TokenBucket("password_reset_email", conf.rate_setting("MESSAGING_PASSWORD_RESET_RATE_LIMIT"))
    if bucket.take_or_wait(_digest(email)) == 0:
        return True
    metrics.ACCOUNT_REFUSALS.labels(PasswordResetRateLimited.code.value, bucket.name).inc()
    return False
