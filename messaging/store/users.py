"""Users as the messaging app sees them: by username, active ones only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Q

from .errors import NotFound

if TYPE_CHECKING:
    # What get_user_model() is for this project (linkup/settings.py keeps Django's user
    # model), as a type: the rest of the app annotates users with this alias.
    from django.contrib.auth.models import User as User
else:
    User = get_user_model()


def username_of(user_id: int) -> str:
    return str(User.objects.filter(pk=user_id).values_list(User.USERNAME_FIELD, flat=True).get())


def find_peer(user: User, username: str) -> User | None:
    """The active user called ``username``, unless it is ``user`` itself."""
    peer = User.objects.filter(**{User.USERNAME_FIELD: username, "is_active": True}).first()
    if peer is None or peer.pk == user.pk:
        return None
    return peer


def active_users_named(usernames: list[str]) -> list[User]:
    """The active users with these usernames, in the order given; :class:`NotFound` names the first missing one."""
    found = {
        u.get_username(): u for u in User.objects.filter(**{f"{User.USERNAME_FIELD}__in": usernames, "is_active": True})
    }
    for name in usernames:
        if name not in found:
            raise NotFound(f"there is no one called {name!r}")
    return [found[name] for name in usernames]


def search_users(user: User, query: str, limit: int) -> list[User]:
    """Active users whose username or display name contains ``query``, username prefix matches first, never ``user``."""
    query = query.strip()
    if not query:
        return []
    field = User.USERNAME_FIELD
    matches = (
        User.objects.filter(
            Q(**{f"{field}__icontains": query}) | Q(messaging_profile__display_name__icontains=query), is_active=True
        )
        .exclude(pk=user.pk)
        .select_related("messaging_profile")
        .order_by(field)
    )
    prefixed = list(matches.filter(**{f"{field}__istartswith": query})[:limit])
    if len(prefixed) < limit:
        prefixed += list(matches.exclude(pk__in=[u.pk for u in prefixed])[: limit - len(prefixed)])
    return prefixed
