"""The benchmark's users: ``bench-s<i>`` sends to ``bench-r<i>``, pair by pair."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

DEFAULT_PASSWORD = "linkup-bench-password"


def pair_usernames(index: int) -> tuple[str, str]:
    """The sender's and the recipient's username of pair ``index`` (from 1)."""
    return f"bench-s{index}", f"bench-r{index}"


def ensure_bench_users(pairs: int, password: str = DEFAULT_PASSWORD) -> list[str]:
    """Create (or reset the password of) the users of ``pairs`` pairs; return their names.

    The password is hashed once and the hash shared: hashing it per user would
    cost a second of PBKDF2 per ten users for nothing.
    """
    user_model = get_user_model()
    hashed = make_password(password)
    names = [name for index in range(1, pairs + 1) for name in pair_usernames(index)]
    existing = set(user_model.objects.filter(username__in=names).values_list("username", flat=True))
    missing = [name for name in names if name not in existing]
    user_model.objects.bulk_create(
        [user_model(username=name, email=f"{name}@bench.invalid", password=hashed) for name in missing]
    )
    user_model.objects.filter(username__in=existing).update(password=hashed, is_active=True)
    return names
