"""The attachment storage a test writes to, and what is in it."""

from __future__ import annotations


class StoredFiles:
    """The attachment storage a test uses, and what is in it."""

    def __init__(self) -> None:
        from messaging.media.storage import attachment_storage

        self.storage = attachment_storage()

    def names(self, folder: str = "attachments") -> set[str]:
        """Every stored name under ``folder``, walked recursively."""
        found: set[str] = set()
        try:
            directories, files = self.storage.listdir(folder)
        except FileNotFoundError:
            return found
        found.update(f"{folder}/{name}" for name in files)
        for directory in directories:
            found |= self.names(f"{folder}/{directory}")
        return found

    def read(self, name: str) -> bytes:
        with self.storage.open(name, "rb") as handle:
            return handle.read()
