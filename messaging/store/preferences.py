"""A user's own settings of issue 17: notification channels, quiet hours with their zone, read receipts, mutes.

The settings page edits them for every notification kind at once (one row
per kind of ``NotificationPreference``; the admin may still tune a kind);
:func:`settings_of` reads them back from the ``new_message`` row. Every
function takes the user id from the caller's session, never from the request:
a change only ever touches the signed-in user's own rows.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..connection_validator import FOREVER
from ..models import NotificationKind, NotificationPreference, Participant, Profile
from .errors import Invalid


@dataclass(frozen=True)
class UserSettings:
    """What the settings page shows and the ``settings`` frame carries."""

    in_app: bool = True
    email: bool = True
    desktop: bool = True
    quiet_hours_start: datetime.time | None = None
    quiet_hours_end: datetime.time | None = None
    time_zone: str = "UTC"
    read_receipts: bool = True

    def payload(self) -> dict[str, Any]:
        """JSON-ready: times as ``HH:MM`` (or null)."""
        data = asdict(self)
        for key in ("quiet_hours_start", "quiet_hours_end"):
            data[key] = data[key].strftime("%H:%M") if data[key] is not None else None
        return data


class InvalidTimeZone(Invalid):
    """A time zone name the zone database does not know."""


def valid_time_zone(name: str) -> str:
    """``name`` if it is an IANA zone this server knows, else :class:`InvalidTimeZone` saying so."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidTimeZone(f"{name!r} is not a time zone (an IANA name such as Europe/Paris)")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTimeZone(f"there is no time zone {name!r} (an IANA name such as Europe/Paris)") from exc
    return name


def parse_clock(value: str | None, field: str) -> datetime.time | None:
    """``HH:MM`` (or empty: none) as a time; :class:`Invalid` naming the field otherwise."""
    if value is None or not str(value).strip():
        return None
    try:
        return datetime.time.fromisoformat(str(value).strip()).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError as exc:
        raise Invalid(f"{field} must be a time of day as HH:MM") from exc


def settings_of(user_id: int) -> UserSettings:
    """The user's settings; no rows mean the defaults."""
    row = NotificationPreference.objects.filter(user_id=user_id, kind=NotificationKind.NEW_MESSAGE).first()
    receipts = Profile.objects.filter(user_id=user_id).values_list("read_receipts", flat=True).first()
    base = UserSettings(read_receipts=True if receipts is None else bool(receipts))
    if row is None:
        return base
    return UserSettings(
        in_app=row.in_app,
        email=row.email,
        desktop=row.desktop,
        quiet_hours_start=row.quiet_hours_start,
        quiet_hours_end=row.quiet_hours_end,
        time_zone=row.timezone,
        read_receipts=base.read_receipts,
    )


def save_settings(user_id: int, **changes: Any) -> UserSettings:
    """Apply ``changes`` (fields of :class:`UserSettings`, already validated) to every kind, in one transaction."""
    unknown = set(changes) - set(UserSettings.__dataclass_fields__)
    if unknown:
        raise Invalid(f"no such setting: {', '.join(sorted(unknown))}")
    if "time_zone" in changes:
        changes["time_zone"] = valid_time_zone(changes["time_zone"])
    if "quiet_hours_start" in changes or "quiet_hours_end" in changes:
        start, end = changes.get("quiet_hours_start"), changes.get("quiet_hours_end")
        if (start is None) != (end is None):
            raise Invalid("quiet hours need both a start and an end (or neither, to turn them off)")
    columns = {"time_zone": "timezone"}
    row_changes = {columns.get(k, k): v for k, v in changes.items() if k != "read_receipts"}
    with transaction.atomic():
        if row_changes:
            for kind in NotificationKind.values:
                NotificationPreference.objects.update_or_create(user_id=user_id, kind=kind, defaults=row_changes)
        if "read_receipts" in changes:
            profile = Profile.for_user(user_id)
            profile.read_receipts = bool(changes["read_receipts"])
            profile.save(update_fields=["read_receipts"])
    return settings_of(user_id)


@dataclass(frozen=True)
class Mute:
    conversation_id: int
    title: str
    muted_until: datetime.datetime
    forever: bool


def mutes_of(user_id: int, now: datetime.datetime | None = None) -> list[Mute]:
    """The user's conversations muted now (a mute whose time passed is over), soonest to end first."""
    now = now or timezone.now()
    rows = list(
        Participant.objects.filter(user_id=user_id, left_seq__isnull=True, muted_until__gt=now)
        .select_related("conversation")
        .order_by("muted_until", "conversation_id")
    )
    direct = [r.conversation_id for r in rows if r.conversation.kind != r.conversation.Kind.GROUP]
    peers = dict(
        Participant.objects.filter(conversation_id__in=direct)
        .exclude(user_id=user_id)
        .values_list("conversation_id", "user__username")
    )
    return [
        Mute(
            r.conversation_id,
            r.conversation.title
            if r.conversation.kind == r.conversation.Kind.GROUP
            else peers.get(r.conversation_id, ""),
            r.muted_until,
            r.muted_until >= FOREVER,
        )
        for r in rows
        if r.muted_until is not None  # always: the query asks for muted_until > now
    ]
