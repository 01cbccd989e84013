"""Receipts: a member's delivered and read cursors move, everyone in the conversation hears of it once."""

from __future__ import annotations

from ..notification_service import push_unread_count
from ..pubsub import publish_receipt
from ..store.receipts import ReceiptSettled


async def announce(settled: ReceiptSettled) -> None:
    """Tell the conversation a cursor moved, and the reader's bell its new count when reading changed it."""
    change = settled.change
    if change is None:
        return
    await publish_receipt(change)
    if settled.notification_unread is not None:
        await push_unread_count(change.user_id, settled.notification_unread)
