"""Which stack a test runs on, and the markers that skip a test, with the reason, on the other.

The suite runs on two stacks (see .ci/run): the embedded default (SQLite and
the in-memory layer) and the deployment stack (``DATABASE_URL`` PostgreSQL,
``REDIS_URL`` channels-redis and the Redis cache, an S3 bucket).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings as django_settings


def on_postgres() -> bool:
    return django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def on_redis() -> bool:
    return django_settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis.")


def on_embedded_default() -> bool:
    return not on_postgres() and not on_redis()


def on_s3() -> bool:
    return "s3" in django_settings.STORAGES["attachments"]["BACKEND"].lower()


DEPLOYMENT_STACK = "start the services with `scripts/services start` and set DATABASE_URL/REDIS_URL, as .ci/run does"
STACK_MARKERS: dict[str, tuple[Callable[[], bool], str]] = {
    "requires_redis": (on_redis, f"needs Redis (REDIS_URL): {DEPLOYMENT_STACK}"),
    "requires_postgres": (on_postgres, f"needs PostgreSQL (DATABASE_URL): {DEPLOYMENT_STACK}"),
    "embedded_only": (
        on_embedded_default,
        "checks the embedded default (SQLite, in-memory layer): run without DATABASE_URL/REDIS_URL",
    ),
    "requires_s3": (
        on_s3,
        "needs the S3-compatible store (AWS_STORAGE_BUCKET_NAME): `scripts/services start` runs one, as .ci/run does",
    ),
    "stack_independent": (
        on_embedded_default,
        "the same on both stacks (browser UI, tooling, pure functions): run once, on the embedded "
        "default, to keep .ci/run within its time budget",
    ),
}
