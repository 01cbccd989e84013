"""The attachment rules with no server: names and storage paths, sniffing, the pixel guard, ranges, the upload limits."""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from messaging.exceptions import InvalidFile, QuotaExceeded, TooLarge, TooManyFiles, TooManyPixels, UnsupportedMediaType
from messaging.http.uploads import LimitedUploadHandler
from messaging.media import images, names, ranges, sniff
from tests import files

STORAGE_NAME = re.compile(r"attachments/[0-9]+/[0-9a-f]{32}/[A-Za-z0-9._-]+")
BIDI_AND_INVISIBLE = {
    "\u202e",
    "\u202d",
    "\u202a",
    "\u202b",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200b",
    "\u200e",
    "\u200f",
    "\ufeff",
}

any_names = st.one_of(
    st.text(max_size=400),
    st.lists(
        st.sampled_from(["..", "/", "\\", ".", "a", "\u202e", "\x00", "\n", "gpj", ".exe", "COM1", " ", "é"]),
        max_size=40,
    ).map("".join),
)


# --- Names and storage paths ---------------------------------------------------------


@given(any_names)
def test_a_shown_name_is_never_empty_never_a_path_and_never_hides_its_text_direction(raw: str) -> None:
    shown = names.display_name(raw)
    assert 1 <= len(shown) <= names.MAX_NAME_LENGTH
    assert "/" not in shown and "\\" not in shown
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in shown)
    assert not (set(shown) & BIDI_AND_INVISIBLE)
    assert shown == shown.strip() and not shown.startswith(".")
    assert names.display_name(shown) == shown  # stable: showing it again changes nothing


@given(any_names, st.integers(min_value=1, max_value=2**53))
def test_a_storage_name_stays_in_its_conversations_folder_whatever_the_file_was_called(
    raw: str, conversation: int
) -> None:
    stored = names.new_storage_name(conversation, names.display_name(raw))
    assert STORAGE_NAME.fullmatch(stored), stored
    assert stored.startswith(f"attachments/{conversation}/")
    assert ".." not in stored.split("/") and "/." not in stored and len(stored) <= 255
    thumbnail = names.thumbnail_name(stored)
    assert thumbnail.startswith(stored.rsplit("/", 1)[0] + "/thumbnail/") and thumbnail != stored


def test_two_uploads_with_the_same_name_get_different_storage_names() -> None:
    assert names.new_storage_name(1, "a.jpg") != names.new_storage_name(1, "a.jpg")


def test_a_long_name_is_cut_and_keeps_its_extension() -> None:
    shown = names.display_name("x" * 300 + ".pdf")
    assert len(shown) == names.MAX_NAME_LENGTH and shown.endswith(".pdf")


def test_a_right_to_left_override_cannot_disguise_an_extension() -> None:
    assert names.display_name("invoice\u202egpj.exe") == "invoicegpj.exe"


# --- Sniffing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (files.jpeg(), "image/jpeg"),
        (files.png(), "image/png"),
        (files.gif(), "image/gif"),
        (files.webp(), "image/webp"),
        (files.pdf(), "application/pdf"),
        (files.zip_bomb(), "application/zip"),
        (b"just some words\n", "text/plain"),
    ],
)
def test_the_type_comes_from_the_content(data: bytes, expected: str) -> None:
    assert sniff.sniff(data[: sniff.SNIFF_BYTES]) == expected


def test_a_name_or_header_claiming_an_image_must_be_one() -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff.checked_type("cat.jpg", "application/octet-stream", files.elf_executable()[: sniff.SNIFF_BYTES])
    with pytest.raises(UnsupportedMediaType):
        sniff.checked_type("cat", "image/png", files.zip_bomb())
    assert sniff.checked_type("cat.jpg", "image/jpeg", files.png()) == "image/png"  # an image, just another kind
    assert sniff.checked_type("tool", "application/octet-stream", files.elf_executable()[:4096]).startswith(
        "application/"
    )


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidFile):
        sniff.checked_type("empty.txt", "text/plain", b"")


# --- Images -------------------------------------------------------------------------------


def test_an_image_over_the_pixel_budget_is_refused_from_its_header() -> None:
    data = files.png_claiming(60000, 60000)
    assert len(data) < 2000
    with pytest.raises(TooManyPixels):
        images.prepare(io.BytesIO(data), "image/png", max_pixels=50_000_000)


def test_the_budget_is_the_setting_not_pillows_own_limit() -> None:
    with pytest.raises(TooManyPixels):
        images.prepare(io.BytesIO(files.png(101, 100)), "image/png", max_pixels=10_000)
    assert images.prepare(io.BytesIO(files.png(100, 100)), "image/png", max_pixels=10_000).width == 100


def test_a_truncated_image_is_refused() -> None:
    with pytest.raises(InvalidFile):
        images.prepare(io.BytesIO(files.truncated(files.noisy_jpeg(80, 80))), "image/jpeg", max_pixels=10**6)


def test_a_corrupt_image_is_refused() -> None:
    data = bytearray(files.png(50, 50))
    data[60:80] = b"\xff" * 20
    with pytest.raises(InvalidFile):
        images.prepare(io.BytesIO(bytes(data)), "image/png", max_pixels=10**6)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied_and_every_tag_is_stripped(orientation: int) -> None:
    prepared = images.prepare(
        io.BytesIO(files.jpeg(60, 20, orientation=orientation, gps=True)), "image/jpeg", max_pixels=10**6
    )
    expected = (20, 60) if orientation in (6, 8) else (60, 20)
    assert (prepared.width, prepared.height) == expected
    assert prepared.cleaned is not None
    served = Image.open(prepared.cleaned)
    assert served.size == expected and not served.getexif() and "exif" not in served.info
    thumbnail = Image.open(io.BytesIO(prepared.thumbnail))
    assert thumbnail.size == expected and not thumbnail.getexif()


def test_png_text_chunks_are_stripped_and_transparency_kept() -> None:
    prepared = images.prepare(io.BytesIO(files.png(30, 30, text="GPS 48.85,2.29")), "image/png", max_pixels=10**6)
    served = Image.open(prepared.cleaned)
    assert "Comment" not in served.info and served.mode == "RGBA"
    assert b"48.85" not in prepared.cleaned.getvalue() if hasattr(prepared.cleaned, "getvalue") else True


def test_a_thumbnail_is_bounded_and_keeps_the_aspect_ratio() -> None:
    prepared = images.prepare(io.BytesIO(files.jpeg(2000, 500)), "image/jpeg", max_pixels=10**7)
    thumbnail = Image.open(io.BytesIO(prepared.thumbnail))
    assert thumbnail.size == (images.THUMBNAIL_EDGE, images.THUMBNAIL_EDGE // 4)


# --- Ranges ---------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0), st.integers(min_value=0))
def test_a_satisfiable_range_lies_inside_the_file(size: int, first: int, last: int) -> None:
    try:
        wanted = ranges.parse_range(f"bytes={first}-{last}", size)
    except ranges.Unsatisfiable:
        assert first >= size
        return
    if wanted is None:
        assert last < first
        return
    assert wanted == (first, min(last, size - 1)) and 0 <= wanted[0] <= wanted[1] < size


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=10**9))
def test_a_suffix_range_is_the_last_bytes(size: int, suffix: int) -> None:
    if size == 0:
        with pytest.raises(ranges.Unsatisfiable):
            ranges.parse_range(f"bytes=-{suffix}", size)
        return
    assert ranges.parse_range(f"bytes=-{suffix}", size) == (max(0, size - suffix), size - 1)


@pytest.mark.parametrize("header", [None, "", "bytes=", "items=0-1", "bytes=0-1,5-6", "bytes=a-b", "bytes=5-2"])
def test_a_range_that_is_not_one_well_formed_byte_range_means_the_whole_file(header: str | None) -> None:
    assert ranges.parse_range(header, 100) is None


# --- The upload limits, counted while the bytes stream in ---------------------------------


def _stream(handler: LimitedUploadHandler, sizes: list[int], chunk: int = 65536) -> None:
    for index, size in enumerate(sizes):
        handler.new_file("file", f"{index}.bin", "application/octet-stream", None)
        for start in range(0, size, chunk):
            handler.receive_data_chunk(b"x" * min(chunk, size - start), start)
        handler.file_complete(size)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=300_000), min_size=1, max_size=6),
    max_bytes=st.integers(min_value=1, max_value=300_000),
    max_files=st.integers(min_value=1, max_value=6),
    allowance=st.integers(min_value=1, max_value=1_000_000),
)
def test_an_upload_passes_exactly_when_every_file_fits_the_limits(sizes, max_bytes, max_files, allowance) -> None:
    handler = LimitedUploadHandler(
        RequestFactory().post("/"),
        max_bytes=max_bytes,
        max_files=max_files,
        allowance=allowance,
        setting="MESSAGING_MAX_UPLOAD_BYTES",
    )
    fits = len(sizes) <= max_files and all(s <= max_bytes for s in sizes) and sum(sizes) <= allowance
    try:
        _stream(handler, sizes)
    except (TooLarge, TooManyFiles, QuotaExceeded) as refusal:
        assert not fits
        assert refusal.http_status == 413
    else:
        assert fits
