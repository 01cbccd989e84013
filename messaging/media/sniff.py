"""The type of a file, read from its first bytes (libmagic), never from its name or the client's header.

libmagic (Debian's ``libmagic1``, through ``python-magic``) is what ``file(1)``
uses: it knows thousands of formats, including the zip-based office files and
executables of every platform, which a hand-written table of signatures would
not. The name and the browser's ``Content-Type`` are used for one thing only:
a file that *claims* to be an image must be one (an executable or a zip
renamed ``photo.jpg`` is refused), so that nobody is tricked into opening it.
"""

from __future__ import annotations

import os
from typing import IO

import magic

from ..exceptions import InvalidFile, UnsupportedMediaType

#: bytes read to decide (enough for libmagic to look inside a zip's first entries)
SNIFF_BYTES = 64 * 1024

#: images shown inline, with a thumbnail; everything else is a download
INLINE_IMAGE_TYPES: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}

#: name endings that say "this is an image"
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
        ".ico",
        ".svg",
    }
)

_detector = magic.Magic(mime=True)


def sniff(head: bytes) -> str:
    """The MIME type of content starting with ``head`` (``application/octet-stream`` when unknown)."""
    if not head:
        return "application/x-empty"
    found = _detector.from_buffer(head)
    return found or "application/octet-stream"


def sniff_file(file: IO[bytes]) -> str:
    """:func:`sniff` of a file's first bytes; the file is left at its start."""
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    return sniff(head)


def claims_image(name: str, client_type: str | None) -> bool:
    """Whether the name or the browser says the file is an image."""
    extension = os.path.splitext(name.lower())[1]
    return extension in IMAGE_EXTENSIONS or (client_type or "").lower().startswith("image/")


def checked_type(name: str, client_type: str | None, head: bytes) -> str:
    """The content's type, or the refusal of a file that is empty or not the image it claims to be."""
    if not head:
        raise InvalidFile("the file is empty")
    content_type = sniff(head)
    if claims_image(name, client_type) and not content_type.startswith("image/"):
        raise UnsupportedMediaType(
            f"{name!r} is named or sent as an image, but its content is {content_type}", content_type=content_type
        )
    return content_type
