"""MessagingLogger: logs and stores, never raises, and cannot be flooded by clients."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError

from messaging.error_models import ErrorCategory
from messaging.exceptions import SerializationError
from messaging.logging_utils import MessagingLogger, category_for_exception
from messaging.models import MessagingError

from .faults import table_unreadable_here

pytestmark = pytest.mark.django_db


def test_error_logs_and_stores_with_category_and_context(caplog, make_user) -> None:
    user = make_user("alice")
    with caplog.at_level(logging.ERROR, logger="messaging"):
        row = MessagingLogger().error(
            ErrorCategory.DATABASE_ERROR,
            "could not commit",
            context={"seq": 4},
            user=user,
            exc=OperationalError("locked"),
        )
    assert row is not None and row.category == "database_error" and row.user == user
    assert row.context["seq"] == 4 and "OperationalError: locked" in row.context["exception"]
    assert "could not commit" in caplog.text


def test_storing_never_raises_when_the_database_is_down_and_catches_up_after(caplog) -> None:
    with (
        table_unreadable_here(MessagingError._meta.db_table),
        caplog.at_level(logging.CRITICAL, logger="messaging"),
    ):
        assert MessagingLogger().error(ErrorCategory.DELIVERY_ERROR, "boom") is None
        assert MessagingLogger().error(ErrorCategory.DATABASE_ERROR, "bang") is None
    assert "could not store MessagingError" in caplog.text
    # Only this test's rows: a background task of an earlier test may still record its own.
    mine = MessagingError.objects.filter(message__in=["boom", "bang", "back"])
    assert mine.count() == 0
    MessagingLogger().error(ErrorCategory.ROUTING_ERROR, "back")
    assert list(mine.order_by("occurred_at").values_list("message", flat=True)) == [
        "boom",
        "bang",
        "back",
    ]


@pytest.mark.django_db(transaction=True)  # a broken foreign key shows at commit: a test's own transaction never commits
def test_a_kept_record_whose_user_was_deleted_meanwhile_is_stored_without_the_link_and_holds_back_nothing(
    make_user,
) -> None:
    user = make_user("gone")
    user_id = user.pk
    with table_unreadable_here(MessagingError._meta.db_table):
        assert MessagingLogger().error(ErrorCategory.DELIVERY_ERROR, "about gone", user=user) is None
        assert MessagingLogger().error(ErrorCategory.DATABASE_ERROR, "behind it") is None
    user.delete()
    MessagingLogger().error(ErrorCategory.ROUTING_ERROR, "back")
    mine = MessagingError.objects.filter(message__in=["about gone", "behind it", "back"]).order_by("occurred_at")
    assert list(mine.values_list("message", "user_id")) == [("about gone", None), ("behind it", None), ("back", None)]
    assert mine[0].context["user_id"] == user_id


def test_dropping_the_backlog_forgets_the_kept_records_and_says_how_many() -> None:
    with table_unreadable_here(MessagingError._meta.db_table):
        assert MessagingLogger().error(ErrorCategory.DELIVERY_ERROR, "dropped one") is None
        assert MessagingLogger().error(ErrorCategory.DELIVERY_ERROR, "dropped two") is None
    assert MessagingLogger().drop_backlog() == 2
    assert MessagingLogger().flush_backlog() == 0
    assert not MessagingError.objects.filter(message__startswith="dropped").exists()


def test_context_that_json_cannot_hold_is_made_safe() -> None:
    row = MessagingLogger().error("validation_error", "odd", context={"text": "a\x00b\ud800", "obj": object()})
    assert row is not None and "\x00" not in row.context["text"]


def test_client_errors_store_one_row_per_window_and_count_the_rest(make_user) -> None:
    user = make_user("mallory")
    logger = MessagingLogger()
    for _ in range(100):
        logger.client_error(user, "invalid_json", "garbage")
    logger.client_error(user, "invalid_frame", "other")
    assert MessagingError.objects.filter(category="validation_error").count() == 2


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (SerializationError("x"), "json_serialization_error"),
        (OperationalError("x"), "database_error"),
        (ConnectionRefusedError(), "connection_error"),
    ],
)
def test_exceptions_map_to_their_category(exc, category) -> None:
    from django.core.exceptions import SynchronousOnlyOperation

    assert category_for_exception(exc) == category
    assert category_for_exception(SynchronousOnlyOperation()) == "async_context_violation"


def test_throttling_holds_when_the_cache_itself_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis down is when failures come in floods: the throttle falls back to this process."""
    import socket

    from django.core.cache.backends.redis import RedisCache

    from messaging.ops import cachebox

    with socket.socket() as probe:  # a port nothing listens on: a Redis that is gone
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = RedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})
    with pytest.raises(Exception, match="(?i)connect"):
        gone.add("probe", 1)  # the real client's failure, which the logger must survive
    monkeypatch.setattr(cachebox, "_client", gone)
    for _ in range(200):
        MessagingLogger().throttled("connection_error", "layer:chat.message", "layer down", None)
    assert MessagingError.objects.filter(category="connection_error").count() == 1
