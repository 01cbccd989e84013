"""Images: refused beyond the pixel budget before they are decoded, checked whole, re-encoded clean, thumbnailed.

What is served is made here, never the sender's bytes: JPEG, PNG and WebP are
decoded and encoded again with their EXIF orientation applied and without
their metadata (EXIF with the GPS position and the camera's serial number,
XMP, comments, text chunks; the colour profile is kept), which also drops
anything a crafted file hid after the image data. GIFs have no EXIF and are
served as sent, once their first frame decoded.

The budget is checked on the header's claimed size, before a pixel is
decoded: a 60,000 x 60,000 PNG of a few kilobytes (a decompression bomb)
would take 10 GB to decode. Decoding is limited to
:data:`CONCURRENT_DECODES` at a time per process, so ten large photos
arriving at once cost two images' worth of memory, not ten.
"""

from __future__ import annotations

import io
import tempfile
import threading
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from ..exceptions import InvalidFile, TooManyPixels
from .sniff import INLINE_IMAGE_TYPES

#: the thumbnail's longest edge, in pixels (240 CSS pixels on a 2x screen)
THUMBNAIL_EDGE = 480
CONCURRENT_DECODES = 2
#: what a re-encoded original keeps of the source's ``info``
_KEPT_INFO = ("icc_profile", "transparency", "duration", "loop", "background", "dpi")

_decoding = threading.BoundedSemaphore(CONCURRENT_DECODES)


@dataclass
class PreparedImage:
    width: int
    height: int
    #: the thumbnail, WebP
    thumbnail: bytes
    #: the original made clean (a temporary file at its start), or None to serve the sent bytes (GIF)
    cleaned: IO[bytes] | None


def prepare(file: IO[bytes], content_type: str, *, max_pixels: int) -> PreparedImage:
    """Check an image of an allowed type and make what is served of it; raises the refusal."""
    image_format = INLINE_IMAGE_TYPES[content_type]
    file.seek(0)
    with _decoding, warnings.catch_warnings():
        # Pillow's own bomb check warns past its limit; ours is lower and explicit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(file, formats=[image_format]) as image:
                return _prepare_open(image, image_format, max_pixels)
        except Image.DecompressionBombError:
            raise TooManyPixels(f"the image has more than {max_pixels} pixels", limit=max_pixels) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidFile(f"the image could not be read whole ({_reason(exc)})") from None


def _prepare_open(image: Image.Image, image_format: str, max_pixels: int) -> PreparedImage:
    width, height = image.size
    if width < 1 or height < 1 or width * height > max_pixels:
        raise TooManyPixels(f"the image is {width} x {height} pixels, over {max_pixels}", limit=max_pixels)
    frames = getattr(image, "n_frames", 1)
    if image_format != "GIF" and frames > 1 and width * height * frames > max_pixels:
        raise TooManyPixels(
            f"the animation is {frames} frames of {width} x {height} pixels, over {max_pixels} in all", limit=max_pixels
        )
    image.load()
    cleaned = None if image_format == "GIF" else _reencode(image, image_format, frames)
    upright = ImageOps.exif_transpose(image)
    return PreparedImage(upright.width, upright.height, _thumbnail(upright), cleaned)


def _reencode(image: Image.Image, image_format: str, frames: int) -> IO[bytes]:
    """The image without metadata, upright, in its own format (a temporary file)."""
    kept = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 - returned open
    if frames > 1:
        # Animated PNG or WebP: every frame, no orientation (EXIF on animations is not applied by browsers either).
        image.info = dict(kept.items())
        image.save(out, format=image_format, save_all=True, **_encoder_options(image_format, image), **kept)
    else:
        upright = ImageOps.exif_transpose(image)
        upright.info = {}
        upright.save(out, format=image_format, **_encoder_options(image_format, upright), **kept)
    out.seek(0)
    return out


def _encoder_options(image_format: str, image: Image.Image) -> dict[str, object]:
    if image_format == "JPEG":
        return {"quality": 90, "optimize": True, "exif": b""}
    if image_format == "WEBP":
        return {"quality": 90, "exif": b"", "xmp": b""}
    return {"exif": b""}


def _thumbnail(image: Image.Image) -> bytes:
    thumbnail = image.copy()
    if thumbnail.mode not in ("RGB", "RGBA"):
        thumbnail = thumbnail.convert("RGBA" if "A" in thumbnail.getbands() or "transparency" in image.info else "RGB")
    thumbnail.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    out = io.BytesIO()
    thumbnail.save(out, format="WEBP", quality=80)
    return out.getvalue()


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:120]
