"""A thread of the server process that its writers wake ("poke"): the search indexer's, the SQLite checkpointer's.

The thread starts with the first poke, sleeps on :attr:`PokedThread._wake`
between them, and ends with :meth:`PokedThread.stop` (tests, shutting
down); a thread that died is started again by the next poke. Each has a
database connection of its own, closed when it ends. Subclasses write
``_loop`` and ``interval`` (0: the thread is off).
"""

from __future__ import annotations

import threading

from django.db import connections


class PokedThread:
    #: the thread's name (``ps -L``, py-spy)
    name = "linkup-background"

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def interval(self) -> float:
        """Seconds the thread gathers writes before it acts on them (0: off, it never starts)."""
        raise NotImplementedError

    def poke(self) -> None:
        """This process wrote: wake the thread soon (starting it the first time), unless it is off.

        Called on the group commit's path, once a batch: a thread already
        woken and running costs two checks.
        """
        if self._wake.is_set() and self.running:
            return
        if self.interval() > 0:
            self._wake_up()

    def _wake_up(self) -> None:
        """Wake the thread, starting it if it is not running."""
        self._wake.set()
        if not self.running:
            with self._lock:
                if not self.running:
                    self._stop.clear()
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (tests, shutting down)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._wake.clear()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._wake.clear()  # a thread that died is started again by the next poke
            connections.close_all()

    def _loop(self) -> None:
        raise NotImplementedError
