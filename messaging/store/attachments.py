"""Attachments: uploads recorded, claimed by their message, checked for every read, and removed.

An upload's bytes are stored before its row (:mod:`messaging.http.attachments`
deletes them again if :func:`record_uploads` refuses or fails), so a row
never names a file that is not there. A message claims the sender's own
unclaimed uploads to its conversation in the transaction that stores it
(:func:`claim`, called by :mod:`messaging.store.events`), so a message and its
files commit together or not at all. Files are deleted only after the
transaction that deletes their rows commits.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from .. import conf
from ..error_models import ErrorCategory
from ..logging_utils import messaging_logger
from ..media import storage
from ..models import ArchivedEvent, Attachment, Event, Participant
from .errors import Forbidden, Invalid, LimitExceeded, NotFound

QUOTA_SETTING = "MESSAGING_UPLOAD_QUOTA_BYTES"
FILES_SETTING = "MESSAGING_MAX_FILES_PER_MESSAGE"


@dataclass(frozen=True)
class StoredUpload:
    """A file already in the storage, to be recorded."""

    name: str
    storage_name: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None
    thumbnail_name: str = ""


def _current_member(user_id: int, conversation_id: int) -> None:
    """Refuse a user who is not a member of the conversation now (worded as the rest of the store words it)."""
    left = Participant.objects.filter(user_id=user_id, conversation_id=conversation_id).values_list(
        "left_seq", flat=True
    )
    found = list(left[:1])
    if not found:
        raise NotFound(f"there is no conversation {conversation_id} of yours")
    if found[0] is not None:
        raise Forbidden("you are no longer a member of this conversation")


def used_bytes(user_id: int) -> int:
    """What the user's uploads take in the storage (the quota's measure)."""
    return int(Attachment.objects.filter(uploader_id=user_id).aggregate(total=Sum("size"))["total"] or 0)


def upload_allowance(user_id: int, conversation_id: int, *, quota: int) -> int:
    """Bytes the user may still upload to the conversation; refuses a non-member and a full quota.

    Checked before the request's body is read, so nothing is stored for a
    refused upload.
    """
    _current_member(user_id, conversation_id)
    remaining = quota - used_bytes(user_id)
    if remaining <= 0:
        raise LimitExceeded(
            f"your uploads already take your quota of {quota} bytes", setting=QUOTA_SETTING, limit=quota
        )
    return remaining


def record_uploads(
    uploader_id: int, conversation_id: int, uploads: list[StoredUpload], *, quota: int
) -> list[Attachment]:
    """Record stored files as the user's unclaimed uploads to the conversation, in one transaction.

    Membership and the quota are checked again here, with the rows: a member
    removed, or a quota filled by another upload, while the bytes came in.
    """
    with transaction.atomic():
        _current_member(uploader_id, conversation_id)
        incoming = sum(u.size for u in uploads)
        if used_bytes(uploader_id) + incoming > quota:
            raise LimitExceeded(
                f"these files would take your uploads past your quota of {quota} bytes",
                setting=QUOTA_SETTING,
                limit=quota,
            )
        now = timezone.now()
        rows = [
            Attachment(
                conversation_id=conversation_id,
                uploader_id=uploader_id,
                storage_name=u.storage_name,
                name=u.name,
                size=u.size,
                content_type=u.content_type,
                width=u.width,
                height=u.height,
                thumbnail_name=u.thumbnail_name,
                created_at=now,
            )
            for u in uploads
        ]
        for row in rows:
            row.save(force_insert=True)
        return rows


def metadata(attachment: Attachment) -> dict[str, Any]:
    """What a message's event says of one file (``data.attachments``; the serializer adds its URLs)."""
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "type": attachment.content_type,
        "width": attachment.width,
        "height": attachment.height,
        "thumbnail": bool(attachment.thumbnail_name),
    }


def claim(conversation_id: int, sender_id: int, ids: tuple[int, ...]) -> list[Attachment]:
    """Lock the sender's unclaimed uploads ``ids`` to the conversation, in the caller's transaction.

    Raises :class:`Invalid` unless every id is one of them (someone else's,
    another conversation's, already sent, or removed as an orphan), so a
    message never goes out with fewer files than its sender attached.
    """
    max_files = conf.upload_limits().max_files
    if len(ids) > max_files:
        raise LimitExceeded(f"a message carries at most {max_files} files", setting=FILES_SETTING, limit=max_files)
    wanted = list(dict.fromkeys(ids))
    rows = {
        a.pk: a
        for a in Attachment.objects.select_for_update().filter(
            pk__in=wanted, conversation_id=conversation_id, uploader_id=sender_id, event_id__isnull=True
        )
    }
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise Invalid(f"attachments {missing} are not uploads of yours waiting to be sent in this conversation")
    return [rows[i] for i in wanted]


def mark_claimed(attachments: list[Attachment], event_id: int, seq: int) -> None:
    """Tie claimed uploads to their message (same transaction as :func:`claim`)."""
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).update(event_id=event_id, seq=seq)


def readable(user_id: int, attachment_id: int) -> Attachment:
    """The attachment if the user may read it now, else :class:`NotFound` (never saying which).

    An unclaimed upload is its uploader's alone. A sent one is readable by a
    member (current or former) whose window holds its message's seq: a member
    who joined later, or left before it, does not see it.
    """
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound("there is no such attachment of yours")
    if attachment.event_id is None or attachment.seq is None:
        if attachment.uploader_id == user_id:
            return attachment
        raise NotFound("there is no such attachment of yours")
    seq = attachment.seq
    sees = Participant.objects.filter(
        Q(left_seq__isnull=True) | Q(left_seq__gte=seq),
        conversation_id=attachment.conversation_id,
        user_id=user_id,
        joined_seq__lte=seq,
    ).exists()
    if not sees:
        raise NotFound("there is no such attachment of yours")
    return attachment


def delete_attachments(attachments: QuerySet[Attachment]) -> int:
    """Delete rows and, once that commits, their files; how many rows went."""
    with transaction.atomic():
        rows = list(attachments.select_for_update().values_list("pk", "storage_name", "thumbnail_name"))
        Attachment.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
        names = [name for _, stored, thumb in rows for name in (stored, thumb) if name]
        transaction.on_commit(lambda: delete_files(names))
    return len(rows)


def delete_files(names: list[str]) -> None:
    """Delete stored files; one that cannot be deleted is recorded, never raised (its row is gone already)."""
    for name in names:
        try:
            storage.delete(name)
        except Exception as exc:  # noqa: BLE001 - any storage failure: record it and go on with the rest
            messaging_logger.error(
                ErrorCategory.STORAGE_ERROR,
                f"could not delete the stored file {name!r}",
                context={"name": name},
                exc=exc,
            )


def purge_for_event(event: Event | ArchivedEvent) -> int:
    """Delete the files of a message (deleted for everyone); how many.

    For the message-actions code: call it in (or after) the transaction that
    deletes the message; the files go once that commits.
    """
    return delete_attachments(Attachment.objects.filter(event_id=event.pk))


def purge_orphans(older_than: datetime.timedelta, *, now: datetime.datetime | None = None) -> int:
    """Delete uploads no message claimed within ``older_than``; how many."""
    cutoff = (now or timezone.now()) - older_than
    return delete_attachments(Attachment.objects.filter(event_id__isnull=True, created_at__lt=cutoff))
