"""The search index's tables: one row per indexed message, and the queue of messages to (re)index.

``SearchEntry`` holds a message's *search text* (see
:mod:`messaging.store.search.text`) beside what a search filters and sorts
on, keyed by the event's id (which an archived event keeps). The databases'
own full-text machinery indexes that text: on SQLite an FTS5 trigram table
(``messaging_search_fts``) that the indexer writes beside each batch of
entries and triggers keep in step when an entry is deleted or changed, on
PostgreSQL the ``vector`` column (the search text's words and the trigrams
of its words) under a GIN index. Both are created by the migration, for the
database in use only.

``SearchQueue`` is filled by triggers on the event tables, in the
transaction that changes an event: a new message, a changed ``content`` or
``kind`` (an edit, a purge), a deleted or archived row. Those triggers also
delete the message's entry at once, so text that was edited away or purged
never outlives its transaction in the index. The indexer
(:func:`messaging.store.search.index.drain`) reads the queue and writes the
entries; nothing on the send path waits for it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from .conversations import Conversation


class SearchEntry(models.Model):
    event_id = models.BigIntegerField(primary_key=True)
    # No index of their own: the two indexes below start with them.
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField()
    #: the message's search text: folded words between single spaces, a space at each end
    text = models.TextField()
    #: PostgreSQL only (NULL on SQLite): the lexemes its GIN index finds candidates by
    vector = SearchVectorField(null=True, editable=False)

    class Meta:
        indexes = [
            # A searcher's own messages, conversation by conversation, when that is the shorter way.
            models.Index(fields=["conversation", "seq"], name="messaging_search_window"),
            models.Index(fields=["sender", "event_id"], name="messaging_search_sender"),
        ]

    def __str__(self) -> str:
        return f"search entry of event {self.event_id}"


class SearchQueue(models.Model):
    """An event whose entry must be (re)written; several rows for one event are harmless."""

    event_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"reindex event {self.event_id}"
