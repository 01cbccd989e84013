#!/usr/bin/env python3
"""Make every icon the web app manifest and the pages name, from one source image.

The source (``messaging/static/messaging/icons/source.png``) is a square,
full-bleed picture: the brand colour to its edges, the mark well inside the
middle 80 % (the safe zone of a maskable icon). From it:

- ``icon-<n>.png``: the "any" icons, corners rounded as the brand mark is;
- ``maskable-<n>.png``: full bleed, for launchers that cut their own shape;
- ``apple-touch-icon.png`` (180) and ``favicon-32.png``;
- ``badge-96.png``: the mark alone, white on transparent, for Android's status bar.

The generated files are committed, so the app needs no build step; run this
again after changing the source: ``.venv/bin/python scripts/make_icons.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "messaging" / "static" / "messaging" / "icons"
#: the sizes browsers and launchers ask for (Chromium wants 192 and 512 to install)
ANY_SIZES = (48, 72, 96, 128, 144, 152, 192, 256, 384, 512)
MASKABLE_SIZES = (192, 512)
#: the brand mark's corner radius: 9 of its 32 units
CORNER_RATIO = 9 / 32


def rounded(image: Image.Image) -> Image.Image:
    size = image.width
    mask = Image.new("L", (size * 4, size * 4), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, size * 4 - 1, size * 4 - 1), radius=size * 4 * CORNER_RATIO, fill=255)
    out = image.convert("RGBA")
    out.putalpha(mask.resize((size, size), Image.LANCZOS))
    return out


def badge(source: Image.Image, size: int) -> Image.Image:
    """The light parts of the source (the mark) as white on transparent."""
    grey = source.convert("L").resize((size, size), Image.LANCZOS)
    background = source.convert("L").getpixel((0, 0))
    alpha = ImageChops.subtract(grey, Image.new("L", grey.size, background), scale=(255 - background) / 255)
    out = Image.new("RGBA", grey.size, (255, 255, 255, 0))
    out.putalpha(alpha)
    return out


def make(source_path: Path, out: Path) -> list[Path]:
    source = Image.open(source_path).convert("RGB")
    if source.width != source.height or source.width < 512:
        raise SystemExit(f"{source_path}: the source must be square and at least 512 px, not {source.size}")
    written = []

    def save(image: Image.Image, name: str) -> None:
        path = out / name
        image.save(path, optimize=True)
        written.append(path)

    for size in ANY_SIZES:
        save(rounded(source.resize((size, size), Image.LANCZOS)), f"icon-{size}.png")
    for size in MASKABLE_SIZES:
        save(source.resize((size, size), Image.LANCZOS), f"maskable-{size}.png")
    save(source.resize((180, 180), Image.LANCZOS), "apple-touch-icon.png")
    save(rounded(source.resize((32, 32), Image.LANCZOS)), "favicon-32.png")
    save(badge(source, 96), "badge-96.png")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ICONS / "source.png")
    parser.add_argument("--out", type=Path, default=ICONS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in make(args.source, args.out):
        print(path.relative_to(args.out.parent.parent.parent.parent) if path.is_relative_to(ICONS) else path)


if __name__ == "__main__":
    main()
