"""Receiving uploads: Django's upload handlers, with the limits counted while the bytes stream in.

Django's multipart parser hands each file to its upload handlers chunk by
chunk (64 KiB); :class:`LimitedUploadHandler` comes first and raises the
refusal as soon as a file passes ``MESSAGING_MAX_UPLOAD_BYTES``, the request
passes the files-per-message limit, or the bytes pass what is left of the
user's quota, before the rest is read and before anything reaches the
storage. The handlers after it keep small files in memory and write larger
ones to a temporary file (``FILE_UPLOAD_MAX_MEMORY_SIZE``), so a 20 MB file
never sits whole in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http import HttpRequest

from ..exceptions import QuotaExceeded, TooLarge, TooManyFiles

#: multipart overhead allowed per file on top of its bytes (part headers, boundaries)
PART_OVERHEAD_BYTES = 16 * 1024


class LimitedUploadHandler(FileUploadHandler):
    """Counts each file's bytes, the files and the request's bytes; raises the first limit passed."""

    def __init__(self, request: HttpRequest, *, max_bytes: int, max_files: int, allowance: int, setting: str) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        #: the setting ``max_bytes`` comes from, named by ``too_large``
        self.setting = setting
        self.max_files = max_files
        self.allowance = allowance
        self.files = 0
        self.current = 0
        self.total = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        if self.files > self.max_files:
            raise TooManyFiles(f"one upload holds at most {self.max_files} files", limit=self.max_files)
        self.current = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.current += len(raw_data)
        self.total += len(raw_data)
        if self.current > self.max_bytes:
            raise TooLarge(
                f"{self.file_name!r} is over {self.max_bytes} bytes", limit=self.max_bytes, setting=self.setting
            )
        if self.total > self.allowance:
            raise QuotaExceeded(
                f"these files would take your uploads past your quota ({self.allowance} bytes left)",
                limit=self.allowance,
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@dataclass(frozen=True)
class UploadLimit:
    """An upload endpoint's limits: each file's bytes (from ``setting``) and the files one request holds.

    ``what`` names the upload in the refusal ("an upload", "an avatar upload").
    """

    max_bytes: int
    max_files: int
    setting: str
    what: str

    @property
    def ceiling(self) -> int:
        """The largest body a request may declare: every file at the limit, plus multipart overhead."""
        return self.max_files * (self.max_bytes + PART_OVERHEAD_BYTES)

    def refuse_declared(self, request: HttpRequest) -> TooLarge | None:
        """``too_large`` for a request whose ``Content-Length`` is over the ceiling (checked before its body is read)."""
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared <= self.ceiling:
            return None
        return TooLarge(f"{self.what} is at most {self.ceiling} bytes", limit=self.max_bytes, setting=self.setting)

    def install(self, request: HttpRequest, *, allowance: int) -> None:
        """Put the limits in front of Django's own handlers (before ``request.FILES`` is first read)."""
        request.upload_handlers = [
            LimitedUploadHandler(
                request, max_bytes=self.max_bytes, max_files=self.max_files, allowance=allowance, setting=self.setting
            ),
            MemoryFileUploadHandler(request),
            TemporaryFileUploadHandler(request),
        ]
