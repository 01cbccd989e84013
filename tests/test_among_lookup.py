"""``field__among=ids``: the rows of ``field__in=ids``, with the ids bound as one parameter (messaging/models/lookups.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import Notification

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def ten_users(django_user_model: Any) -> list[int]:
    return [django_user_model.objects.create_user(username=f"u{i}").pk for i in range(10)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(min_value=0, max_value=12), max_size=15))
def test_among_matches_the_same_rows_as_in(ten_users: list[int], picks: list[int]) -> None:
    # Indexes past the ten users stand for ids no row has; repeats are allowed.
    ids = [ten_users[i] if i < len(ten_users) else max(ten_users) + i for i in picks]
    among = set(User.objects.filter(pk__among=ids).values_list("pk", flat=True))
    assert among == set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))


def test_the_ids_are_bound_as_one_parameter_however_many(ten_users: list[int]) -> None:
    query = User.objects.filter(pk__among=ten_users, username__gt="a").query
    sql, params = query.get_compiler(using="default").as_sql()
    assert len(params) == 2  # the ids, and the username
    assert sql.count("%s") == 2


def test_among_a_foreign_key_matches_its_rows(ten_users: list[int]) -> None:
    for user_id in ten_users[:3]:
        Notification.objects.create(user_id=user_id, kind="new_message", title="t")
    found = Notification.objects.filter(user_id__among=[ten_users[0], ten_users[2], ten_users[5]])
    assert sorted(found.values_list("user_id", flat=True)) == [ten_users[0], ten_users[2]]


def test_among_nothing_matches_nothing_without_a_query(ten_users: list[int]) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert list(User.objects.filter(pk__among=[])) == []
        assert Notification.objects.filter(user_id__among=[]).update(read=True) == 0
    assert len(queries) == 0


def test_among_binds_ids_beyond_small_integers(django_user_model: Any) -> None:
    # psycopg types an array of ints by its largest: the column's type is what the SQL casts to.
    big = django_user_model.objects.create_user(username="big", id=2_000_000_000)
    small = django_user_model.objects.create_user(username="small", id=7)
    assert set(User.objects.filter(pk__among=[7, 2_000_000_000]).values_list("pk", flat=True)) == {small.pk, big.pk}
    note = Notification.objects.create(id=2**40, user=big, kind="new_message", title="t")
    assert list(Notification.objects.filter(pk__among=[2**40, 3]).values_list("pk", flat=True)) == [note.pk]


def test_among_takes_a_set_or_a_generator(ten_users: list[int]) -> None:
    assert User.objects.filter(pk__among={ten_users[0], ten_users[1]}).count() == 2
    assert User.objects.filter(pk__among=(pk for pk in ten_users[:4])).count() == 4


@pytest.mark.parametrize("bad", ["12", 12, None])
def test_among_refuses_what_is_not_a_collection_of_ids(bad: Any) -> None:
    with pytest.raises(TypeError, match="__among"):
        User.objects.filter(pk__among=bad)


def test_among_refuses_a_subquery() -> None:
    with pytest.raises(TypeError, match="__in"):
        User.objects.filter(pk__among=User.objects.values("pk"))
