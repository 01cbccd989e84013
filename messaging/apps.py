from django.apps import AppConfig
from django.core import checks


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "LinkUp messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            notification_service,  # noqa: F401 - registers the email and Web Push retry operations
            signals,  # noqa: F401 - connects the session receivers
        )
        from .notify import sessions  # noqa: F401 - a sign-out forgets that session's push subscriptions
        from .notify.webpush import check_webpush_settings
        from .routing_validator import check_websocket_routes

        checks.register(check_websocket_routes, checks.Tags.urls)
        checks.register(check_webpush_settings)
