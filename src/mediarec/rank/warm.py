"""Re-ranking the active users' lists in the background after everything cached went stale at once.

A new model version, new trending figures (refreshed every minute while events arrive), a changed
catalogue snapshot or the next ranking clock step changes every cached list's token together
(rank/cache.py), so each active user's next request would be a miss. The warmer re-ranks the most
recently used requests in their place, those asked for again after being ranked (the engine passes
``ResultCache.recent_keys(used=True)``; lists asked for once took the warmer's whole budget), through
the same cached path as a request (the current token, the same shared computation), so what it
stores is never staler than a request's own ranking.

It stays out of the requests' way: one thread, one batch at a time (a newer invalidation replaces
the batch in progress, whose lists are stale again anyway), and a pause after each ranking twice as
long as the ranking took, so it uses at most about a third of a core while requests need the rest.

Why one ranking at a time and not one matrix product for the whole batch: the product is not where
a ranking's time goes. A py-spy profile of a server answering POST then GET at 10 clients (ML-1M,
ALS 64 factors, every ranking feature on) put the fold-in and the user-by-item product at about 2%
of a miss; the rest is per-user work on the user's history, the candidate sources, the co-viewer
counts of the reasons, MMR and the explanations, which a batched product would not share.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from mediarec.rank.cache import CacheKey

log = logging.getLogger(__name__)

PAUSE = 2.0  # seconds of pause per second of ranking: at most a third of a core


class Warmer:
    """Runs ``rank(key)`` for the latest batch of keys on one low-duty background thread."""

    def __init__(self, rank: Callable[[CacheKey], object], pause: float = PAUSE) -> None:
        self._rank = rank
        self.pause = pause
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: list[CacheKey] = []
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stop = threading.Event()  # set by close(): a pause ends at once
        self._busy = False
        self.ranked = 0  # lists ranked (or found ready) so far
        self.batches = 0  # batches started

    def warm(self, keys: Sequence[CacheKey]) -> None:
        """Re-rank ``keys`` (newest first), dropping whatever batch was still in progress."""
        with self._lock:
            if self._closed or not keys:
                return
            self._generation += 1
            self._pending = list(keys)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mediarec-warm", daemon=True)
                self._thread.start()
        self._wake.set()

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._busy

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pending = []
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
                keys, self._pending = self._pending, []
                generation = self._generation
                self._busy = bool(keys)
                self.batches += bool(keys)
            for key in keys:
                with self._lock:
                    if self._closed or generation != self._generation:
                        break  # closing, or a newer invalidation made this batch stale
                started = time.perf_counter()
                try:
                    self._rank(key)
                except Exception:  # a courtesy: the request path meets and reports any error
                    log.debug("warming %s failed", key, exc_info=True)
                self.ranked += 1
                self._stop.wait(self.pause * (time.perf_counter() - started))
            with self._lock:
                self._busy = False
