"""Ranked lists per user and request, served again only while everything they came from is unchanged.

A cached list is a pure function of its inputs: the user's events and profile edits, the model
version, the catalogue snapshot, the shared figures (trending, new-item audiences), the request's
options and the clock (quantised to :data:`CLOCK_STEP`). Every request reads a *token* naming the
current value of each input (one indexed store read for the per-user and store-wide stamps, the
rest from memory) and gets the cached list only when the token it was stored under is equal. So an
interaction, a deletion, a new model or a catalogue change, made by any process on any machine
sharing the store and the models folder, is a miss on every worker at its next request; no message
has to reach them. Nothing is invalidated by hand, and nothing can be served stale.

The cache is a bounded LRU per process. Identical misses in flight at once share one computation
(``compute``), so a burst for one user, or a background refill racing the user's own request, ranks once.
"""

from __future__ import annotations

import functools
import itertools
import pickle
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from mediarec.rank.options import RankOptions
from mediarec.rank.records import RankResult

# Rankings depend on the clock (freshness bonus, new-item windows, audience periods), so a cached
# list is computed at the end of the current step and stays valid until the step ends.
CLOCK_STEP = 300.0  # five minutes: nothing time-based in ranking moves on a scale shorter than days
# A request waits at most this long for the same computation in flight before doing its own.
JOIN_SECONDS = 10.0


def clock(now: float) -> float:
    """The time a ranking made at ``now`` is computed for: the end of its :data:`CLOCK_STEP`."""
    return (now // CLOCK_STEP + 1.0) * CLOCK_STEP


@dataclass(frozen=True)
class CacheKey:
    """What a request asks for; the token says what it was computed from."""

    user: str
    n: int
    exclude_seen: bool
    kind: str | None
    creator: str | None
    model: str
    options: RankOptions


class Entry:
    """A ranked list under its token, and the HTTP answer once the server has serialised it.

    Once the body is set, the list itself is kept pickled: a ranked list is about 100 objects the
    garbage collector tracks, so a full cache (5,000 lists) made each full collection walk half a
    million of them, a pause of about 200 ms for every request in flight (measured: 61 ms for 2,000
    lists). Bytes are not tracked. Hits send the body; :attr:`result` unpickles a copy (~0.25 ms)."""

    __slots__ = ("_body", "_packed", "_result", "token", "used")

    def __init__(self, token: Hashable, result: RankResult, body: bytes | None = None) -> None:
        self.token = token
        self.used = False  # served to a second request (a hit, or a join of its computation)
        self._result: RankResult | None = result
        self._packed: bytes | None = None
        self._body: bytes | None = None
        if body is not None:
            self.body = body

    @property
    def result(self) -> RankResult:
        result = self._result
        if result is None:  # packed (below) before it was dropped, so _packed is set here
            assert self._packed is not None
            loaded: RankResult = pickle.loads(self._packed)
            return loaded
        return result

    @property
    def body(self) -> bytes | None:
        return self._body

    @body.setter
    def body(self, value: bytes | None) -> None:
        """The HTTP answer (user and model are in the key, so one body serves every hit)."""
        if value is not None and self._result is not None:
            self._packed = pickle.dumps(self._result, pickle.HIGHEST_PROTOCOL)
            self._result = None
        self._body = value


@dataclass
class _Flight:
    token: Hashable
    done: threading.Event = field(default_factory=threading.Event)
    entry: Entry | None = None


class Serials:
    """A number per live object, never reused: ``id()`` is reused once an object dies, so a token
    naming a snapshot by ``id`` could match a newer snapshot allocated at the same address."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[int, tuple[weakref.ref[Any], int]] = {}
        self._next = itertools.count(1)

    def of(self, obj: Any) -> int:
        key = id(obj)
        with self._lock:
            found = self._by_id.get(key)
            if found is not None and found[0]() is obj:
                return found[1]
            serial = next(self._next)
            ref = weakref.ref(obj, functools.partial(self._forget, key))
            self._by_id[key] = (ref, serial)
            return serial

    def _forget(self, key: int, ref: weakref.ref[Any]) -> None:
        with self._lock:
            found = self._by_id.get(key)
            if found is not None and found[0] is ref:
                del self._by_id[key]


class ResultCache:
    """At most ``size`` lists (0 turns caching off), least recently used dropped first."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"cache size must be 0 (off) or positive, got {size}")
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self._by_user: dict[str, set[CacheKey]] = {}
        self._flights: dict[CacheKey, _Flight] = {}
        self._epoch = 0  # clear() calls: a computation that began before one is not stored
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        with self._lock:
            entries = len(self._entries)
            return {"size": self.size, "entries": entries, "hits": self.hits, "misses": self.misses}

    def get(self, key: CacheKey, token: Hashable) -> Entry | None:
        with self._lock:
            return self._hit(key, token)

    def _hit(self, key: CacheKey, token: Hashable) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or entry.token != token:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        entry.used = True
        return entry

    def compute(self, key: CacheKey, token: Hashable, fn: Callable[[], RankResult]) -> tuple[Entry, bool]:
        """(the entry for ``key`` under ``token``, whether it was served from the cache). On a miss
        ``fn`` runs, unless the same key and token are being computed already: then its answer."""
        with self._lock:
            hit = self._hit(key, token)
            if hit is not None:
                return hit, True
            self.misses += 1
            flight = self._flights.get(key)
            joined = flight is not None and flight.token == token
            if not joined:
                flight = _Flight(token)
                self._flights[key] = flight
            epoch = self._epoch
        assert flight is not None
        if joined:
            if flight.done.wait(JOIN_SECONDS) and flight.entry is not None:
                flight.entry.used = True
                return flight.entry, False
            return self._store(key, token, fn(), epoch), False  # the other one failed or hangs
        try:
            entry = self._store(key, token, fn(), epoch)
            flight.entry = entry
            return entry, False
        finally:
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()

    def _store(self, key: CacheKey, token: Hashable, result: RankResult, epoch: int) -> Entry:
        entry = Entry(token, result)
        if self.size == 0:
            return entry
        with self._lock:
            if epoch != self._epoch:
                return entry  # cleared meanwhile (a deletion): what it read may hold the deleted user
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._by_user.setdefault(key.user, set()).add(key)
            while len(self._entries) > self.size:
                old, _ = self._entries.popitem(last=False)
                self._unindex(old)
        return entry

    def _unindex(self, key: CacheKey) -> None:
        keys = self._by_user.get(key.user)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[key.user]

    def user_keys(self, user: str) -> list[CacheKey]:
        """The requests cached for ``user`` (what a refill recomputes after their new events)."""
        with self._lock:
            return list(self._by_user.get(user, ()))

    def recent_keys(self, limit: int, used: bool = False) -> list[CacheKey]:
        """The ``limit`` most recently used requests, newest first (the active users' lists);
        ``used``: only lists served to at least one request after the one that ranked them."""
        with self._lock:
            newest = reversed(self._entries)
            keys = (k for k in newest if self._entries[k].used) if used else newest
            return list(itertools.islice(keys, limit))

    def drop_user(self, user: str) -> int:
        """Forget every list of ``user`` (they were deleted); returns how many."""
        with self._lock:
            keys = self._by_user.pop(user, set())
            for key in keys:
                self._entries.pop(key, None)
            self._epoch += 1
            return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_user.clear()
            self._epoch += 1
