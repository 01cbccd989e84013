"""Letter avatars as PNG, for what cannot draw them itself: system notifications.

The pages draw an avatar in CSS (``dom.js``: the first letter on a hue
picked from the name); a notification needs an image URL. This draws the
same picture with Pillow. It shows only what the URL already says (a letter
of the name and a colour derived from it), so it needs no sign-in and tells
no one whether the user exists. Issue 17's uploaded avatars take over here.
"""

from __future__ import annotations

import colorsys
import functools
import io
import re

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from PIL import Image, ImageDraw, ImageFont

#: the hues of dom.js's avatars, in the same order
HUES = (215, 265, 330, 20, 40, 150, 185, 295)
SIZE = 192
USERNAME = re.compile(r"^[\w.@+-]{1,150}$")


def avatar_hue(name: str) -> int:
    """dom.js's ``avatarHue``: FNV-1a over the code points of the name."""
    value = 2166136261
    for char in name:
        value ^= ord(char)
        value = (value * 16777619) & 0xFFFFFFFF
    return HUES[value % len(HUES)]


def _rgb(hue: int, saturation: float, lightness: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


@functools.lru_cache(maxsize=512)
def avatar_png(name: str) -> bytes:
    hue = avatar_hue(name)
    image = Image.new("RGB", (SIZE, SIZE), _rgb(hue, 0.70, 0.88))
    letter = name[:1].upper() or "?"
    font = ImageFont.load_default(size=SIZE * 0.5)
    ImageDraw.Draw(image).text((SIZE / 2, SIZE / 2), letter, font=font, fill=_rgb(hue, 0.55, 0.25), anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@require_GET
@cache_control(max_age=86400, public=True)
def avatar(request: HttpRequest, username: str) -> HttpResponse:
    if not USERNAME.match(username):
        raise Http404("not a username")
    return HttpResponse(avatar_png(username), content_type="image/png")
