"""Avatars: an uploaded picture, checked as attachments are, made a small square WebP.

The upload is typed by its content (:mod:`.sniff`) and must be one of the
images the chat shows inline; its header's pixel count is checked before a
pixel is decoded (a decompression bomb is refused as
:class:`~messaging.exceptions.TooManyPixels`), like an attachment's. What is
stored is never the sender's bytes: the centre square of the upright image,
resized to :data:`AVATAR_EDGE` pixels and encoded again, without metadata.
"""

from __future__ import annotations

import io
import secrets
import warnings
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from ..exceptions import InvalidFile, TooManyPixels, UnsupportedMediaType
from .images import _decoding
from .sniff import INLINE_IMAGE_TYPES, SNIFF_BYTES, checked_type

#: the stored square's edge: 96 CSS pixels on a 2x screen, with room for the profile card
AVATAR_EDGE = 256
CONTENT_TYPE = "image/webp"
#: where avatars live in the attachments storage
PREFIX = "avatars"


def new_storage_name(user_id: int) -> str:
    """A fresh, unguessable name: its URL may be cached for good and is a capability of those shown it."""
    return f"{PREFIX}/{user_id}/{secrets.token_urlsafe(18)}.webp"


def key_of(storage_name: str) -> str:
    """The random part of a storage name (what the avatar URL carries)."""
    return storage_name.rsplit("/", 1)[-1].removesuffix(".webp")


def square_avatar(file: IO[bytes], name: str, client_type: str | None, *, max_pixels: int) -> bytes:
    """The avatar made of an upload (WebP bytes), or the refusal: wrong type, bomb, unreadable."""
    file.seek(0)
    content_type = checked_type(name, client_type, file.read(SNIFF_BYTES))
    if content_type not in INLINE_IMAGE_TYPES:
        raise UnsupportedMediaType(
            f"an avatar is a JPEG, PNG, GIF or WebP image, not {content_type}", content_type=content_type
        )
    file.seek(0)
    with _decoding, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(file, formats=[INLINE_IMAGE_TYPES[content_type]]) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > max_pixels:
                    raise TooManyPixels(f"the image is {width} x {height} pixels, over {max_pixels}", limit=max_pixels)
                image.load()
                return _square(image)
        except Image.DecompressionBombError:
            raise TooManyPixels(f"the image has more than {max_pixels} pixels", limit=max_pixels) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidFile(f"the image could not be read whole ({str(exc)[:120] or type(exc).__name__})") from None


def _square(image: Image.Image) -> bytes:
    upright = ImageOps.exif_transpose(image)
    if upright.mode not in ("RGB", "RGBA"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() or "transparency" in image.info else "RGB")
    square = ImageOps.fit(upright, (AVATAR_EDGE, AVATAR_EDGE), method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.save(out, format="WEBP", quality=85)
    return out.getvalue()
