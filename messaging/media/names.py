"""File names: the one people see, and the one the storage uses.

The storage name never comes from the user: it is
``attachments/<conversation>/<random token>/<ascii slug>``, so ``../``, a
leading ``/``, a Windows path, a reserved device name or two uploads called
the same can never reach outside that folder or overwrite anything. The shown
name keeps what the sender chose (any script), minus what would deceive or
break a header: path parts, control characters, bidirectional overrides
("exe.jpg" written as "gpj.exe" by U+202E), zero-width characters, and
anything beyond :data:`MAX_NAME_LENGTH` characters (the extension is kept).
"""

from __future__ import annotations

import re
import secrets
import unicodedata

#: code points a shown name keeps at most (the column holds 255)
MAX_NAME_LENGTH = 200
#: longest extension kept when a long name is cut
MAX_EXTENSION_LENGTH = 16
#: characters of the ASCII slug at the end of a storage name
MAX_SLUG_LENGTH = 80
PREFIX = "attachments"
FALLBACK_NAME = "file"

# Cc: control characters; Cf: format characters (bidi overrides and isolates,
# zero-width joiners, BOM); Cs: surrogates; Co: private use; Cn: unassigned.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def display_name(raw: str) -> str:
    """The name to show and to send in ``Content-Disposition``; never empty, never a path."""
    name = unicodedata.normalize("NFC", str(raw))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if ch in "\t\n\r\x0b\x0c" else ch for ch in name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = " ".join(name.split())
    name = name.lstrip(". ").rstrip(". ")
    if not name:
        return FALLBACK_NAME
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= MAX_EXTENSION_LENGTH:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH].rstrip(". ")
    return name or FALLBACK_NAME


def slug(name: str) -> str:
    """An ASCII rendering of a shown name for the end of a storage path (readable in a bucket listing)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = _SLUG_UNSAFE.sub("-", ascii_name).strip(".-_")
    ascii_name = re.sub(r"\.{2,}", ".", ascii_name)
    if len(ascii_name) > MAX_SLUG_LENGTH:
        stem, dot, extension = ascii_name.rpartition(".")
        if dot and stem and len(extension) <= MAX_EXTENSION_LENGTH:
            ascii_name = stem[: MAX_SLUG_LENGTH - len(extension) - 1] + "." + extension
        else:
            ascii_name = ascii_name[:MAX_SLUG_LENGTH]
        ascii_name = ascii_name.strip(".-_")
    return ascii_name or FALLBACK_NAME


def new_storage_name(conversation_id: int, shown_name: str, *, token: str | None = None) -> str:
    """A fresh storage name for an upload to ``conversation_id`` (a random folder per upload)."""
    token = token or secrets.token_hex(16)
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise ValueError("a storage token is 32 hex digits")
    return f"{PREFIX}/{int(conversation_id)}/{token}/{slug(shown_name)}"


def thumbnail_name(storage_name: str) -> str:
    """Where an image's thumbnail lives: beside it, under a name no upload can take."""
    folder = storage_name.rsplit("/", 1)[0]
    return f"{folder}/thumbnail/thumbnail.webp"
