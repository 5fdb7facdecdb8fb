"""One background thread that performs every write behind the async server.

SQLite allows one writer at a time; funnelling writes through a single thread (as datasette's
``execute_write`` does) means they never wait on each other's locks and never block the event
loop. The function runs on the writer thread, so a :class:`~mediarec.store.Store` it touches
uses that thread's own connection.

A write nobody waits for any more must not run later: one slow write would otherwise leave a
backlog of abandoned ones that still hold up every client. A job whose caller was cancelled (the
HTTP client disconnected) or whose deadline passed while it was queued is skipped, never started;
one already running finishes, since its result is then the truth.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mediarec.store.db import Store

T = TypeVar("T")


class WriterStopped(RuntimeError):
    pass


class WriteTimeout(RuntimeError):
    """The write waited past its deadline for the writer and was dropped without running."""


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: concurrent.futures.Future[Any]
    deadline: float | None = None  # time.monotonic() after which the job is skipped unstarted


class Writer:
    """Runs submitted functions one at a time, in order, on a dedicated thread.

    ``maxsize`` bounds the queue so that a flood of writes pushes back on the callers instead of
    growing memory without limit.
    """

    def __init__(
        self, store: Store | None = None, maxsize: int = 1000, name: str = "mediarec-writer"
    ) -> None:
        self.store = store
        self.name = name
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize)
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread_ident(self) -> int | None:
        return self._thread.ident if self._thread is not None else None

    def start(self) -> None:
        if self.running:
            return
        ready = threading.Event()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, args=(ready,), name=self.name, daemon=True)
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise WriterStopped(f"the writer could not start: {self._startup_error}") from self._startup_error

    def stop(self, timeout: float | None = None) -> None:
        """Finish the writes already queued, then end the thread."""
        if self._thread is None:
            return
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._fail_leftovers()

    def __enter__(self) -> Writer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- submitting --------------------------------------------------------------------------
    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue ``fn(*args)`` from synchronous code; blocks while the queue is full."""
        job = self._job(fn, args)
        self._queue.put(job)
        self._after_put()
        return job.future

    async def execute(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run ``fn(*args)`` on the writer thread and return its result (or raise its exception).

        With ``timeout``, a job not started within that many seconds is dropped and
        :class:`WriteTimeout` raised. Cancelling the caller drops the job too, unless it started.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self._job(fn, args, deadline)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            # A full queue must not stall the event loop: wait for room in a worker thread.
            try:
                await asyncio.to_thread(self._queue.put, job, True, timeout)
            except queue.Full:
                raise WriteTimeout(self._late(timeout)) from None
        self._after_put()
        result = asyncio.wrap_future(job.future)
        try:
            if deadline is None:
                return await result
            # Shielded: on timeout the job is cancelled below only if it has not started.
            return await asyncio.wait_for(asyncio.shield(result), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            if job.future.cancel():
                raise WriteTimeout(self._late(timeout)) from None
            return await result  # it started just in time: wait for the truth
        except asyncio.CancelledError:
            job.future.cancel()  # the caller gave up; a job not yet started never runs
            raise

    @staticmethod
    def _late(timeout: float | None) -> str:
        return f"the write waited {timeout:g} s for the writer and was dropped without being made"

    def _job(self, fn: Callable[..., Any], args: tuple[Any, ...], deadline: float | None = None) -> _Job:
        if not self.running:
            raise WriterStopped("the writer is not running")
        return _Job(fn, args, concurrent.futures.Future(), deadline)

    def _after_put(self) -> None:
        # A job queued just as the thread ended would wait forever; whoever sees the thread gone
        # after queueing fails what is left, so no caller hangs.
        if not self.running:
            self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(WriterStopped("the writer stopped before this write ran"))

    # -- the thread --------------------------------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        try:
            if self.store is not None:
                # Open this thread's connection now, so a broken database fails start(), not a write.
                self.store.conn  # noqa: B018
        except BaseException as exc:
            self._startup_error = exc
            ready.set()
            return
        ready.set()
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.deadline is not None and time.monotonic() > job.deadline:
                # Nobody waits for it any more (the caller timed out): never start it late.
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(WriteTimeout("the write waited past its deadline; not made"))
                continue
            if not job.future.set_running_or_notify_cancel():
                continue  # the caller gave up before the write started: skip it
            try:
                result = job.fn(*job.args)
            except BaseException as exc:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
