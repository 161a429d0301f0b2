"""Run CPU-heavy C calls (argon2id password hashing) off a gevent worker's event loop.

A gevent worker serves all of its requests on one event loop in one OS thread. argon2id spends a
deliberate 0.1-0.2 s of CPU per hash; run on the loop, each sign-in would freeze every other
request of that worker (health checks, token requests, key fetches) for that long, and a burst of
sign-ins for the sum. argon2-cffi calls its C library through cffi, which releases the GIL, so
the hash can run in a real OS thread while the loop keeps serving: :func:`run_off_loop` hands the
call to a gevent thread pool and parks only the calling greenlet until the result is back.

The pool is ours rather than the hub's shared one: the hub's pool also does gevent's DNS
look-ups, which must not queue behind hashes. Its size is bounded by the cores: each hash
already runs its argon2 lanes (AUTHSERVER_ARGON2_PARALLELISM) on threads of its own, so more
hashes at once than cores / lanes add no throughput, only memory (AUTHSERVER_ARGON2_MEMORY_COST
each); further sign-ins wait in line as parked greenlets, which cost nothing while they wait.

Outside a gevent worker (the sync worker, the CLI, the tests) the call runs inline, as before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from authserver.serving.request_deadline import is_gevent_worker

__all__ = ["pool_size", "run_off_loop"]

T = TypeVar("T")

_lock = threading.Lock()
# (pid, pool): a pool belongs to the process that made it; a forked child makes its own.
_pool: tuple[int, Any] | None = None  # Any: gevent.threadpool.ThreadPool (gevent has no hints)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_size(lanes: int) -> int:
    """OS threads for hashing in one worker: the cores divided by each hash's lanes, at least 1."""
    return max(1, _usable_cores() // max(1, lanes))


def _thread_pool(lanes: int) -> Any:  # Any: gevent.threadpool.ThreadPool
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            from gevent.threadpool import ThreadPool  # type: ignore[import-untyped]

            _pool = (os.getpid(), ThreadPool(pool_size(lanes)))
        return _pool[1]


def run_off_loop(lanes: int, function: Callable[..., T], *args: object) -> T:
    """``function(*args)``: in a thread of the hashing pool under gevent, else right here.

    ``function`` must not touch gevent, Flask's context or the database: it runs in another OS
    thread. Its exceptions reach the caller as if it had been called directly.
    """
    if not is_gevent_worker():
        return function(*args)
    outcome: _Outcome[T] = _thread_pool(lanes).apply(_capture, (function, *args))
    if outcome.error is not None:
        raise outcome.error
    return cast(T, outcome.value)


@dataclass(frozen=True)
class _Outcome(Generic[T]):
    value: T | None = None
    error: Exception | None = None


def _capture(function: Callable[..., T], *args: object) -> _Outcome[T]:
    # gevent's pool would print the traceback of an exception raised in its thread to stderr
    # before passing it on; an expected one (a wrong password) is no error, so it travels back
    # as a value and is raised in the caller's greenlet instead.
    try:
        return _Outcome(value=function(*args))
    except Exception as error:
        return _Outcome(error=error)
