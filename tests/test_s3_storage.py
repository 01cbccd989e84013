"""The S3 backend makes boto3's session once per process, and a resource per thread from it."""

from __future__ import annotations

import threading
from typing import Any

from messaging.media.s3 import S3Storage


def _storage() -> S3Storage:
    # Constructing the storage and its resources talks to no server.
    return S3Storage(
        bucket_name="linkup-test",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        access_key="key",
        secret_key="secret",
    )


def _in_thread(function: Any) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def test_every_thread_draws_its_s3_resource_from_one_shared_boto3_session() -> None:
    storage = _storage()
    sessions = [_in_thread(storage._create_session) for _ in range(3)]
    assert all(session is sessions[0] for session in sessions)
    assert _storage()._create_session() is sessions[0]


def test_each_thread_gets_a_resource_of_its_own() -> None:
    storage = _storage()
    first, second = _in_thread(lambda: storage.connection), _in_thread(lambda: storage.connection)
    assert first is not second
    assert storage.connection is storage.connection


def test_other_credentials_get_another_session() -> None:
    other = S3Storage(bucket_name="linkup-test", access_key="other", secret_key="secret", region_name="us-east-1")
    assert other._create_session() is not _storage()._create_session()
