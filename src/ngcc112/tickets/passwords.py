"""Password hashing off the event loop: argon2id hashes and the worker threads that make them.

One argon2 hash or check costs 0.2-0.4 s of CPU, so from async code it never runs
on the event loop: :data:`PASSWORD_WORK` runs it on a few worker threads
(argon2-cffi releases the GIL), and a login that would wait behind more than
``max_waiting`` others is refused at once (:class:`PasswordWorkBusy`) instead of
queueing without end. A flood of logins then costs login latency, never the
calls' event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ngcc112.tickets.models import User

_hasher = PasswordHasher()
T = TypeVar("T")


class PasswordWorkBusy(RuntimeError):
    """More password checks are waiting than allowed: this login is refused now, not queued."""


def default_password_workers() -> int:
    """One worker per core but one (the event loop keeps a core), at least 1, at most 4."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


#: How much nicer (lower priority) the argon2 threads are than the rest of the daemon.
WORKER_NICENESS = 10


def _yield_to_the_loop() -> None:
    """Lower this worker thread's CPU priority (Linux: per thread), so the event loop and the
    database threads run first when a flood keeps the workers busy."""
    try:
        os.setpriority(
            os.PRIO_PROCESS,
            threading.get_native_id(),
            os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + WORKER_NICENESS,
        )
    except (AttributeError, OSError):  # no per-thread priorities here: plain threads still work
        pass


class PasswordWork:
    """argon2 off the event loop: ``workers`` threads, and at most ``max_waiting`` jobs queued
    behind them when the caller asks to be refused rather than wait (logins)."""

    def __init__(self, workers: int | None = None, max_waiting: int = 32) -> None:
        self.workers = workers or default_password_workers()
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._in_flight = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def in_flight(self) -> int:
        """Jobs running or queued now."""
        return self._in_flight

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix="ngcc112-argon2", initializer=_yield_to_the_loop
            )
        return self._executor

    def _finished(self, _future: Future[Any] | None = None) -> None:
        with self._lock:
            self._in_flight -= 1

    async def run(self, work: Callable[..., T], *args: object, refuse_when_busy: bool = False) -> T:
        """``work(*args)`` on a worker thread; :class:`PasswordWorkBusy` when ``refuse_when_busy``
        and ``workers + max_waiting`` jobs are already running or queued."""
        with self._lock:
            if refuse_when_busy and self._in_flight >= self.workers + self.max_waiting:
                raise PasswordWorkBusy(f"{self._in_flight} password checks in progress")
            self._in_flight += 1
            try:
                future = self._pool().submit(work, *args)
            except BaseException:
                self._in_flight -= 1
                raise
        # counted down when the job ends or is dropped from the queue (a cancelled caller)
        future.add_done_callback(self._finished)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop the threads (the next :meth:`run` starts new ones)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


#: The process's password work: the panel's logins and every hash made from async code.
PASSWORD_WORK = PasswordWork()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | str, password: str) -> bool:
    """True when ``password`` matches the user's (or the given) argon2 hash."""
    stored = user if isinstance(user, str) else user.password_hash
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other argon2 parameters than today's."""
    return _hasher.check_needs_rehash(stored)
