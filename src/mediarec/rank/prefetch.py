"""Reading a memory-mapped index file into the page cache on a background thread.

A big catalogue's content index and its CF index are memory-mapped from files (usearch
``view=True``: about 1 GB at a million items) so that a serving process starts in seconds instead of
building them. A mapped page is read from disk the first time a search touches it. At a million items
the first few hundred requests after start-up then faulted most of the graph in, in random order, and
waited on the disk (docs/benchmarks.md: 495 MB read in two seconds of timed requests, the slowest
ones 3-4 times their mean in the searches, and PostgreSQL's reads queued behind them).

:func:`warm` reads the whole file once, sequentially, on a daemon thread: the pages land in the
page cache the mapping shares, so later searches find them there (a minor fault, no disk wait).
Reading rather than ``madvise(MADV_WILLNEED)``: usearch does not expose its mapping's address, and
an advice is asynchronous, so nobody could tell when it is done; a read ends when the pages are in.
:func:`running` names the files still being read (``Ranker.pending`` reports them, so a benchmark
times requests only after them). :func:`rewarm` reads them all again: after a step that reads gigabytes
(the taste batch reads every event: ~9 GB of rows at 21 M events) the kernel may have dropped the
pages read before it, and a second read of pages still cached costs a copy (~0.1 s per GB).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# Read in blocks of this size into one reused buffer (the read releases the GIL).
BLOCK = 8 << 20

_lock = threading.Lock()
_running: dict[str, int] = {}  # path -> threads reading it now
_warmed: set[str] = set()  # every file this process was asked to read


def running() -> list[str]:
    """The files being read into the page cache now."""
    with _lock:
        return sorted(_running)


def warm(path: Path | str) -> threading.Thread:
    """Start reading ``path`` into the page cache on a daemon thread; returns the thread."""
    key = str(path)
    with _lock:
        _running[key] = _running.get(key, 0) + 1
        _warmed.add(key)
    thread = threading.Thread(target=_read, args=(key,), name="mediarec-index-pages", daemon=True)
    thread.start()
    return thread


def rewarm() -> list[threading.Thread]:
    """Read every file :func:`warm` was given (and that still exists) again, on daemon threads."""
    with _lock:
        paths = sorted(p for p in _warmed if p not in _running and os.path.isfile(p))
    return [warm(p) for p in paths]


def _read(path: str) -> int:
    """Bytes read (the file's size when all went well)."""
    done = 0
    try:
        with open(path, "rb", buffering=0) as f:
            # A larger read-ahead window for one sequential pass, where the system has one.
            with contextlib.suppress(AttributeError, OSError):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            view = memoryview(bytearray(BLOCK))
            while got := f.readinto(view):
                done += got
    except OSError as err:  # the mapping still works; its pages are then read on first use
        log.warning("index file %s not pre-read: %s", path, err)
    finally:
        with _lock:
            left = _running.get(path, 1) - 1
            if left:
                _running[path] = left
            else:
                _running.pop(path, None)
    return done
