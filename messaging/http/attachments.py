"""Attachments over HTTP: the upload, and the download checked on every request.

Upload (``POST /messages/api/conversations/<id>/attachments``, multipart,
CSRF-checked, session user only): membership and the quota are checked
before the body is read, the limits while it streams in
(:mod:`.uploads`), every file is typed by its content and images are checked
and re-encoded (:mod:`messaging.media`), all of it before a byte is stored.
Then the files are stored and recorded together; if recording fails, the
stored files are deleted again. The answer lists the uploads; a ``message``
naming their ids sends them.

Download (``GET /messages/attachments/<id>/`` and ``…/thumbnail``): the
reader's membership window must hold the message's seq, on every request.
Only the allow-listed image types are served inline; everything is served
with ``nosniff`` and a sandboxing CSP, so nothing uploaded can run as this
site. Behind nginx (``MESSAGING_ATTACHMENT_ACCEL_PREFIX``) nginx sends the
bytes; on S3 the browser is redirected to a presigned URL valid for
``MESSAGING_ATTACHMENT_URL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from typing import IO, Any, TypeVar
from urllib.parse import quote

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .. import conf
from ..actions.errors import wire_error
from ..error_models import ErrorCategory
from ..exceptions import Forbidden, InvalidFrame, MessagingException, ServerError
from ..logging_utils import messaging_logger
from ..media import images, names, ranges, sniff, storage
from ..serializers import attachment_payload
from ..store import attachments as attachment_store
from ..store.errors import NotFound as StoreNotFound
from ..store.errors import StoreError
from .api import api_error, json_response
from .signed_in import SignedInRequest, is_signed_in
from .uploads import UploadLimit

R = TypeVar("R", bound=HttpResponseBase)

#: bytes read from storage per chunk of a download
CHUNK_BYTES = 64 * 1024
#: the policy of every served file: no script, no plugin, no form, a unique origin
SANDBOX_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
UPLOAD_FIELD = "file"


# --- Upload -----------------------------------------------------------------------


@csrf_exempt  # checked below, once the limits are in front of the multipart parser
def upload(request: HttpRequest, conversation_id: int) -> HttpResponse:
    if request.method != "POST":
        return json_response({"type": "error", "code": "invalid_frame", "detail": "POST only"}, status=405)
    if not is_signed_in(request):
        return api_error(Forbidden("sign in first"))
    limits = conf.upload_limits()
    limit = UploadLimit(limits.max_bytes, limits.max_files, "MESSAGING_MAX_UPLOAD_BYTES", "an upload")
    refusal = limit.refuse_declared(request)
    if refusal is not None:
        return api_error(refusal)
    try:
        allowance = attachment_store.upload_allowance(request.user.pk, conversation_id, quota=limits.quota_bytes)
    except StoreError as exc:
        return api_error(wire_error(exc))
    limit.install(request, allowance=allowance)
    try:
        return _checked_upload(request, conversation_id)
    except MessagingException as error:
        return api_error(error)


@csrf_protect
def _checked_upload(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    limits = conf.upload_limits()
    files = request.FILES.getlist(UPLOAD_FIELD)
    if not files:
        raise InvalidFrame(f"send the files as multipart form fields named {UPLOAD_FIELD!r}")
    prepared = [_prepare(file, limits.max_pixels) for file in files]
    stored: list[str] = []
    try:
        uploads = [_store(conversation_id, item, stored) for item in prepared]
        rows = attachment_store.record_uploads(request.user.pk, conversation_id, uploads, quota=limits.quota_bytes)
    except StoreError as exc:
        attachment_store.delete_files(stored)
        return api_error(wire_error(exc))
    except (OSError, DatabaseError, FileExistsError) as exc:
        attachment_store.delete_files(stored)
        category = ErrorCategory.DATABASE_ERROR if isinstance(exc, DatabaseError) else ErrorCategory.STORAGE_ERROR
        messaging_logger.error(
            category,
            f"could not store {len(prepared)} upload(s) to conversation {conversation_id}",
            context={"conversation": conversation_id, "names": [p.name for p in prepared]},
            user=request.user,
            exc=exc,
        )
        return api_error(ServerError("the files could not be stored; upload them again"))
    finally:
        for item in prepared:
            item.close()
    return json_response(
        {"attachments": [attachment_payload(attachment_store.metadata(row)) for row in rows]}, status=201
    )


class _Prepared:
    """One received file, checked, with what will be stored of it."""

    def __init__(self, file: Any, name: str, content_type: str, image: images.PreparedImage | None) -> None:
        self.file = file
        self.name = name
        self.content_type = content_type
        self.image = image

    @property
    def served(self) -> IO[bytes]:
        return self.image.cleaned if self.image is not None and self.image.cleaned is not None else self.file

    def close(self) -> None:
        if self.image is not None and self.image.cleaned is not None:
            self.image.cleaned.close()
        self.file.close()


def _prepare(file: Any, max_pixels: int) -> _Prepared:
    """Type the file by its content and check it; the refusal names the file."""
    name = names.display_name(file.name or "")
    try:
        file.seek(0)
        content_type = sniff.checked_type(name, file.content_type, file.read(sniff.SNIFF_BYTES))
        image = (
            images.prepare(file, content_type, max_pixels=max_pixels)
            if content_type in sniff.INLINE_IMAGE_TYPES
            else None
        )
    except MessagingException as error:
        error.extra.setdefault("file", name)
        file.close()
        raise
    return _Prepared(file, name, content_type, image)


def _store(conversation_id: int, item: _Prepared, stored: list[str]) -> attachment_store.StoredUpload:
    storage_name = names.new_storage_name(conversation_id, item.name)
    served = item.served
    served.seek(0, 2)
    size = served.tell()
    stored.append(storage.save(storage_name, served, item.content_type))
    thumbnail_name = ""
    if item.image is not None:
        thumbnail_name = names.thumbnail_name(storage_name)
        with contextlib.closing(io.BytesIO(item.image.thumbnail)) as thumbnail:
            stored.append(storage.save(thumbnail_name, thumbnail, "image/webp"))
    return attachment_store.StoredUpload(
        name=item.name,
        storage_name=storage_name,
        size=size,
        content_type=item.content_type,
        width=item.image.width if item.image else None,
        height=item.image.height if item.image else None,
        thumbnail_name=thumbnail_name,
    )


# --- Download ---------------------------------------------------------------------


def download(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    return _serve(request, attachment_id, thumbnail=False)


def thumbnail(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    return _serve(request, attachment_id, thumbnail=True)


def _serve(request: HttpRequest, attachment_id: int, *, thumbnail: bool) -> HttpResponseBase:
    if request.method not in ("GET", "HEAD"):
        return json_response({"type": "error", "code": "invalid_frame", "detail": "GET only"}, status=405)
    if not is_signed_in(request):
        return api_error(Forbidden("sign in first"))
    try:
        attachment = attachment_store.readable(request.user.pk, attachment_id)
    except StoreError as exc:
        return api_error(wire_error(exc))
    name = attachment.thumbnail_name if thumbnail else attachment.storage_name
    if not name:
        return api_error(wire_error(StoreNotFound("this attachment has no thumbnail")))
    content_type = "image/webp" if thumbnail else attachment.content_type
    inline = thumbnail or content_type in sniff.INLINE_IMAGE_TYPES
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition_header(not inline, attachment.name) or "attachment",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX_POLICY,
        "Cache-Control": "private, no-cache",
        "ETag": f'"{attachment.pk}{"t" if thumbnail else "o"}{attachment.size}"',
        "Accept-Ranges": "bytes",
    }
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return _with_headers(HttpResponse(status=304), headers, "Content-Type")
    accel_prefix = conf.str_setting("MESSAGING_ATTACHMENT_ACCEL_PREFIX")
    if accel_prefix:
        response = HttpResponse()
        response["X-Accel-Redirect"] = accel_prefix + quote(name)
        return _with_headers(response, headers)
    backend = storage.attachment_storage()
    if not storage.is_local(backend):
        url = storage.presigned_url(
            name,
            expire=conf.int_setting("MESSAGING_ATTACHMENT_URL_SECONDS"),
            disposition=headers["Content-Disposition"],
            content_type=content_type,
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response
    return _stream(request, backend, name, headers, attachment)


def _stream(
    request: HttpRequest, backend: Any, name: str, headers: dict[str, str], attachment: Any
) -> HttpResponseBase:
    try:
        file = backend.open(name, "rb")
        size = backend.size(name)
    except OSError as exc:
        messaging_logger.error(
            ErrorCategory.STORAGE_ERROR,
            f"attachment {attachment.pk} is recorded but its file {name!r} cannot be read",
            context={"attachment": attachment.pk, "name": name},
            exc=exc,
        )
        return api_error(ServerError("the file cannot be read right now"))
    try:
        wanted = ranges.parse_range(request.headers.get("Range"), size)
    except ranges.Unsatisfiable:
        file.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _with_headers(response, headers, "Content-Type")
    first, last = wanted if wanted is not None else (0, size - 1)
    length = max(0, last - first + 1)
    streamed: HttpResponseBase
    if request.method == "HEAD":
        file.close()
        streamed = HttpResponse(status=206 if wanted else 200)
    else:
        streamed = StreamingHttpResponse(_chunks(file, first, length), status=206 if wanted else 200)
    streamed["Content-Length"] = str(length)
    if wanted is not None:
        streamed["Content-Range"] = f"bytes {first}-{last}/{size}"
    return _with_headers(streamed, headers)


async def _chunks(file: IO[bytes], first: int, length: int) -> AsyncIterator[bytes]:
    """The file's bytes ``first`` .. ``first + length``, read in a thread chunk by chunk (never whole)."""
    try:
        await asyncio.to_thread(file.seek, first)
        left = length
        while left > 0:
            chunk = await asyncio.to_thread(file.read, min(CHUNK_BYTES, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        file.close()


def _with_headers(response: R, headers: dict[str, str], *skip: str) -> R:
    for key, value in headers.items():
        if key not in skip:
            response[key] = value
    return response
