"""HTTP ``Range: bytes=`` for downloads (RFC 9110 §14): one range, or the whole file.

Django's ``FileResponse`` serves whole files only. A resumed download or a
video seek asks for one range; several ranges in one request (multipart
answers) are rare enough that the whole file is the answer, which the RFC
allows.
"""

from __future__ import annotations

import re

_BYTES = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    """The range lies outside the file: answered with 416 and ``Content-Range: bytes */size``."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions asked for, or None for the whole file.

    A header that is not one well-formed ``bytes`` range is ignored (the whole
    file), as the RFC says; a well-formed one that starts past the end raises
    :class:`Unsatisfiable`.
    """
    if not header:
        return None
    match = _BYTES.match(header)
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        raise Unsatisfiable
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)
