"""A thread of the server process that its writers wake ("poke"): the search indexer's, the SQLite checkpointer's.

The thread starts with the first poke, sleeps on :attr:`PokedThread._wake`
between them, and ends with :meth:`PokedThread.stop` (tests, shutting
down); a thread that died is started again by the next poke. Each has a
database connection of its own, closed when it ends. Subclasses write
``_loop`` and decide in ``poke`` whether to wake it.
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
