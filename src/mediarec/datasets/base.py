"""What every importer yields, and the in-memory dataset that evaluation reads without a store.

An importer is a module with ``FORMAT`` (its name), ``detect(path) -> bool`` and
``read(path) -> Iterator[Row | BadRow]``. It yields every item before the first event, so that a
loader can store items first and check events against them. Bad rows are yielded, never raised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mediarec.interactions import Interactions, InteractionWeights, from_events
from mediarec.records import BadRow, EventRecord, ItemRecord, RecordError

FOLDS = ("train", "test")


@dataclass(frozen=True)
class Row:
    """One parsed record with where it came from; ``fold`` is set by formats that ship a split."""

    source: str
    line: int
    record: ItemRecord | EventRecord
    fold: str | None = None


class ImportFormatError(ValueError):
    """The input as a whole cannot be read (missing file, unknown layout): not a per-row problem."""


@dataclass
class EventTable:
    """Events as columns: the cheap form for millions of rows."""

    users: np.ndarray
    items: np.ndarray
    types: np.ndarray
    values: np.ndarray  # NaN where an event has no value
    times: np.ndarray
    folds: np.ndarray  # "" where the source gives no fold, else "train" / "test"

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> EventTable:
        return EventTable(
            self.users[mask], self.items[mask], self.types[mask], self.values[mask], self.times[mask],
            self.folds[mask],
        )


@dataclass
class Dataset:
    """A whole source read into memory: items, events, and the rows that were rejected."""

    name: str
    items: list[ItemRecord]
    events: EventTable
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def item_ids(self) -> np.ndarray:
        """The catalogue: every item listed, plus any that events mention without a listing."""
        listed = [it.external_id for it in self.items]
        extra = np.setdiff1d(np.unique(self.events.items), np.asarray(listed, dtype=str))
        return np.concatenate([np.asarray(listed, dtype=str), extra.astype(str)])

    @property
    def has_folds(self) -> bool:
        return bool(len(self.events)) and bool(np.all(self.events.folds != ""))

    def interactions(
        self,
        events: EventTable | None = None,
        weights: InteractionWeights | None = None,
        user_ids: np.ndarray | None = None,
    ) -> Interactions:
        """Training matrix over the whole catalogue from ``events`` (default: all of them)."""
        ev = self.events if events is None else events
        return from_events(
            ev.users, ev.items, ev.types, ev.values, ev.times, weights,
            item_ids=self.item_ids, user_ids=user_ids,
        )


def collect(name: str, rows: Iterable[Row | BadRow], implicit_items: bool = False) -> Dataset:
    """Gather an importer's rows into a :class:`Dataset`.

    As in the store, an event on an item that no listing names is a bad row, unless the source
    has no listings (or its format sets ``implicit_items``): then the item exists implicitly.
    """
    items: list[ItemRecord] = []
    seen_items: dict[str, int] = {}
    users: list[str] = []
    its: list[str] = []
    types: list[str] = []
    values: list[float] = []
    times: list[float] = []
    folds: list[str] = []
    bad: list[BadRow] = []
    for row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        rec = row.record
        if isinstance(rec, ItemRecord):
            if rec.external_id in seen_items:
                items[seen_items[rec.external_id]] = rec  # a later listing updates, as the store does
            else:
                seen_items[rec.external_id] = len(items)
                items.append(rec)
            continue
        if items and not implicit_items and rec.item not in seen_items:
            bad.append(BadRow(row.source, row.line, f"unknown item {rec.item!r}", ""))
            continue
        users.append(rec.user)
        its.append(rec.item)
        types.append(rec.type)
        values.append(np.nan if rec.value is None else rec.value)
        times.append(rec.ts)
        folds.append(row.fold or "")
    table = EventTable(
        users=np.asarray(users, dtype=str),
        items=np.asarray(its, dtype=str),
        types=np.asarray(types, dtype=str),
        values=np.asarray(values, dtype=np.float64),
        times=np.asarray(times, dtype=np.float64),
        folds=np.asarray(folds, dtype=str),
    )
    return Dataset(name=name, items=items, events=table, bad_rows=bad)


# -- helpers shared by the text formats ------------------------------------------------------


def open_text(path: Path, encoding: str = "utf-8") -> io.TextIOWrapper:
    """Open for reading; undecodable bytes become lone surrogates, which ``check_text`` reports
    per row instead of failing the whole file."""
    return open(path, encoding=encoding, errors="surrogateescape", newline="")


def check_text(values: Iterable[str]) -> None:
    for v in values:
        if "\x00" in v:
            # A NUL means binary damage; SQLite and numpy string arrays would silently truncate at it.
            raise RecordError("row contains a NUL byte")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise RecordError("row is not valid text in the file's encoding") from None


def csv_rows(
    path: Path, delimiter: str = ",", encoding: str = "utf-8"
) -> Iterator[tuple[int, list[str] | str]]:
    """(line number, fields) per CSV record; a record the csv module rejects comes back as a
    string with the reason, and reading goes on with the next line."""
    with open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, f"malformed CSV: {exc}"
                continue
            yield reader.line_num, fields


def raw_line(fields: list[str], delimiter: str = ",") -> str:
    return delimiter.join(fields)[:500]


def bad(source: Path | str, line: int, reason: str, raw: str = "") -> BadRow:
    name = Path(source).name
    return BadRow(source=_storable(name), line=line, reason=_storable(reason), raw=_storable(raw))


def _storable(text: str) -> str:
    """Undecodable bytes (lone surrogates from ``open_text``) as U+FFFD: SQLite refuses to store
    lone surrogates, and a bad row must not fail the import it is reported in."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that came from elsewhere, e.g. a JSON escape
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
