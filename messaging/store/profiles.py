"""Profiles: who a person is shown as (display name, status line, avatar), and who sees a change.

Each write is one short transaction on the profile row. The avatar's file is
stored before the row names it and the old file deleted after the row no
longer does (by the caller), so a failure leaves at worst an unreferenced
file, never a row naming a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..models import Participant, Profile
from .errors import NotFound
from .users import User


@dataclass(frozen=True)
class Changed:
    """A profile after a change, and the avatar file the change let go of (to delete)."""

    profile: Profile
    released_avatar: str = ""


def update_identity(user_id: int, *, display_name: str | None = None, status_line: str | None = None) -> Changed:
    """Set the display name and/or status line (already checked); ``None`` leaves one as it is."""
    with transaction.atomic():
        profile = Profile.for_user(user_id)
        profile = Profile.objects.select_for_update().get(pk=profile.pk)
        fields = ["identity_changed_at"]
        if display_name is not None:
            profile.display_name = display_name
            fields.append("display_name")
        if status_line is not None:
            profile.status_line = status_line
            fields.append("status_line")
        profile.identity_changed_at = timezone.now()
        profile.save(update_fields=fields)
    return Changed(profile)


def set_avatar(user_id: int, storage_name: str) -> Changed:
    """Name a stored avatar file (``""``: back to the letter avatar); the one it replaces is returned to delete."""
    with transaction.atomic():
        profile = Profile.for_user(user_id)
        profile = Profile.objects.select_for_update().get(pk=profile.pk)
        released = profile.avatar_name
        profile.avatar_name = storage_name
        profile.identity_changed_at = timezone.now()
        profile.save(update_fields=["avatar_name", "identity_changed_at"])
    return Changed(profile, released)


def avatar_owner(storage_name: str) -> int:
    """The user whose current avatar is ``storage_name``; :class:`NotFound` for any other name."""
    owner = (
        Profile.objects.filter(avatar_name=storage_name)
        .exclude(avatar_name="")
        .values_list("user_id", flat=True)
        .first()
    )
    if owner is None:
        raise NotFound("no such avatar")
    return owner


def active_user_with_profile(username: str) -> User:
    """The active user called ``username`` with their profile loaded (:class:`NotFound` otherwise)."""
    user = (
        User.objects.filter(**{User.USERNAME_FIELD: username, "is_active": True})
        .select_related("messaging_profile")
        .first()
    )
    if user is None:
        raise NotFound(f"there is no one called {username!r}")
    return user


def profile_loaded(user: User) -> bool:
    """Whether ``user`` came with their profile (or the knowledge that they have none): reading it costs no query.

    True for a user read by ``messaging.http.auth_backend`` (``request.user``,
    a socket's ``scope["user"]``) or with ``select_related("messaging_profile")``.
    """
    return bool(Profile._meta.get_field("user").remote_field.is_cached(user))


def user_with_profile(user_id: int) -> User:
    return User.objects.select_related("messaging_profile").get(pk=user_id)


def audience(user_id: int) -> list[int]:
    """Who sees this person now: the current members of every conversation they are a current member of, and they."""
    conversations = Participant.objects.filter(user_id=user_id, left_seq__isnull=True).values("conversation_id")
    others = set(
        Participant.objects.filter(conversation_id__in=conversations, left_seq__isnull=True).values_list(
            "user_id", flat=True
        )
    )
    others.add(user_id)
    return sorted(others)
