"""The channel layer between tests."""

from __future__ import annotations

import asyncio
import concurrent.futures

from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer


def flush_channel_layer() -> None:
    """Forget every group membership and queued event of the layer.

    On Redis this deletes the layer's keys (RedisChannelLayer keeps groups and
    queued messages there). The pub/sub layer keeps nothing in Redis: its
    memberships are subscriptions of a connection that closes with the event
    loop that opened it, i.e. with the test.

    A test whose thread already runs an event loop (Playwright's sync API
    does) has the flush done from a thread of its own.
    """
    layer = get_channel_layer()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(layer.flush)()
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, layer.flush()).result()
    channel_layers.backends.clear()
