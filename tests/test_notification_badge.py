"""The notification badge's counter equals SUM(count) over the user's unread rows, whatever writes them.

The counter (``NotificationBadge``) is kept by triggers on the notification
table (migration ``0018_notification_badge``); the badge reads one row
instead of summing the user's unread notifications. These tests hold it to
the sum it replaces: after any sequence of the operations that create, fold,
read, settle, re-open, move or delete notification rows, or delete their
user; after the migration's backfill of rows written before it; and with two
writers at once on PostgreSQL, where the second must queue on the first's
row lock instead of losing its increment.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from messaging.models import Notification, NotificationBadge
from messaging.notification_service import store_grouped_notifications, store_notification
from messaging.store.notifications import (
    mark_all_notifications_read,
    mark_notification_read,
    notification_unread_count,
    notification_unread_counts,
    settle_new_message_notification,
)

User = get_user_model()
KEYS = ["new_message:1", "new_message:2", "mention:1", "reaction:2", ""]
TEXTS = {"title": "New message", "group_title": "{count} new messages", "body": "hi", "url": "/chat/"}
_names = itertools.count()


def sums() -> dict[int, int]:
    """SUM(count) of every user's unread rows, as the badge was counted before the counter."""
    return dict(
        Notification.objects.filter(read=False).values("user_id").annotate(n=Sum("count")).values_list("user_id", "n")
    )


def assert_badges_are_the_sums() -> None:
    expected = sums()
    users = list(User.objects.values_list("pk", flat=True))
    assert {u: notification_unread_count(u) for u in users} == {u: expected.get(u, 0) for u in users}
    assert notification_unread_counts(users) == {u: n for u, n in expected.items() if n}
    assert not NotificationBadge.objects.exclude(user_id__in=users).exists()


def make_user() -> Any:
    return User.objects.create_user(username=f"badge{next(_names)}", password="pw")


class NotificationOperations(RuleBasedStateMachine):
    """Random sequences of every kind of notification write; the counter checked after each."""

    def __init__(self) -> None:
        super().__init__()
        # Each example starts from the same database: Hypothesis replays an example to shrink it.
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    @initialize()
    def users(self) -> None:
        self.people = [make_user().pk for _ in range(3)]

    def pick_row(self, data: st.DataObject) -> Notification | None:
        # One draw whatever the rows: Hypothesis replays the same data against a database that may differ.
        index = data.draw(st.integers(0, 1000))
        rows = list(Notification.objects.filter(user_id__in=self.people).order_by("pk"))
        return rows[index % len(rows)] if rows else None

    @rule(who=st.integers(0, 2), key=st.sampled_from(KEYS))
    def notify(self, who: int, key: str) -> None:
        store_notification(self.people[who], "new_message", "New message", group_key=key, group_title="{count} new")

    @rule(who=st.sets(st.integers(0, 2), min_size=1), key=st.sampled_from(KEYS[:4]))
    def notify_many(self, who: set[int], key: str) -> None:
        store_grouped_notifications(None, [self.people[i] for i in who], kind="new_message", texts=TEXTS, key=key)

    @rule(data=st.data())
    def mark_one_read(self, data: st.DataObject) -> None:
        row = self.pick_row(data)
        if row is not None:
            mark_notification_read(row.user_id, row.pk)

    @rule(who=st.integers(0, 2))
    def mark_all_read(self, who: int) -> None:
        mark_all_notifications_read(self.people[who])

    @rule(who=st.integers(0, 2), conversation=st.sampled_from([1, 2]), unread=st.integers(0, 3))
    def settle(self, who: int, conversation: int, unread: int) -> None:
        settle_new_message_notification(self.people[who], conversation, unread)

    @rule(data=st.data(), by=st.integers(-1, 3))
    def change_count(self, data: st.DataObject, by: int) -> None:
        row = self.pick_row(data)
        if row is not None and row.count + by >= 0:
            Notification.objects.filter(pk=row.pk).update(count=F("count") + by)

    @rule(data=st.data())
    def reopen(self, data: st.DataObject) -> None:
        row = self.pick_row(data)
        if row is not None:
            Notification.objects.filter(pk=row.pk).update(read=False, read_at=None)

    @rule(data=st.data(), to=st.integers(0, 2))
    def move_to_another_user(self, data: st.DataObject, to: int) -> None:
        row = self.pick_row(data)
        if row is not None:
            row.user_id = self.people[to]
            row.save(update_fields=["user"])

    @rule(data=st.data())
    def delete_one(self, data: st.DataObject) -> None:
        row = self.pick_row(data)
        if row is not None:
            row.delete()

    @rule(who=st.integers(0, 2))
    def delete_user(self, who: int) -> None:
        User.objects.filter(pk=self.people[who]).delete()
        self.people[who] = make_user().pk

    @rule(count=st.integers(0, 3), read=st.booleans(), who=st.integers(0, 2))
    def bulk_create(self, count: int, read: bool, who: int) -> None:
        Notification.objects.bulk_create(
            Notification(user_id=self.people[who], kind="system", title="x", count=count, read=read) for _ in range(2)
        )

    @invariant()
    def the_counter_is_the_sum(self) -> None:
        assert_badges_are_the_sums()


@pytest.mark.slow
@pytest.mark.django_db
def test_the_badge_counter_equals_the_sum_of_unread_rows_after_any_sequence_of_notification_writes() -> None:
    run_state_machine_as_test(
        NotificationOperations, settings=settings(max_examples=25, stateful_step_count=20, deadline=None)
    )


@pytest.mark.django_db
def test_the_badge_reads_one_row_by_primary_key() -> None:
    user = make_user()
    for key in KEYS:
        store_notification(user.pk, "new_message", "New message", group_key=key)
    with CaptureQueriesContext(connection) as queries:
        assert notification_unread_count(user.pk) == len(KEYS)
    [query] = queries.captured_queries
    assert "messaging_notificationbadge" in query["sql"] and 'messaging_notification"' not in query["sql"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_the_counter_from_rows_written_before_it() -> None:
    executor = MigrationExecutor(connection)
    before = [("messaging", "0017_notification_user_newest")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        alice, bob, carol = (old.get_model("auth", "User").objects.create(username=f"old{i}") for i in range(3))
        Notifications = old.get_model("messaging", "Notification")
        Notifications.objects.bulk_create(
            [
                Notifications(user_id=alice.pk, kind="system", title="a", count=3),
                Notifications(user_id=alice.pk, kind="system", title="b", count=2),
                Notifications(user_id=alice.pk, kind="system", title="c", count=7, read=True),
                Notifications(user_id=bob.pk, kind="system", title="d", count=1, read=True),
            ]
        )
    finally:
        # Forward through 0018 to the newest migrations, where the tests after this one expect the database.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert notification_unread_count(alice.pk) == 5
    assert notification_unread_count(bob.pk) == 0 and notification_unread_count(carol.pk) == 0
    assert_badges_are_the_sums()
    # and the triggers came with it
    store_notification(bob.pk, "system", "new")
    assert notification_unread_count(bob.pk) == 1


def _lock_waiters() -> int:
    """Backends of this database waiting for a lock now (another connection than the writers')."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("earlier", [0, 2], ids=["first-notifications", "existing-counter"])
def test_two_concurrent_notification_writers_on_postgres_lose_no_increment(earlier: int) -> None:
    """The second writer queues on the counter row the first holds until it commits, then adds to its value."""
    user = make_user()
    for _ in range(earlier):
        store_notification(user.pk, "system", "before")
    first_wrote, second_waits = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                store_notification(user.pk, "system", "first")
                first_wrote.set()
                assert second_waits.wait(60), "the second writer never waited for the first's lock"
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            first_wrote.set()
        finally:
            connection.close()

    def second() -> None:
        try:
            first_wrote.wait(60)
            store_notification(user.pk, "system", "second")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_wrote.wait(60)
    for _ in range(6000):
        if _lock_waiters() or errors:
            break
        threading.Event().wait(0.01)
    waited = _lock_waiters() > 0
    second_waits.set()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert waited, "the second writer did not queue behind the first"
    assert notification_unread_count(user.pk) == earlier + 2 == sums()[user.pk]


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_grouped_notification_write_holds_no_counter_row_while_it_waits_for_a_lower_users() -> None:
    """Counter rows are taken in user order, so two grouped writes cannot each hold a row the other waits for.

    The higher user's row would otherwise be locked first (their notification
    is folded by an UPDATE before the lower user's new row is inserted).
    """
    low, high = make_user(), make_user()
    store_notification(low.pk, "system", "other")  # the low user's counter row exists
    store_notification(high.pk, "new_message", "New message", group_key="new_message:9")  # folded into below
    holding, release, errors = threading.Event(), threading.Event(), []

    def hold_low() -> None:
        try:
            with transaction.atomic():
                list(NotificationBadge.objects.select_for_update().filter(user_id=low.pk))
                holding.set()
                assert release.wait(60)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            holding.set()
        finally:
            connection.close()

    def write_both() -> None:
        try:
            store_grouped_notifications(None, [high.pk, low.pk], kind="new_message", texts=TEXTS, key="new_message:9")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    holder, writer = threading.Thread(target=hold_low), threading.Thread(target=write_both)
    holder.start()
    holding.wait(60)
    writer.start()
    for _ in range(6000):
        if _lock_waiters() or errors:
            break
        threading.Event().wait(0.01)
    try:
        with transaction.atomic():
            high_row_free = NotificationBadge.objects.select_for_update(nowait=True).filter(user_id=high.pk).exists()
    except OperationalError:
        high_row_free = False
    release.set()
    holder.join(60)
    writer.join(60)
    assert not errors, errors
    assert high_row_free, "the grouped write held the higher user's counter row while waiting for the lower one's"
    assert notification_unread_count(low.pk) == 2 and notification_unread_count(high.pk) == 2
    assert_badges_are_the_sums()


# --- Marking and settling touch the user's own rows, and say when nothing changed -------------------


def noted(user: Any, key: str = "", count: int = 1, *, read: bool = False) -> int:
    return Notification.objects.create(
        user=user, kind="new_message", title="t", group_key=key, count=count, read=read
    ).pk


def noted_each(user: Any, counts: dict[str, int]) -> None:
    """An unread notification of ``user`` per group key, with its count."""
    for key, count in counts.items():
        noted(user, key, count)


def unread_of(user: Any) -> dict[str, int]:
    return dict(Notification.objects.filter(user=user, read=False).values_list("group_key", "count"))


@pytest.mark.django_db
def test_marking_everything_read_leaves_other_users_notifications_unread_and_a_second_time_changes_nothing(
    alice: Any, bob: Any
) -> None:
    noted(alice, "new_message:1", 2)
    noted(alice, "mention:1")
    noted(bob, "new_message:1", 3)
    assert mark_all_notifications_read(alice.pk) == 0
    assert (unread_of(alice), unread_of(bob)) == ({}, {"new_message:1": 3})
    assert mark_all_notifications_read(alice.pk) is None


@pytest.mark.django_db
def test_marking_another_users_notification_read_is_not_found_even_for_someone_with_notifications(
    alice: Any, bob: Any
) -> None:
    from messaging.store.errors import NotFound

    mine, theirs = noted(alice, "a"), noted(bob, "b")
    with pytest.raises(NotFound) as refused:
        mark_notification_read(alice.pk, theirs)
    assert str(refused.value) == f"there is no notification {theirs} of yours"
    assert unread_of(bob) == {"b": 1}
    noted(alice, "c", 2)
    assert mark_notification_read(alice.pk, mine) == 2
    assert mark_notification_read(alice.pk, mine) is None  # already read: nothing changed


@pytest.mark.django_db
def test_a_conversation_read_to_the_end_reads_that_users_notifications_of_it_and_no_others(
    alice: Any, bob: Any
) -> None:
    noted_each(alice, {"new_message:1": 2, "mention:1": 2, "reaction:1": 2, "new_message:2": 4, "": 1})
    noted_each(bob, {"new_message:1": 3})
    assert settle_new_message_notification(alice.pk, 1, 0) == 5
    assert unread_of(alice) == {"new_message:2": 4, "": 1}
    assert unread_of(bob) == {"new_message:1": 3}
    assert settle_new_message_notification(alice.pk, 1, 0) is None


@pytest.mark.django_db
def test_a_conversation_read_part_way_lowers_its_count_to_what_is_left(alice: Any, bob: Any) -> None:
    earlier = noted(alice, "new_message:1", 5, read=True)
    noted_each(alice, {"new_message:1": 5, "new_message:2": 5})
    noted_each(bob, {"new_message:1": 5})
    assert settle_new_message_notification(alice.pk, 1, 1) == 6
    assert unread_of(alice) == {"new_message:1": 1, "new_message:2": 5}
    assert unread_of(bob) == {"new_message:1": 5}
    assert Notification.objects.get(pk=earlier).count == 5, "a notification already read keeps its count"
    assert settle_new_message_notification(alice.pk, 1, 1) is None
    assert settle_new_message_notification(alice.pk, 1, 3) is None, "a count is never raised"


@pytest.mark.django_db
@pytest.mark.parametrize("way", ["one", "all", "settled"])
def test_each_way_of_reading_a_notification_stamps_when_for_the_admin(alice: Any, way: str) -> None:
    pk = noted(alice, "new_message:1", 2)
    before = timezone.now()
    if way == "one":
        mark_notification_read(alice.pk, pk)
    elif way == "all":
        mark_all_notifications_read(alice.pk)
    else:
        settle_new_message_notification(alice.pk, 1, 0)
    row = Notification.objects.get(pk=pk)
    assert row.read and row.read_at is not None and before <= row.read_at <= timezone.now()


@pytest.mark.django_db
def test_the_unread_counts_of_some_users_leave_every_other_user_out(alice: Any, bob: Any) -> None:
    noted(alice, "a", 2)
    noted(bob, "b", 3)
    assert notification_unread_counts([alice.pk]) == {alice.pk: 2}
