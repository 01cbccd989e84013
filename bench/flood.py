"""One abusive account, in a process of its own: ``python -m bench.flood '<json options>'``.

Run by ``bench_chat --flood`` (``bench/abuse.py``) beside the honest pairs'
load. It is a separate process so that its own work does not slow the
honest clients' event loop: only the server stands between the two, which is
what the run measures. Options (JSON): ``base_url``, ``cookie`` (the
flooder's session), ``conversation`` (its direct conversation), ``sockets``,
``rate`` (frames a second over all sockets).

Every socket sends, in turn, every frame kind a client may send: new
messages, repeats of one ``client_id``, pings, typing, ``received``,
``sync``, ``history``, ``conversations`` and garbage (not JSON), reading and
counting what comes back; when the server closes it (``4400`` after the
garbage), it reconnects. It prints ``ready`` once every socket is open, runs
until its standard input closes, then prints its counts as one JSON line.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import uuid
from typing import Any

import websockets

from .wsclient import open_socket

#: frames sent back to back before a socket sleeps to keep its share of the rate
BURST = 10


def frame_for(index: int, conversation: int) -> str:
    """The ``index``-th frame of the cycle through every kind a client may send."""
    kind = index % 9
    if kind == 0:
        frame: Any = {
            "type": "message",
            "conversation": conversation,
            "content": "flood",
            "client_id": uuid.uuid4().hex,
        }
    elif kind == 1:
        frame = {"type": "ping"}
    elif kind == 2:
        frame = {"type": "typing", "conversation": conversation, "is_typing": True}
    elif kind == 3:
        frame = {"type": "sync", "conversation": conversation, "after": 0, "ref": index}
    elif kind == 4:
        frame = {"type": "history", "conversation": conversation, "before": None, "ref": index}
    elif kind == 5:
        frame = {"type": "message", "conversation": conversation, "content": "again", "client_id": "flood-repeat"}
    elif kind == 6:
        frame = {"type": "received", "conversation": conversation, "up_to": 1}
    elif kind == 7:
        return "{not json"
    else:
        frame = {"type": "conversations", "ref": index}
    return json.dumps(frame)


class Flooder:
    def __init__(self, options: dict[str, Any]) -> None:
        self.base_url: str = options["base_url"]
        self.cookie: str = options["cookie"]
        self.conversation: int = options["conversation"]
        self.sockets: int = options["sockets"]
        self.pause = BURST * self.sockets / options["rate"]
        self.stopping = asyncio.Event()
        self.opened = 0
        self.ready = asyncio.Event()
        self.counts: collections.Counter[str] = collections.Counter()

    async def run_socket(self, first: int) -> None:
        index = first
        while not self.stopping.is_set():
            try:
                ws = await open_socket(self.base_url, "/ws/chat/", self.cookie)
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException):
                self.counts["handshakes_failed"] += 1
                await asyncio.sleep(0.1)
                continue
            self.counts["connects"] += 1
            self.opened += 1
            if self.opened == self.sockets:
                self.ready.set()
            reader = asyncio.create_task(self.read(ws))
            try:
                while not self.stopping.is_set():
                    for _ in range(BURST):
                        await ws.send(frame_for(index, self.conversation))
                        index += 1
                        self.counts["frames_sent"] += 1
                    await asyncio.sleep(self.pause)
            except websockets.exceptions.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else 1006
                self.counts[f"closed_{code}"] += 1
            finally:
                reader.cancel()
                await ws.close()

    async def read(self, ws: Any) -> None:
        try:
            async for text in ws:
                frame = json.loads(text)
                name = frame.get("type", "?")
                if name == "error":
                    name = f"error_{frame.get('code')}"
                self.counts[f"got_{name}"] += 1
        except websockets.exceptions.ConnectionClosed:
            return

    async def run(self) -> dict[str, int]:
        tasks = [asyncio.create_task(self.run_socket(n * 1000)) for n in range(self.sockets)]
        await self.ready.wait()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.read)
        self.stopping.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return dict(self.counts)


def main() -> None:
    counts = asyncio.run(Flooder(json.loads(sys.argv[1])).run())
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
