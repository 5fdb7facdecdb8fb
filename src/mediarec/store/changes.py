"""PostgreSQL's stand-in for SQLite's ``PRAGMA data_version``: a version that moves whenever a commit
may have changed what a served list depends on, read without a database round trip.

Two parts, because no single one is both cheap and complete:

* :class:`ChangeCounter`, **exact within one host**. Every mediarec process that commits to a
  PostgreSQL store (``Store.transaction``, which every store write goes through) adds one to an
  8-byte counter in a small file shared by every process of the host that uses the same store
  (``/dev/shm/mediarec-changes-<hash of the store's host, port and database>``, mapped into memory),
  after the commit and before the write returns, so before any client is told the write was made.
  Readers read the 8 bytes with no lock or system call. Increments are taken under a file lock
  (``flock``) so that none is lost between processes.
* :class:`PgChanges`, **bounded across hosts**. Migration 0003 makes every statement that writes a
  table the served lists read (interactions, users, items, item_features, user_profile_edits,
  store_stamps) call ``pg_notify('mediarec_changes', '')``; each serving process keeps one LISTEN
  connection and drains its socket without blocking (``PQconsumeInput``) on every version read.
  Why a bound and not exactness: a notification reaches a listener some time after the writer's
  commit returns. The bound is proven, not assumed: a thread of each process sends its own
  heartbeat notification every :data:`HEARTBEAT_SECONDS`; PostgreSQL delivers notifications in
  commit order, so once this process has read its own heartbeat sent at time *s*, it has read the
  notification of every commit made before *s*, on any host. The version is known only while the
  newest heartbeat read was sent less than :data:`BOUND_SECONDS` ago; a remote commit older than
  that has always been seen. A broken listen connection, a lost server or a starved heartbeat
  thread all end in the same "don't know" (None) within the bound, and the caller reads the
  store as it would without any of this. The thread reconnects a broken listener; a new
  connection is a new generation of the version (what was missed while it was down is unknown).

Costs: a write transaction on PostgreSQL pays one ``pg_notify`` per statement (identical ones in
one transaction are sent once) and an ``flock``/unlock pair after commit; each serving process
holds two more connections (listen, heartbeat) and sends five small notifications a second.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import mmap
import os
import secrets
import struct
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

CHANNEL = "mediarec_changes"
HEARTBEAT_SECONDS = 0.2  # how often each serving process proves its listen connection alive
BOUND_SECONDS = 1.0  # a remote commit older than this is always seen (setting serve_change_bound_seconds)
_SIZE = 8
_U64 = struct.Struct("<Q")


def counter_dir() -> Path:
    """/dev/shm (memory, never written to disk) where there is one, else the temp folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def store_key(url: URL) -> str:
    """What names one PostgreSQL store on a host: host (or socket folder), port and database. Two
    spellings of one server (``localhost`` and ``127.0.0.1``) make two counters: processes using
    different spellings see each other's writes within the NOTIFY bound only (docs/scaling.md)."""
    host = url.host or str(url.query.get("host", "")) or "local"
    return f"{host}:{url.port or 5432}/{url.database or ''}"


def counter_path(key: str, folder: Path | None = None) -> Path:
    """The file of the store named ``key`` (:func:`store_key`)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return (folder or counter_dir()) / f"mediarec-changes-{digest}"


class ChangeCounter:
    """One host's commit counter for one store (see the module's docstring)."""

    def __init__(self, key: str, folder: Path | None = None) -> None:
        self.path = counter_path(key, folder)
        self._lock = threading.Lock()  # flock does not exclude threads sharing one descriptor
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._ident: tuple[int, int] | None = None
        self._warned = False
        self._open()

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            self._warn(exc)
            return False
        try:
            with _flocked(fd):
                if os.fstat(fd).st_size < _SIZE:
                    os.ftruncate(fd, _SIZE)  # zeros: a new counter starts at 0
            mapped = mmap.mmap(fd, _SIZE)
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            self._warn(exc)
            return False
        old, self._fd, self._map, self._ident = self._fd, fd, mapped, (st.st_dev, st.st_ino)
        if old >= 0:
            os.close(old)
        return True

    def _warn(self, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "the change counter %s cannot be used (%s): hits are checked in the store", self.path, exc
            )

    def value(self) -> tuple[int, int] | None:
        """(file identity, count) as of now, or None when the file is unusable or was removed
        (``/dev/shm`` files can be, by systemd's RemoveIPC or a person: a process that made a new
        one would then be missed). No lock: a read that overlaps an increment sees the old or the
        new count, or at worst a mixture that equals neither, which only costs one needless miss."""
        mapped, fd, ident = self._map, self._fd, self._ident
        if mapped is None or ident is None:
            return None
        count = _U64.unpack_from(mapped)[0]
        try:
            if os.fstat(fd).st_nlink == 0:  # cheaper than a stat of the path; a removal unlinks
                return None
        except OSError:
            return None
        return (ident[1], count)

    def bump(self) -> None:
        """Count one commit; call after it returned and before anyone is told it was made."""
        with self._lock:
            if (self._map is None or self.value() is None) and not self._open():
                return  # warned; readers elsewhere still see it within the NOTIFY bound
            mapped = self._map
            if mapped is None:
                return
            try:
                with _flocked(self._fd):
                    _U64.pack_into(mapped, 0, (_U64.unpack_from(mapped)[0] + 1) & (2**64 - 1))
            except OSError as exc:
                self._warn(exc)

    def reopen(self) -> None:
        """Map the file now at the path (after :meth:`value` found it replaced)."""
        with self._lock:
            self._open()

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
                self._map = None
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __del__(self) -> None:  # the registry holds counters weakly: the last store of one closes it
        with contextlib.suppress(Exception):  # at interpreter exit
            self.close()


class _flocked:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)


_counters: weakref.WeakValueDictionary[str, ChangeCounter] = weakref.WeakValueDictionary()
_counters_lock = threading.Lock()


def counter_for(url: URL) -> ChangeCounter:
    """The process's one counter of this store (every Store object on it shares it)."""
    key = store_key(url)
    with _counters_lock:
        found = _counters.get(key)
        if found is None:
            found = _counters[key] = ChangeCounter(key)
        return found


def libpq_conninfo(url: URL) -> str:
    """The store URL as a libpq connection string (psycopg's own parsing of the same fields)."""
    from psycopg.conninfo import make_conninfo

    args: dict[str, Any] = {"dbname": url.database, "user": url.username, "password": url.password}
    args.update({"host": url.host, "port": url.port, "connect_timeout": 10})
    args.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    return make_conninfo(**{k: v for k, v in args.items() if v is not None})


class PgChanges:
    """A version of a PostgreSQL store for :class:`mediarec.store.stamps.StampMemo`: moves on every
    commit of this host (the counter) and on every notification (other hosts), None while unknown."""

    def __init__(self, url: URL, counter: ChangeCounter, bound: float = BOUND_SECONDS) -> None:
        from psycopg import pq

        self._ok = pq.ConnStatus.OK  # looked up once: read() runs on every hit
        self.conninfo = libpq_conninfo(url)
        self.counter = counter
        self.bound = bound
        self.heartbeat = min(HEARTBEAT_SECONDS, bound / 5)
        self._lock = threading.Lock()
        self._listen: Any = None  # psycopg.pq.PGconn in LISTEN, or None while broken
        self.generation = 0  # moves with every new listen connection
        self.changes = 0  # notifications of commits read on the current one
        self.known_at = float("-inf")  # monotonic send time of the newest own heartbeat read
        self._token = secrets.token_hex(8)
        self._sent: dict[int, float] = {}  # heartbeat number -> monotonic time it was sent
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="mediarec-changes", daemon=True)
        self._thread.start()

    # -- the version -------------------------------------------------------------------------
    def read(self, wait: bool = True) -> tuple[Any, ...] | None:
        """The version now, or None when it is not known (listener down, heartbeat older than the
        bound, counter unusable, or ``wait`` is False and another thread holds the check)."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            self._drain()
            if self._listen is None or time.monotonic() - self.known_at > self.bound:
                return None
            local = self.counter.value()
            if local is None:
                return None
            return (local, self.generation, self.changes)
        finally:
            self._lock.release()

    def _drain(self) -> None:
        """Read what the listen socket holds, without waiting; caller holds the lock."""
        conn = self._listen
        if conn is None:
            return
        try:
            conn.consume_input()
            while (note := conn.notifies()) is not None:
                payload = bytes(note.extra)
                if payload.startswith(b"alive "):
                    token, _, number = payload[6:].decode().partition(" ")
                    if token == self._token:
                        sent = self._sent.pop(int(number), None)
                        if sent is not None:
                            self.known_at = max(self.known_at, sent)
                else:
                    self.changes += 1
            if conn.status != self._ok:
                raise OSError("the listen connection is broken")
        except Exception as exc:  # psycopg.OperationalError: server gone, connection reset
            log.warning("the change listener lost its connection (%s); reconnecting", exc)
            self._close_listen()

    def _close_listen(self) -> None:
        conn, self._listen = self._listen, None
        self.known_at = float("-inf")
        if conn is not None:
            try:
                conn.finish()
            except Exception:  # already gone
                log.debug("closing the listen connection failed", exc_info=True)

    # -- the thread: listener upkeep and heartbeats --------------------------------------------
    def _connect_listen(self) -> None:
        from psycopg import pq

        conn = pq.PGconn.connect(self.conninfo.encode())
        if conn.status != pq.ConnStatus.OK:
            message = conn.get_error_message()
            conn.finish()
            raise OSError(message)
        result = conn.exec_(f"LISTEN {CHANNEL}".encode())
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = conn.get_error_message()
            conn.finish()
            raise OSError(message)
        with self._lock:
            # A new connection may have missed notifications meanwhile: a new generation, so no
            # version read before it can match one read after it.
            self._close_listen()
            self._listen, self.changes, self._sent = conn, 0, {}
            self.generation += 1

    def _beat(self) -> None:
        import psycopg

        sender: Any = None
        number = 0
        while not self._stop.is_set():
            try:
                if self.counter.value() is None:
                    self.counter.reopen()  # the file was replaced: read the one now at the path
                if self._listen is None:
                    self._connect_listen()
                if sender is None or sender.closed:
                    sender = psycopg.connect(self.conninfo, autocommit=True)
                number += 1
                with self._lock:
                    self._sent[number] = time.monotonic()
                    for old in [n for n in self._sent if n < number - 100]:
                        del self._sent[old]  # lost on the way (a reconnect): never read now
                sender.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"alive {self._token} {number}"))
                with self._lock:
                    self._drain()  # also keeps the server's queue short when no request comes
            except Exception as exc:  # server away: "don't know" until it is back
                log.debug("change heartbeat failed: %s", exc)
                if sender is not None:
                    sender.close()
                    sender = None
            self._stop.wait(self.heartbeat)
        if sender is not None:
            sender.close()

    @property
    def listen_pid(self) -> int | None:
        """The listen connection's server process id (tests end it to check the fallback)."""
        conn = self._listen
        return None if conn is None else int(conn.backend_pid)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        with self._lock:
            self._close_listen()
