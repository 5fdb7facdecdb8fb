"""The keys: the write key (the ``api_key`` setting, or one random key made once and kept in the
data home), the optional read key, and a limit on how fast one client may guess them."""

from __future__ import annotations

import hmac
import math
import os
import secrets
import stat
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from mediarec.settings import Settings

KEY_FILE = "api_key"


def resolve_api_key(settings: Settings) -> tuple[str, str]:
    """The key writes must present, and a hint saying where an operator finds it."""
    if settings.api_key:
        return settings.api_key, "the api_key setting (MEDIAREC_API_KEY or mediarec.toml)"
    path = settings.home_path / KEY_FILE
    return load_or_create_key(path), f"the file {path}"


def load_or_create_key(path: Path) -> str:
    existing = _read(path)
    if existing:
        return existing
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target with 0600 from the first byte, then renamed into place: the key is
    # never readable by others, and a crash never leaves a half-written key file.
    tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        # A link, not a rename, so that it never replaces a key another process made meanwhile
        # (two replicas starting at once on a new home): every process ends up with the same key.
        try:
            os.link(tmp, path)
        except FileExistsError:
            if not _read(path):  # an empty key file is no key: replace it
                os.replace(tmp, path)
        except OSError:  # a file system without hard links: the rename, as before
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path) or key


def _read(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return ""
    if key and stat.S_IMODE(path.stat().st_mode) & 0o077:
        # Someone loosened the permissions; a secret should not stay group/world-readable.
        os.chmod(path, 0o600)
    return key


def keys_match(given: str | None, expected: str) -> bool:
    if not given:
        return False
    # Constant-time comparison so response timing does not leak how much of a guess was right.
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class AttemptLimiter:
    """A token bucket of failed key checks per client address: ``burst`` failures at once, then
    one more every ``refill_seconds``. While a client's bucket is empty every attempt of it is
    refused (429), a right key included, so guessing gets no answer at all.

    Addresses are the TCP peer's: behind a reverse proxy every client shares the proxy's bucket.
    """

    def __init__(
        self,
        burst: int = 10,
        refill_seconds: float = 6.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)
        self._lock = threading.Lock()

    def _tokens(self, client: str, now: float) -> float:
        tokens, when = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - when) / self.refill_seconds)

    def retry_after(self, client: str) -> int:
        """0 when ``client`` may try a key now, else whole seconds until it may."""
        with self._lock:
            tokens = self._tokens(client, self._clock())
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) * self.refill_seconds))

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            tokens = max(0.0, self._tokens(client, now) - 1)
            self._buckets.pop(client, None)  # re-inserted last: the dict stays in order of use
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self.max_clients:
                # Bound memory: forget the client unseen for longest (its bucket is the fullest).
                del self._buckets[next(iter(self._buckets))]
