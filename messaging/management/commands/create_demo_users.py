"""Create the demo users a newcomer signs in with, and leave existing ones alone.

``scripts/start`` runs this on every start: resetting existing users there
would undo a password someone changed and sign out every browser they use
(a new password hash ends every session). ``--reset`` does that on purpose.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

DEMO_USERS = ("alice", "bob", "carol")


class Command(BaseCommand):
    help = (
        "Create the demo users alice, bob and carol (and a staff user 'admin') that do not exist yet, "
        "and print how to sign in. Existing users keep their password and sessions unless --reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default="linkup-demo",
            help="password of the users created (or reset) now (default: %(default)s)",
        )
        parser.add_argument("--no-admin", action="store_true", help="do not create the staff user 'admin'")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="also reset existing demo users: set the password (which signs out their sessions) and reactivate them",
        )

    def handle(self, *args: Any, password: str, no_admin: bool, reset: bool, **options: Any) -> None:
        user_model = get_user_model()
        names = list(DEMO_USERS) + ([] if no_admin else ["admin"])
        for name in names:
            with transaction.atomic():
                user, created = user_model.objects.get_or_create(
                    username=name, defaults={"email": f"{name}@example.com"}
                )
                if not (created or reset):
                    self.stdout.write(f"kept    {name:<6} password unchanged (--reset sets it to {password})")
                    continue
                user.set_password(password)
                user.is_active = True
                if name == "admin":
                    user.is_staff = user.is_superuser = True
                user.save()
            self.stdout.write(f"{'created' if created else 'reset  '} {name:<6} password: {password}")
        self.stdout.write(
            self.style.SUCCESS(
                "Sign in at http://127.0.0.1:8000/accounts/login/ as alice in one browser and bob in "
                "another, then open http://127.0.0.1:8000/messages/bob/ (admin: /admin/)."
            )
        )
