"""Streaming an importer's rows into the store: batched, idempotent, and resumable after a kill.

Each batch is one transaction; items are upserted by external id and events are ignored when
already stored, so re-running an interrupted import finishes the job without duplicates.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediarec.datasets.base import Row
from mediarec.datasets.event_chunk import EventChunk, pack_rows
from mediarec.datasets.reader_process import rows_in_child
from mediarec.records import BadRow, EventRecord, ItemRecord
from mediarec.store import Store


@dataclass
class ImportReport:
    run_id: int
    source: str
    format: str
    items_read: int = 0
    items_new: int = 0
    events_read: int = 0
    events_new: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def events_already_stored(self) -> int:
        rejected_events = sum(1 for b in self.bad_rows if b.reason.startswith("unknown item"))
        return self.events_read - self.events_new - rejected_events

    def counts(self) -> dict[str, int]:
        return {
            "items_read": self.items_read,
            "items_new": self.items_new,
            "events_read": self.events_read,
            "events_new": self.events_new,
            "events_already_stored": self.events_already_stored,
            "bad_rows": len(self.bad_rows),
        }


def load_rows(
    store: Store,
    rows: Iterable[Row | BadRow | EventChunk],
    source: str,
    fmt: str,
    batch_size: int = 5000,
    create_missing_items: bool = False,
    progress: Callable[[ImportReport], None] | None = None,
    reader_process: bool = False,
) -> ImportReport:
    """Store ``rows`` (items first, then events) in batches; ``reader_process`` reads and checks
    them in a forked child process (:mod:`mediarec.datasets.reader_process`), for big imports,
    which sends runs of events as columns (:class:`EventChunk`). Events go to the store as columns
    either way (``Store.add_event_columns``): no object per row is rebuilt on this side."""
    if reader_process:
        rows = rows_in_child(rows, pack=pack_rows)
    run_id = store.start_import(source, fmt)
    report = ImportReport(run_id=run_id, source=source, format=fmt)
    items: list[ItemRecord] = []
    events = EventChunk()
    bad: list[BadRow] = []
    writes = _Writes(store, WRITERS_POSTGRESQL if store.dialect.postgresql else 1)
    counted = threading.Lock()

    # The write_* functions run on the writer threads; items are stored before any event batch read
    # after them is written (see _Writes). Only they touch the report's write counters.
    def write_items(batch: list[ItemRecord]) -> None:
        new = store.upsert_items(batch)
        with counted:
            report.items_new += new

    def write_events(batch: EventChunk, create_items: bool) -> None:
        inserted, rejected = store.add_event_columns(
            batch.users,
            batch.items,
            batch.types,
            batch.values,
            batch.times,
            batch.comments,
            create_missing_items=create_items,
        )
        with counted:
            report.events_new += inserted
        write_bad(
            [BadRow(batch.sources[p], batch.lines[p], why, _describe(batch.record(p))) for p, why in rejected]
        )

    def write_bad(batch: list[BadRow]) -> None:
        if batch:
            store.add_import_errors(run_id, batch)
            with counted:
                report.bad_rows.extend(batch)

    def flush_items() -> None:
        if items:
            writes.submit("items", write_items, items.copy())
            items.clear()

    def flush_events() -> None:
        if len(events):
            # A source without listings names its items only through events (as collect() treats
            # it); items come first, so items_read is final by now.
            writes.submit(
                "events", write_events, events.take(), create_missing_items or report.items_read == 0
            )
        flush_bad()
        if progress:
            # On this thread, so a progress bar is drawn by its owner; the counts read so far are
            # final, the written ones trail by the batch in flight.
            progress(report)

    def flush_bad() -> None:
        if bad:
            writes.submit("", write_bad, bad.copy())
            bad.clear()

    status = "failed"
    try:
        for row in rows:
            if isinstance(row, EventChunk):
                # Events are checked against stored items, so every pending item goes first.
                flush_items()
                report.events_read += len(row)
                start = 0
                while start < len(row):
                    stop = min(len(row), start + batch_size - len(events))
                    events.extend(row, start, stop)
                    start = stop
                    if len(events) >= batch_size:
                        flush_events()
                continue
            if isinstance(row, BadRow):
                bad.append(row)
                continue
            if isinstance(row.record, ItemRecord):
                report.items_read += 1
                items.append(row.record)
                if len(items) >= batch_size:
                    flush_items()
            else:
                # Events are checked against stored items, so every pending item goes first.
                flush_items()
                report.events_read += 1
                events.append(row)
                if len(events) >= batch_size:
                    flush_events()
        flush_items()
        flush_events()
        writes.close()
        status = "done"
    finally:
        try:
            writes.close()  # a failed run still stores the batches already handed over
        finally:
            write_bad(bad)
            store.finish_import(run_id, status, report.counts())
    return report


# Event batches written at once on PostgreSQL: the server inserts one batch on one core while the
# next is prepared; two keep both cores of a small machine busy (measured in docs/benchmarks.md).
# SQLite has one writer at a time, so a second would only wait.
WRITERS_POSTGRESQL = 2


class _Writes:
    """Store writes on background threads, at most ``width`` batches in flight.

    The next batch is read and validated (Python, holding the GIL) while the database stores the
    earlier ones (the driver waits without the GIL; PostgreSQL works in its own processes). Bounded
    in-flight batches keep memory flat; a failed write surfaces at the next submit or at close.
    A change of kind ("items" after "events" or back) first waits for everything in flight, so no
    event batch is written before the items read ahead of it. Hand-written, because an executor's
    queue is unbounded and knows no such barrier.
    """

    def __init__(self, store: Store, width: int) -> None:
        self._store = store
        self._width = max(1, width)
        self._pool = ThreadPoolExecutor(max_workers=self._width, thread_name_prefix="mediarec-import")
        self._pending: deque[Future[None]] = deque()
        self._kind = ""
        self._closed = False

    def submit(self, kind: str, fn: Callable[..., None], *args: Any) -> None:
        if kind and kind != self._kind:
            self._drain()
            self._kind = kind
        while len(self._pending) >= self._width:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(fn, *args))

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._drain()
        finally:
            # Let every worker thread finish what it holds before the pool goes; their store
            # connections go back when the threads end.
            for f in list(self._pending):
                f.exception()
            self._pool.shutdown(wait=True)


def _describe(record: ItemRecord | EventRecord) -> str:
    if isinstance(record, EventRecord):
        return f"user={record.user} item={record.item} type={record.type} value={record.value} ts={record.ts}"
    return f"id={record.external_id} title={record.title}"


def source_name(path: Path) -> str:
    return str(path)
