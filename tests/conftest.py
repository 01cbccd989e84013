"""Shared fixtures: named users, signed-in sockets and a clean channel layer per test.

The helpers the fixtures use, and the tests import, are in ``tests/support/``.

The suite runs on two stacks (see .ci/run): the embedded default (SQLite and
the in-memory layer) and the deployment stack (``DATABASE_URL`` PostgreSQL,
``REDIS_URL`` channels-redis and the Redis cache). A test that only makes
sense on one of them carries a marker from ``STACK_MARKERS`` and is skipped,
with the reason shown in the summary, on the other.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.layers import channel_layers
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, TransactionTestCase, override_settings
from hypothesis import HealthCheck, settings

from messaging import notification_service
from messaging.guards.circuit_breaker import BREAKERS
from messaging.logging_utils import messaging_logger
from messaging.realtime.presence import tracker

from .support import PASSWORD, STACK_MARKERS, Socket, communicator, on_s3, session_cookie
from .support.channels import flush_channel_layer
from .support.files import StoredFiles
from .support.flush import flush_what_the_test_wrote

# Tests that touch the database or a socket do I/O: no per-example deadline,
# and few examples (CI runs the whole suite twice on 2 cores).
settings.register_profile(
    "linkup",
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("linkup")


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep Hypothesis from writing a patch for a failing example: the failure is reported as usual.

    Hypothesis's plugin rewrites the test's source with libcst to suggest an ``@example``.
    With Twisted imported (daphne), zope.interface lists ``__provides__`` on classes that
    cannot give it, libcst's visitor lookup raises ``AttributeError``, and pytest stops the
    whole run with an INTERNALERROR that hides the falsifying example. This wrapper is the
    innermost one, so it takes the examples away before Hypothesis's wrapper reads them.
    """
    yield
    item.__dict__.pop("_hypothesis_failing_examples", None)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> Iterator[None]:
    """Under mutmut (scripts/mutation), each forked mutant run gets its own copy of the SQLite test database.

    mutmut runs mutants in parallel children that share the working directory;
    with one test database file, one child's flush between transactional tests
    would empty another's tables mid-test and count a surviving mutant as killed.
    The copy starts from the database the clean run built (``--reuse-db``), so
    a child does not migrate from scratch, and is removed when the child ends.
    """
    database = django_settings.DATABASES["default"]
    test = database.get("TEST", {})
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", "") or "sqlite" not in database["ENGINE"]:
        yield
        return
    shared = Path(test["NAME"])
    own = shared.with_name(f"{shared.stem}-mutant-{os.getpid()}{shared.suffix}")
    files = [own, *(own.with_name(own.name + tail) for tail in ("-wal", "-shm"))]
    for file in files:
        file.unlink(missing_ok=True)
    if shared.exists():
        # SQLite's backup, not a file copy: the clean run leaves the newest
        # state in the -wal file, and the main file alone can be a snapshot
        # taken mid-test (rows left in it fail every test: false kills).
        with contextlib.closing(sqlite3.connect(shared)) as source, contextlib.closing(sqlite3.connect(own)) as copy:
            source.backup(copy)
    test["NAME"] = str(own)
    yield
    for file in files:
        file.unlink(missing_ok=True)


def pytest_report_header(config: pytest.Config) -> str:
    database = django_settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = django_settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    cache_backend = django_settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"linkup stack: database {database}, channel layer {layer}, cache {cache_backend}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, (available, reason) in STACK_MARKERS.items():
            if item.get_closest_marker(marker) and not available():
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def fresh_channel_layer_and_cache() -> Any:
    """Each test gets its own channel layer (bound to its own event loop) and an empty cache.

    On the deployment stack the cache is Redis (``cache.clear()`` flushes the
    whole database of ``REDIS_URL``), so rate-limit buckets do not leak from
    one test into the next either. Never point the suite at a Redis you keep.
    Nor do error records an earlier test's outage left waiting to be stored
    (they name that test's users and messages).
    """
    channel_layers.backends.clear()
    flush_channel_layer()
    cache.clear()
    messaging_logger.drop_backlog()
    for breaker in BREAKERS.values():
        breaker.reset()
    yield
    tracker.stop()
    flush_channel_layer()


@pytest.fixture(autouse=True, scope="session")
def flush_only_what_a_test_wrote() -> Iterator[None]:
    """Transactional tests end by emptying the tables that hold rows, keeping the content types and permissions.

    The database the next test starts from is the one Django's flush would
    leave, for about a third of the cost (tests/support/flush.py). The
    notification attempts still running in their pool threads are waited
    for first, so that none of them writes (an error record, a retry
    item) into the next test's database.
    """
    django_flush = TransactionTestCase._fixture_teardown

    def teardown(test_case: TransactionTestCase) -> None:
        # An email or push the test queued may still be trying in its pool
        # thread: let it finish against this test's rows, not the next test's.
        notification_service.wait_for_attempts(timeout=10)
        if test_case.available_apps is not None or test_case.serialized_rollback:
            django_flush(test_case)
        else:
            flush_what_the_test_wrote(test_case, django_flush)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TransactionTestCase, "_fixture_teardown", teardown)
        yield


@pytest.fixture(autouse=True, scope="session")
def fast_password_hasher() -> Any:
    """Django's PBKDF2 takes about half a second a password here, and most tests make two users.

    Only this process: the end-to-end servers keep the real hasher.
    """
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def no_background_search_indexer() -> Any:
    """This process's search indexer thread stays off: every search indexes what is queued first.

    A thread draining in the background would reach into the next test's
    database; ``tests/test_search_api.py`` runs it where it is the subject.
    The end-to-end servers keep it on.
    """
    with override_settings(MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS=0):
        yield


@pytest.fixture(autouse=True, scope="session")
def no_background_wal_checkpointer() -> Any:
    """This process's SQLite checkpointer thread stays off (SQLite checkpoints by itself, at its threshold).

    ``tests/test_wal_checkpoints.py`` runs it where it is the subject; the
    end-to-end servers keep it on.
    """
    with override_settings(MESSAGING_SQLITE_CHECKPOINT_SECONDS=0):
        yield


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[[str], Any]:
    def make(username: str) -> Any:
        return django_user_model.objects.create_user(
            username=username, password=PASSWORD, email=f"{username}@example.com"
        )

    return make


@pytest.fixture
def alice(transactional_db: None, make_user: Callable[[str], Any]) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(transactional_db: None, make_user: Callable[[str], Any]) -> Any:
    return make_user("bob")


@pytest.fixture
def carol(transactional_db: None, make_user: Callable[[str], Any]) -> Any:
    return make_user("carol")


@pytest.fixture
def cookies(transactional_db: None) -> Callable[[Any], str]:
    cache_: dict[int, str] = {}

    def cookie(user: Any) -> str:
        if user.pk not in cache_:
            cache_[user.pk] = session_cookie(user)
        return cache_[user.pk]

    return cookie


@pytest.fixture
async def open_socket(cookies: Callable[[Any], str]) -> AsyncIterator[Callable[..., Awaitable[Socket]]]:
    """``await open_socket(alice, "/ws/notifications/")``: a signed-in socket and its first frame, closed after the test."""
    from channels.db import database_sync_to_async

    opened: list[Socket] = []

    async def open_(user: Any, path: str) -> Socket:
        comm = communicator(path, await database_sync_to_async(cookies)(user))
        connected, code = await comm.connect(timeout=5)
        assert connected, f"handshake refused with {code}"
        socket = Socket(comm, await comm.receive_json_from(timeout=5))
        opened.append(socket)
        return socket

    yield open_
    for socket in opened:
        if not socket.comm.future.done():
            await socket.comm.disconnect()


@pytest.fixture
def chat(open_socket: Callable[..., Awaitable[Socket]]) -> Callable[..., Awaitable[Socket]]:
    """``await chat(alice, "bob")``: a signed-in chat socket past its ``connected`` frame."""

    async def open_chat(user: Any, peer: str) -> Socket:
        socket = await open_socket(user, f"/ws/chat/{peer}/")
        assert socket.connected["type"] == "connected"
        return socket

    return open_chat


@pytest.fixture
def user_socket(open_socket: Callable[..., Awaitable[Socket]]) -> Callable[..., Awaitable[Socket]]:
    """``await user_socket(alice)``: a signed-in ``ws/chat/`` socket (every conversation) past its ``connected`` frame."""

    async def open_user_socket(user: Any) -> Socket:
        socket = await open_socket(user, "/ws/chat/")
        assert socket.connected["type"] == "connected"
        assert socket.connected["user"]["username"] == user.get_username()
        return socket

    return open_user_socket


@pytest.fixture
def user_model() -> Any:
    return get_user_model()


@pytest.fixture
def staff_client(django_user_model: Any) -> Client:
    """A test client signed in as a superuser ("root"), for the admin (the test's db marker applies)."""
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    return client


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from .robustness import STATS

    if STATS:
        terminalreporter.section("LinkUp robustness figures")
        for name, value in sorted(STATS.items()):
            terminalreporter.write_line(f"{name}: {value}")


# --- Attachments: the storage the tests write to ------------------------------------


@pytest.fixture
def media_storage(tmp_path: Any) -> Any:
    """The attachment storage: a fresh folder on the embedded default, the stack's S3 bucket on the stack.

    On S3 each test gets a key prefix of its own in the run's bucket (the
    storage's ``location``), so what one test stored is not another's.
    """
    import uuid

    attachments = django_settings.STORAGES["attachments"]
    if on_s3():
        options = {**attachments["OPTIONS"], "location": f"tests/{uuid.uuid4().hex}"}
        backend = {"BACKEND": attachments["BACKEND"], "OPTIONS": options}
    else:
        backend = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        }
    storages_setting = {**django_settings.STORAGES, "attachments": backend}
    with override_settings(STORAGES=storages_setting):
        yield StoredFiles()
