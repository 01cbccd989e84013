"""The S3 backend of the attachments storage: django-storages' ``S3Storage``, one boto3 session per process.

django-storages keeps a boto3 resource per thread (resources are not
thread-safe), each from a new boto3 session, which loads botocore's service
models again: 0.15-0.4 s and several MB each time. Under daphne every
request's sync code runs in a thread of its own (Django's
``ThreadSensitiveContext``), so every upload and every download paid it: on
the deployment stack a 1 MB upload took 0.9 s and ten at once grew the
worker by 160 MB (docs/benchmark.md, "Uploads"). Here the session, whose
loader caches the models, is made once and shared; each thread still gets its
own resource from it (50-70 ms), made under a lock because a session is not
safe to use from two threads at once.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from storages.backends.s3 import S3Storage as BaseS3Storage

_lock = threading.Lock()
_sessions: dict[Any, boto3.session.Session] = {}


class S3Storage(BaseS3Storage):
    def _create_session(self) -> boto3.session.Session:
        key = (self.session_profile, self.access_key, self.secret_key, self.security_token)
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = super()._create_session()
        return session

    @property
    def connection(self) -> Any:
        connection = getattr(self._connections, "connection", None)
        if connection is not None:
            return connection
        with _lock:
            return super().connection

    @property
    def unsigned_connection(self) -> Any:
        connection = getattr(self._unsigned_connections, "connection", None)
        if connection is not None:
            return connection
        with _lock:
            return super().unsigned_connection
