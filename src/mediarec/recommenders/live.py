"""The model versions a long-running process serves, kept current without a restart.

Training (in this process, another one, or another machine sharing ``models_dir``) publishes a
version by renaming its finished folder into ``<models_dir>/<name>/``, so the newest numbered folder
*is* the version to serve; no pointer file is needed. :class:`LiveModels` looks for it at most every
``check_seconds`` per model (one directory listing and two stats, whatever the number of versions;
between checks a request costs a clock read). A changed folder (a new version, or the same version
rewritten by a user's deletion) is loaded by the one request that found it, outside any lock the
others wait on: they keep the version they had until the new one is complete, then switch with one
assignment. A request therefore sees the old model or the new one, never a part-loaded one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mediarec.recommenders import Recommender, repository

log = logging.getLogger("mediarec.models")

ATTEMPTS = 3
# After clear() (a user was deleted), look on every request for this long: the deleting process
# bumps the store's stamp before it rewrites the model folders, and the rewrite must be seen at once.
EAGER_SECONDS = 60.0


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    model: Recommender
    user_index: dict[str, int]
    item_index: dict[str, int]
    popularity: np.ndarray  # training users per item: the fallback ranking
    ident: tuple[int, int]  # the folder's inode and change time: a scrub replaces the folder

    @property
    def version(self) -> str:
        return self.path.name


def folder_ident(folder: Path) -> tuple[int, int]:
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return (0, 0)  # swapped out this very moment: the next check sees the new one
    return (st.st_ino, st.st_ctime_ns)


def load_version(folder: Path) -> LoadedModel:
    ident = folder_ident(folder)  # before reading: a rewrite during the load shows as a new ident
    model = repository.load(folder)
    assert model.seen is not None
    popularity = np.asarray((model.seen > 0).sum(axis=0)).ravel().astype(np.float32)
    return LoadedModel(
        folder,
        model,
        {str(u): i for i, u in enumerate(model.user_ids)},
        {str(it): i for i, it in enumerate(model.item_ids)},
        popularity,
        ident,
    )


@dataclass
class _Slot:
    loaded: LoadedModel | None = None
    checked: float = -1e18  # monotonic time of the last look at the folder
    loading: threading.Lock = field(default_factory=threading.Lock)


class LiveModels:
    """The newest saved version of each model under ``root``.

    ``warm`` runs on a freshly loaded model before requests get it (the engine builds its ranking
    view there, so the first request on a new version does not pay for that either).
    """

    def __init__(
        self,
        root: Path,
        check_seconds: float = 1.0,
        warm: Callable[[LoadedModel], None] | None = None,
    ) -> None:
        self.root = root
        self.check_seconds = check_seconds
        self._warm = warm
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._epoch = 0  # clear() calls: a load that began before one is not installed
        self._eager_until = 0.0

    def serving(self) -> dict[str, str]:
        """Model name -> the version this process serves now (only models loaded so far)."""
        with self._lock:
            return {n: s.loaded.version for n, s in self._slots.items() if s.loaded is not None}

    def expire(self, name: str) -> None:
        """Look on disk at the next request (this process just saved a version of ``name``)."""
        with self._lock:
            if name in self._slots:
                self._slots[name].checked = -1e18

    def clear(self) -> None:
        """Drop every loaded model (they may hold a deleted user); the next request reloads."""
        with self._lock:
            for slot in self._slots.values():
                slot.loaded, slot.checked = None, -1e18
            self._epoch += 1
            self._eager_until = time.monotonic() + EAGER_SECONDS

    def peek(self, name: str) -> LoadedModel | None:
        """What :meth:`get` returns now when it would not look at the folder (checked within the
        interval), else None; never waits (a caller on an event loop)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            slot = self._slots.get(name)
            if slot is None or slot.loaded is None:
                return None
            now = time.monotonic()
            interval = 0.0 if now < self._eager_until else self.check_seconds
            return slot.loaded if now - slot.checked < interval else None
        finally:
            self._lock.release()

    def get(self, name: str) -> LoadedModel | None:
        for attempt in range(ATTEMPTS):  # a clear() or a folder swap during our load: look again
            with self._lock:
                slot = self._slots.setdefault(name, _Slot())
                current, epoch = slot.loaded, self._epoch
                now = time.monotonic()
                interval = 0.0 if now < self._eager_until else self.check_seconds
                if current is not None and now - slot.checked < interval:
                    return current
            newest = repository.newest_version("", name, root=self.root)
            if newest is None:
                with self._lock:
                    if self._epoch == epoch:
                        slot.loaded, slot.checked = None, now
                return None
            if current is not None and current.path == newest and current.ident == folder_ident(newest):
                with self._lock:
                    slot.checked = now
                return current
            found = self._load(slot, newest, current, epoch, last=attempt == ATTEMPTS - 1)
            if found is not None:
                return found
            time.sleep(0.05)  # a rewrite (rename, rename, delete) takes milliseconds
        with self._lock:
            return self._slots[name].loaded

    def _load(
        self, slot: _Slot, folder: Path, current: LoadedModel | None, epoch: int, last: bool
    ) -> LoadedModel | None:
        # One loader per model; with a version in hand the others keep serving it meanwhile.
        if not slot.loading.acquire(blocking=current is None):
            return current
        try:
            with self._lock:
                got = slot.loaded
            if got is not None and got.path == folder and got.ident == folder_ident(folder):
                return got  # loaded by the request this one waited for
            try:
                made = load_version(folder)
                if self._warm is not None:
                    self._warm(made)
            except (OSError, ValueError, KeyError) as exc:
                # Swapped away while we read it (a deletion's rewrite): try again on the next check.
                log.warning("could not load %s yet: %s", folder, exc)
                if current is None and last:
                    raise
                return current  # None: the caller looks again
            with self._lock:
                if self._epoch != epoch:
                    return None  # cleared meanwhile: what we read may hold a deleted user
                slot.loaded, slot.checked = made, time.monotonic()
            if current is not None:
                log.info("now serving %s (was %s)", folder, current.path)
            return made
        finally:
            slot.loading.release()
