"""Profiles over HTTP: the signed-in user's display name, status line and avatar, and another person's card.

Only the session user's own profile can be changed: no endpoint takes a
username to write to, and a body naming anything but the known fields is
refused whole. A change is told at once to every socket of everyone who
shares a conversation with the person (``profile`` frame, docs/protocol.md),
so their open tabs show it without a reload.

Avatars are received with the attachments' streaming limits
(:mod:`.uploads`), typed and checked by :mod:`messaging.media.avatars`, and
stored through the attachments' storage (files here, S3 on the deployment
stack). Their URL carries a random key (:func:`messaging.media.avatars.new_storage_name`):
it is served to whoever holds it, like the letter avatar, which a system
notification's icon needs (the push service's fetch is not signed in).
"""

from __future__ import annotations

import contextlib
import io
import unicodedata
from typing import Any

from asgiref.sync import async_to_sync
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from .. import conf
from ..error_models import ErrorCategory
from ..exceptions import Forbidden, InvalidFrame, MessagingException, RateLimited, ServerError, TooLarge
from ..guards.profile import check_profile_allowance
from ..logging_utils import messaging_logger
from ..media import avatars, storage
from ..pubsub import publish_profile
from ..serializers import identity_payload
from ..store import presence, profiles
from ..store.errors import NotFound as StoreNotFound
from .api import _body, api_error, api_view, json_response
from .signed_in import SignedInRequest, is_signed_in
from .uploads import UploadLimit

AVATAR_FIELD = "avatar"
IDENTITY_FIELDS = frozenset({"display_name", "status"})


# --- Checking what a user typed -------------------------------------------------------


#: the setting that bounds each profile field's length (named by ``too_large``)
FIELD_SETTINGS = {"display_name": "MESSAGING_MAX_DISPLAY_NAME_LENGTH", "status": "MESSAGING_MAX_STATUS_LENGTH"}


def clean_line(value: Any, field: str, limit: int) -> str:
    """One line of text as it will be shown: NFC, trimmed, no control characters, at most ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidFrame(f"'{field}' must be a string")
    text = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text):
        raise InvalidFrame(f"'{field}' must be one line of text, without control characters")
    if len(text) > limit:
        raise TooLarge(
            f"'{field}' is at most {limit} characters", limit=limit, field=field, setting=FIELD_SETTINGS[field]
        )
    return text


def clean_display_name(value: Any, limit: int) -> str:
    """A display name; ``""`` or null clears it (the username is shown), but spaces alone are refused."""
    text = clean_line(value, "display_name", limit)
    if not text and isinstance(value, str) and value:
        raise InvalidFrame("a display name needs a visible character (send an empty one to show your username)")
    if text and not any(not unicodedata.category(char).startswith(("Z", "C", "M")) for char in text):
        raise InvalidFrame("a display name needs a visible character")
    return text


# --- The user's own profile ------------------------------------------------------------


@require_POST
@api_view
def api_update_profile(request: SignedInRequest) -> HttpResponse:
    """``POST /messages/api/profile`` ``{"display_name"?, "status"?}``: the session user's, nothing else."""
    body = _body(request)
    check_profile_allowance(request.user.pk)
    unknown = sorted(set(body) - IDENTITY_FIELDS)
    if unknown:
        raise InvalidFrame(f"unknown field(s) {', '.join(unknown)}: a profile has display_name and status")
    if not body:
        raise InvalidFrame("send display_name and/or status")
    limits = conf.profile_limits()
    display_name = clean_display_name(body["display_name"], limits.max_display_name) if "display_name" in body else None
    status_line = clean_line(body["status"], "status", limits.max_status) if "status" in body else None
    profiles.update_identity(request.user.pk, display_name=display_name, status_line=status_line)
    return _announce(request.user.pk)


@csrf_exempt  # checked below, once the limits are in front of the multipart parser
def api_upload_avatar(request: HttpRequest) -> HttpResponse:
    """``POST /messages/api/profile/avatar`` (multipart ``avatar``): checked, squared, stored, announced."""
    if request.method != "POST":
        return json_response({"type": "error", "code": "invalid_frame", "detail": "POST only"}, status=405)
    if not is_signed_in(request):
        return api_error(Forbidden("sign in first"))
    try:
        check_profile_allowance(request.user.pk)  # before the body is read
    except RateLimited as error:
        return api_error(error)
    limits = conf.profile_limits()
    limit = UploadLimit(limits.max_avatar_bytes, 1, "MESSAGING_MAX_AVATAR_BYTES", "an avatar upload")
    refusal = limit.refuse_declared(request)
    if refusal is not None:
        return api_error(refusal)
    limit.install(request, allowance=limit.ceiling)
    try:
        return _checked_avatar(request, limits)
    except MessagingException as error:
        return api_error(error)


@csrf_protect
def _checked_avatar(request: SignedInRequest, limits: conf.ProfileLimits) -> HttpResponse:
    file = request.FILES.get(AVATAR_FIELD)
    if file is None:
        raise InvalidFrame(f"send the picture as a multipart form field named {AVATAR_FIELD!r}")
    try:
        picture = avatars.square_avatar(file, file.name or "", file.content_type, max_pixels=limits.max_pixels)
    finally:
        file.close()
    name = avatars.new_storage_name(request.user.pk)
    try:
        with contextlib.closing(io.BytesIO(picture)) as data:
            storage.save(name, data, avatars.CONTENT_TYPE)
        changed = profiles.set_avatar(request.user.pk, name)
    except (OSError, DatabaseError, FileExistsError) as exc:
        with contextlib.suppress(OSError):
            storage.delete(name)
        category = ErrorCategory.DATABASE_ERROR if isinstance(exc, DatabaseError) else ErrorCategory.STORAGE_ERROR
        messaging_logger.error(
            category, "could not store an avatar", context={"name": name}, user=request.user, exc=exc
        )
        return api_error(ServerError("the picture could not be stored; upload it again"))
    _release(changed.released_avatar)
    return _announce(request.user.pk, status=201)


@require_POST
@api_view
def api_remove_avatar(request: SignedInRequest) -> HttpResponse:
    """``POST /messages/api/profile/avatar/remove``: back to the letter avatar."""
    check_profile_allowance(request.user.pk)
    changed = profiles.set_avatar(request.user.pk, "")
    _release(changed.released_avatar)
    return _announce(request.user.pk)


def _release(name: str) -> None:
    """Delete an avatar file no profile names any more; a failure leaves an orphan file, recorded."""
    if not name:
        return
    try:
        storage.delete(name)
    except OSError as exc:
        messaging_logger.error(
            ErrorCategory.STORAGE_ERROR,
            f"could not delete the replaced avatar {name!r}",
            context={"name": name},
            exc=exc,
        )


def _announce(user_id: int, *, status: int = 200) -> HttpResponse:
    """Tell the person's audience (and their own other tabs), then answer with the profile."""
    user = profiles.user_with_profile(user_id)
    async_to_sync(publish_profile)(user, profiles.audience(user_id))
    return json_response({"profile": identity_payload(user)}, status=status)


# --- Other people -----------------------------------------------------------------------


@require_GET
@api_view
def api_person(request: SignedInRequest, username: str) -> HttpResponse:
    """``GET /messages/api/people/<username>``: what the profile card shows (an active user, or 404)."""
    person = profiles.active_user_with_profile(username)
    online, last_seen = presence.presence_of_many([person.pk], conf.limits().presence_expiry)[person.pk]
    return json_response(
        {
            "person": {
                **identity_payload(person),
                "online": online,
                "last_seen": last_seen,
                "url": reverse("chat", args=[person.get_username()]) if person.pk != request.user.pk else None,
            }
        }
    )


@require_GET
def avatar_file(request: HttpRequest, user_id: int, file_name: str) -> HttpResponse:
    """An uploaded avatar, while it is the user's current one: the bytes here, or a redirect to the bucket."""
    name = f"{avatars.PREFIX}/{user_id}/{file_name}"
    try:
        profiles.avatar_owner(name)
    except StoreNotFound:
        raise Http404("no such avatar") from None
    backend = storage.attachment_storage()
    if not storage.is_local(backend):
        url = storage.presigned_url(
            name,
            expire=conf.int_setting("MESSAGING_ATTACHMENT_URL_SECONDS"),
            disposition="inline",
            content_type=avatars.CONTENT_TYPE,
        )
        response: HttpResponse = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response
    try:
        with backend.open(name, "rb") as file:
            data = file.read()
    except OSError as exc:
        messaging_logger.error(
            ErrorCategory.STORAGE_ERROR, f"avatar {name!r} is named but cannot be read", context={"name": name}, exc=exc
        )
        return api_error(ServerError("the picture cannot be read right now"))
    response = HttpResponse(data, content_type=avatars.CONTENT_TYPE)
    # The name changes with every upload: what was served under it never changes.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
