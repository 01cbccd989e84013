"""Print a new VAPID key pair for Web Push, as the environment variables that take it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from messaging.notify.webpush import generate_vapid_keys


class Command(BaseCommand):
    help = "Generate a VAPID key pair (P-256) for Web Push and print the settings to set."
    # It must run when Web Push is switched on without keys: that is what it is for.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        private, public = generate_vapid_keys()
        self.stdout.write("# Keep the private key secret, and keep it: browsers subscribe with its public half.\n")
        self.stdout.write(f"MESSAGING_VAPID_PRIVATE_KEY={private}\n")
        self.stdout.write(f"# public key (derived from the private one; for reference): {public}\n")
        self.stdout.write("# where push services can reach you: a mailto: address or an https:// URL\n")
        self.stdout.write("MESSAGING_VAPID_SUBJECT=mailto:you@example.com\n")
        self.stdout.write("MESSAGING_WEBPUSH_ENABLED=true\n")
