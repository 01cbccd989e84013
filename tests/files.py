"""Files made for the attachment tests and the bad-input script: real formats, generated, never fetched."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def jpeg(
    width: int = 64, height: int = 32, *, orientation: int | None = None, gps: bool = False, color=(200, 30, 30)
) -> bytes:
    """A JPEG, optionally with an EXIF orientation and a GPS position (what a phone writes)."""
    image = Image.new("RGB", (width, height), color)
    # a marker pixel block top-left, to see where a rotation put it
    for x in range(min(8, width)):
        for y in range(min(8, height)):
            image.putpixel((x, y), (0, 0, 255))
    exif = Image.Exif()
    exif[MAKE] = "LinkUpCam"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(width: int = 40, height: int = 40, *, text: str | None = None, mode: str = "RGBA") -> bytes:
    from PIL import PngImagePlugin

    image = Image.new(mode, (width, height), (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200))
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Comment", text)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def gif(width: int = 20, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("P", (width, height), 3).save(out, format="GIF")
    return out.getvalue()


def webp(width: int = 30, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 200, 0)).save(out, format="WEBP")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims ``width`` x ``height`` (a decompression bomb's shape).

    Its data is one deflate stream of zeros far shorter than the claim: a
    decoder that believed the header would allocate width x height first.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    data = zlib.compress(b"\x00" * 65536, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def zip_bomb() -> bytes:
    """A zip whose one entry inflates 10 MB of zeros from a few kilobytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.bin", b"\x00" * (10 * 1024 * 1024))
    return out.getvalue()


def elf_executable() -> bytes:
    """The start of a real Linux executable (this machine's ``/bin/true``)."""
    with open("/bin/true", "rb") as handle:
        return handle.read()


def pdf(text: str = "LinkUp") -> bytes:
    """A one-page PDF, written by hand (the format's smallest valid shape)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * keep))]


def noisy_jpeg(width: int, height: int) -> bytes:
    """A JPEG that does not compress to nothing (random pixels), for size-bound tests."""
    import os

    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()
