"""Streaming an importer's rows into the store: batched, idempotent, and resumable after a kill.

Each batch is one transaction; items are upserted by external id and events are ignored when
already stored, so re-running an interrupted import finishes the job without duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mediarec.datasets.base import Row
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
    rows: Iterable[Row | BadRow],
    source: str,
    fmt: str,
    batch_size: int = 5000,
    create_missing_items: bool = False,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    run_id = store.start_import(source, fmt)
    report = ImportReport(run_id=run_id, source=source, format=fmt)
    items: list[ItemRecord] = []
    events: list[Row] = []
    pending_bad: list[BadRow] = []

    def flush_items() -> None:
        if items:
            report.items_new += store.upsert_items(items)
            items.clear()

    def flush_events() -> None:
        if events:
            records = [r.record for r in events]
            assert all(isinstance(r, EventRecord) for r in records)
            inserted, rejected = store.add_events(
                records,  # type: ignore[arg-type]
                # A source without listings names its items only through events (as collect()
                # treats it); items come first, so items_read is final by now.
                create_missing_items=create_missing_items or report.items_read == 0,
            )
            report.events_new += inserted
            for pos, reason in rejected:
                row = events[pos]
                pending_bad.append(BadRow(row.source, row.line, reason, _describe(row.record)))
            events.clear()
        flush_bad()
        if progress:
            progress(report)

    def flush_bad() -> None:
        if pending_bad:
            store.add_import_errors(run_id, pending_bad)
            report.bad_rows.extend(pending_bad)
            pending_bad.clear()

    status = "failed"
    try:
        for row in rows:
            if isinstance(row, BadRow):
                pending_bad.append(row)
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
        status = "done"
    finally:
        flush_bad()
        store.finish_import(run_id, status, report.counts())
    return report


def _describe(record: ItemRecord | EventRecord) -> str:
    if isinstance(record, EventRecord):
        return f"user={record.user} item={record.item} type={record.type} value={record.value} ts={record.ts}"
    return f"id={record.external_id} title={record.title}"


def source_name(path: Path) -> str:
    return str(path)
