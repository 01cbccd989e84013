"""Running a test's workload in several threads at once, without losing their failures."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection


def run_in_threads(target: Callable[..., Any], args_list: Iterable[Sequence[Any]]) -> list[Any]:
    """Call ``target(*args)`` for each ``args`` in a thread of its own, all released together.

    Returns the results in the order of ``args_list``. An exception raised in
    any thread (``BaseException`` included, so an ``AssertionError`` too)
    fails the calling test with every thread's error, instead of only being
    printed by pytest's thread-exception warning. Each thread closes its own
    database connection when done, as Django's request threads do.
    """
    calls = [tuple(args) for args in args_list]
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, args: tuple[Any, ...]) -> None:
        try:
            barrier.wait()
            results[index] = target(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
            barrier.abort()  # do not leave the others waiting for a thread that failed to start
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, args)) for i, args in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        # Chained to the first error, so that the report shows where it was raised.
        raise AssertionError(f"{len(errors)} of {len(calls)} threads failed: {errors!r}") from errors[0]
    return results
