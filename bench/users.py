"""The benchmark's users and conversations, made in bulk before a run.

- Pairs: ``bench-s<i>`` sends to ``bench-r<i>`` in their direct conversation,
  created here so that the run measures messages, not the first-message path.
- The group: ``bench-g1`` … ``bench-g<M>`` in one group conversation owned by
  ``bench-g1`` (its sender). It is made through the store's own
  ``create_group`` (one transaction, the member rows in one bulk insert) with
  a fixed ``client_id``, so seeding the same database again returns the same
  group (the store's idempotency) instead of a new one per run.
- Sessions for the group's online members are made here (Django's ``login``
  on a bare request, saved in the session store): signing 200 users in
  through the login form would cost 200 PBKDF2 hashes of server CPU (over a
  second each on the benchmark machine) before anything is measured.

Everything here is seeding, not measured; :func:`seed` returns what the
client needs to know (conversation ids, cookies) as plain JSON-able data.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest

DEFAULT_PASSWORD = "linkup-bench-password"
#: the ``client_id`` of the group's ``created`` event: the same group for the same size, run after run
GROUP_CLIENT_ID = "bench-group-of-{members}"


class PairSeed(TypedDict):
    index: int
    sender: str
    recipient: str
    conversation: int


class GroupSeed(TypedDict):
    conversation: int
    members: int
    sender: str
    #: username → ``Cookie`` header of a session, for the sender and the online recipients
    cookies: dict[str, str]
    #: the online recipients (the sender not included)
    online: list[str]


class Seed(TypedDict):
    pairs: list[PairSeed]
    group: GroupSeed | None


def pair_usernames(index: int) -> tuple[str, str]:
    """The sender's and the recipient's username of pair ``index`` (from 1)."""
    return f"bench-s{index}", f"bench-r{index}"


def group_usernames(members: int) -> list[str]:
    """The group's members, the sender (and owner) first."""
    return [f"bench-g{index}" for index in range(1, members + 1)]


def ensure_users(names: list[str], hashed_password: str) -> None:
    """Create the missing users (one bulk insert) and reset the others' password."""
    user_model = get_user_model()
    existing = set(user_model.objects.filter(username__in=names).values_list("username", flat=True))
    missing = [name for name in names if name not in existing]
    user_model.objects.bulk_create(
        [user_model(username=name, email=f"{name}@bench.invalid", password=hashed_password) for name in missing],
        batch_size=500,
    )
    user_model.objects.filter(username__in=existing).update(password=hashed_password, is_active=True)


def ensure_bench_users(pairs: int, password: str = DEFAULT_PASSWORD) -> list[str]:
    """Create (or reset the password of) the users of ``pairs`` pairs; return their names.

    The password is hashed once and the hash shared: hashing it per user would
    cost a second of PBKDF2 per user for nothing.
    """
    names = [name for index in range(1, pairs + 1) for name in pair_usernames(index)]
    ensure_users(names, make_password(password))
    return names


def ensure_direct_conversations(pairs: int) -> list[PairSeed]:
    """Each pair's direct conversation (created if missing), through the store."""
    from messaging.store.conversations import get_or_create_direct

    user_model = get_user_model()
    seeds: list[PairSeed] = []
    for index in range(1, pairs + 1):
        sender_name, recipient_name = pair_usernames(index)
        sender = user_model.objects.get(username=sender_name)
        recipient = user_model.objects.get(username=recipient_name)
        conversation, _ = get_or_create_direct(sender, recipient)
        seeds.append(PairSeed(index=index, sender=sender_name, recipient=recipient_name, conversation=conversation.pk))
    return seeds


def ensure_group(members: int, password: str) -> int:
    """The benchmark group of ``members`` members (users created in bulk if missing); its conversation id."""
    from messaging.store.conversations import create_group

    names = group_usernames(members)
    ensure_users(names, make_password(password))
    owner = get_user_model().objects.get(username=names[0])
    change = create_group(
        owner, f"bench group of {members}", names[1:], GROUP_CLIENT_ID.format(members=members), max_members=members
    )
    return change.conversation.pk


def session_cookie(user: Any) -> str:
    """A ``Cookie`` header for a new session of ``user``, made as Django's ``login`` makes one."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])  # as the sign-in view stores it
    request.session.save()
    return f"{settings.SESSION_COOKIE_NAME}={request.session.session_key}"


def seed(pairs: int, password: str = DEFAULT_PASSWORD, *, group_members: int = 0, group_online: int = 0) -> Seed:
    """Everything a run needs in the database: the pairs and their conversations, the group and its sessions."""
    ensure_bench_users(pairs, password)
    group: GroupSeed | None = None
    if group_members:
        conversation = ensure_group(group_members, password)
        names = group_usernames(group_members)
        online = names[1 : group_online + 1]
        users = {u.username: u for u in get_user_model().objects.filter(username__in=[names[0], *online])}
        group = GroupSeed(
            conversation=conversation,
            members=group_members,
            sender=names[0],
            cookies={name: session_cookie(users[name]) for name in [names[0], *online]},
            online=online,
        )
    return Seed(pairs=ensure_direct_conversations(pairs), group=group)
