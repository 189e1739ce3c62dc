"""Run a function in many forked processes at once: rate limits must hold across processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_in_processes(fn: Callable[[int], Any], count: int) -> list[Any]:
    """Call fn(0..count-1), each in its own forked process, released together; return the results.

    The parent's database connections are closed before forking, so each child opens its own
    (a connection shared across a fork would interleave two processes' messages on one socket).
    A child that raises returns its exception's repr instead of a result.
    """
    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(count)
    results = context.Queue()

    def child(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results.put((i, fn(i)))
        except Exception as exc:  # noqa: BLE001 - the parent inspects what each child got
            results.put((i, repr(exc)))
        finally:
            connections.close_all()

    processes = [context.Process(target=child, args=(i,)) for i in range(count)]
    for process in processes:
        process.start()
    collected = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    return [collected[i] for i in range(count)]
