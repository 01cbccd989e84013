"""Where attachment bytes live: Django's storage API, the ``attachments`` alias of ``STORAGES``.

The embedded default is the file system under ``var/media/``; the deployment
stack names an S3-compatible bucket (django-storages, boto3), chosen by
``linkup/settings.py`` from the environment. Nothing here knows which: a
storage that has no local ``path`` is a remote one, served by a presigned
URL instead of through Python.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.files import File
from django.core.files.storage import Storage, storages

ALIAS = "attachments"


def attachment_storage() -> Storage:
    return storages[ALIAS]


def is_local(storage: Storage) -> bool:
    """Whether the storage has files on this machine (``path()``), as ``FileSystemStorage`` does."""
    try:
        storage.path("probe")
    except NotImplementedError:
        return False
    return True


class TypedFile(File):
    """A file with the type the storage should record (S3's ``Content-Type``; django-storages reads it)."""

    def __init__(self, file: IO[bytes], name: str, content_type: str) -> None:
        super().__init__(file, name=name)
        self.content_type = content_type


def save(name: str, file: IO[bytes], content_type: str) -> str:
    """Store ``file`` (streamed in chunks) under exactly ``name``; the name stored.

    Names are fresh random paths (:func:`messaging.media.names.new_storage_name`),
    so a storage that would rename on a clash never has to.
    """
    file.seek(0)
    stored = attachment_storage().save(name, TypedFile(file, name, content_type))
    if stored != name:
        attachment_storage().delete(stored)
        raise FileExistsError(f"the storage renamed {name!r} to {stored!r}")
    return stored


def delete(*names: str) -> None:
    """Delete stored files (missing ones are no error)."""
    storage = attachment_storage()
    for name in names:
        if name:
            storage.delete(name)


def exists(name: str) -> bool:
    return attachment_storage().exists(name)


def presigned_url(name: str, *, expire: int, disposition: str, content_type: str) -> str:
    """A short-lived URL of a remote storage's file, served with our type and disposition."""
    storage: Any = attachment_storage()
    return storage.url(
        name,
        parameters={"ResponseContentDisposition": disposition, "ResponseContentType": content_type},
        expire=expire,
    )
