"""What a user chooses about themselves, beyond Django's ``User``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction

from .. import conf


class Profile(models.Model):
    """One per user, made the first time it is needed (:meth:`for_user`).

    Holds the user's own choices: how they are shown to others (display
    name, avatar, status line; issue 17) and how notifications reach them.
    The column lengths are hard ceilings; the limits users meet are the
    ``MESSAGING_MAX_DISPLAY_NAME_LENGTH`` / ``MESSAGING_MAX_STATUS_LENGTH``
    settings (``messaging/conf.py``), checked below these.
    """

    class Theme(models.TextChoices):
        """How the pages look; "system" follows the device's ``prefers-color-scheme``."""

        SYSTEM = "system", "System"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="messaging_profile"
    )
    # System notifications (Web Push) say "New message" instead of the text,
    # for phones whose lock screen others can see.
    hide_notification_content = models.BooleanField(default=False)
    # Rendered into every page's <html data-theme>, so there is no flash of the other theme.
    theme = models.CharField(max_length=6, choices=Theme.choices, default=Theme.SYSTEM)
    # WhatsApp's rule, applied where other members' cursors are shown to a
    # viewer (messaging/store/read_privacy.py): both must share for either to see.
    read_receipts = models.BooleanField(
        default=True,
        help_text="Off: others never see how far this user read, and this user never sees theirs",
    )
    # Shown instead of the username wherever the person is shown; blank means
    # "show my username".
    display_name = models.CharField(max_length=conf.DISPLAY_NAME_CEILING, blank=True, default="")
    status_line = models.CharField(max_length=conf.STATUS_CEILING, blank=True, default="")
    # The storage name of the avatar (square WebP, ``messaging/media/avatars.py``):
    # a fresh random name each upload, so its URL can be cached forever and is
    # known only to those shown the person. Blank: the letter avatar.
    avatar_name = models.CharField(max_length=255, blank=True, default="")
    identity_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"

    @classmethod
    def for_user(cls, user_id: int) -> Profile:
        """The user's profile, created with the defaults if they have none yet."""
        profile = cls.objects.filter(user_id=user_id).first()
        if profile is not None:
            return profile
        try:
            with transaction.atomic():
                return cls.objects.create(user_id=user_id)
        except IntegrityError:  # made by a concurrent request meanwhile
            return cls.objects.get(user_id=user_id)

    @classmethod
    def hides_content(cls, user_id: int) -> bool:
        """Read without creating a row: no profile means the defaults."""
        value: Any = cls.objects.filter(user_id=user_id).values_list("hide_notification_content", flat=True).first()
        return bool(value)

    @classmethod
    def theme_of(cls, user_id: int) -> str:
        """The user's theme, read without creating a row (one small query a page)."""
        value: Any = cls.objects.filter(user_id=user_id).values_list("theme", flat=True).first()
        return value or cls.Theme.SYSTEM
