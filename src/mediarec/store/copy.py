"""Copy one store into another (``mediarec store copy --to postgresql://...``): every table, rows with
their ids, idempotent and resumable.

Each table is copied in its foreign-key order in batches keyed on its primary key, one transaction per
batch, each row inserted with ``ON CONFLICT DO NOTHING``: a rerun (or a run after an interruption)
starts after the highest id the target already holds and copies nothing twice. Triggers on the target
fill ``item_tags`` as items and features arrive; the copy of ``item_tags`` itself then only adds what
they did not. At the end both sides are counted and checksummed per table (an order-free sum of row hashes,
values normalised so that an SQLite REAL and a PostgreSQL double compare equal); any difference fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from mediarec.store.backend import Conn
from mediarec.store.db import Store
from mediarec.store.errors import StoreError
from mediarec.store.schema import COPY_ORDER


@dataclass(frozen=True)
class TableReport:
    table: str
    source_rows: int
    target_rows: int
    copied: int  # inserted by this run
    source_checksum: str
    target_checksum: str

    @property
    def same(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


class CopyMismatch(StoreError):
    def __init__(self, reports: list[TableReport]) -> None:
        self.reports = reports
        bad = ", ".join(r.table for r in reports if not r.same)
        super().__init__(f"the copy differs from the source in: {bad}")


def copy_store(
    source: Store,
    target: Store,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableReport]:
    """Copy every table of ``source`` into ``target`` and verify; raises :class:`CopyMismatch` when
    a table's count or checksum differs afterwards (the reports are on the exception)."""
    if source.display_url == target.display_url:
        raise StoreError("the source and the target of a copy are the same store")
    reports = []
    for table, key in COPY_ORDER:
        copied = _copy_table(source, target, table, key, batch_size, progress)
        if target.dialect.postgresql and key == ("id",):
            # Rows came with their ids: the id sequence must continue after them.
            target.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
            )
        src_n, src_sum = checksum(source.conn, table, key)
        dst_n, dst_sum = checksum(target.conn, table, key)
        reports.append(TableReport(table.name, src_n, dst_n, copied, src_sum, dst_sum))
    if not all(r.same for r in reports):
        raise CopyMismatch(reports)
    return reports


def _copy_table(
    source: Store,
    target: Store,
    table: Table,
    key: tuple[str, ...],
    batch_size: int,
    progress: Callable[[str, int], None] | None,
) -> int:
    cols = [c.name for c in table.columns]
    names = ", ".join(cols)
    marks = ", ".join("?" * len(cols))
    conflict = "DO NOTHING"
    if table.name == "store_stamps":
        # The counters' values, not the target's fresh zeros.
        conflict = "DO UPDATE SET value = excluded.value WHERE store_stamps.value <> excluded.value"
    insert = f"INSERT INTO {table.name} ({names}) VALUES ({marks}) ON CONFLICT ({', '.join(key)}) {conflict}"
    start: tuple[Any, ...] | None = None
    if key == ("id",):
        # Resume after what the target holds (earlier runs copied in id order).
        top = target.conn.execute(f"SELECT max(id) FROM {table.name}").fetchone()[0]
        start = (int(top),) if top is not None else None
    copied = 0
    for rows in _batches(source.conn, table.name, cols, key, batch_size, start):
        with target.transaction() as tx:
            result = tx.executemany(insert, rows)
            copied += max(0, int(result.rowcount))
        if progress is not None:
            progress(table.name, len(rows))
    return copied


def _batches(
    conn: Conn,
    table: str,
    cols: list[str],
    key: tuple[str, ...],
    batch_size: int,
    start: tuple[Any, ...] | None,
) -> Iterator[list[tuple[Any, ...]]]:
    """Keyset pages: each query starts after the last key of the previous page."""
    order = ", ".join(key)
    index = [cols.index(k) for k in key]
    after = start
    while True:
        where = f"WHERE ({order}) > ({', '.join('?' * len(key))})" if after is not None else ""
        if len(key) == 1 and after is not None:
            where = f"WHERE {key[0]} > ?"
        rows = conn.execute(
            f"SELECT {', '.join(cols)} FROM {table} {where} ORDER BY {order} LIMIT ?",
            [*(after or ()), batch_size],
        ).fetchall()
        if not rows:
            return
        yield [tuple(r) for r in rows]
        after = tuple(rows[-1][i] for i in index)


def checksum(conn: Conn, table: Table, key: tuple[str, ...], batch_size: int = 20000) -> tuple[int, str]:
    """(rows, checksum), comparable across backends: the sum of each row's SHA-256, so that it does
    not depend on the order rows come in (text keys sort by each database's own collation)."""
    total = n = 0
    cols = [c.name for c in table.columns]
    for rows in _batches(conn, table.name, cols, key, batch_size, None):
        for row in rows:
            digest = hashlib.sha256(repr(tuple(_norm(v) for v in row)).encode()).digest()
            total = (total + int.from_bytes(digest[:16], "big")) % (1 << 128)
        n += len(rows)
    return n, f"{total:032x}"[:16]


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value
