"""Create (or reset) the demo users a newcomer signs in with."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

DEMO_USERS = ("alice", "bob", "carol")


class Command(BaseCommand):
    help = "Create the demo users alice, bob and carol (and a staff user 'admin') and print how to sign in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default="linkup-demo",
            help="password for every demo user (default: %(default)s)",
        )
        parser.add_argument("--no-admin", action="store_true", help="do not create the staff user 'admin'")

    def handle(self, *args: Any, password: str, no_admin: bool, **options: Any) -> None:
        user_model = get_user_model()
        names = list(DEMO_USERS) + ([] if no_admin else ["admin"])
        for name in names:
            user, created = user_model.objects.get_or_create(
                username=name, defaults={"email": f"{name}@example.com"}
            )
            user.set_password(password)
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
