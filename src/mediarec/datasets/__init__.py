"""Importers: one module per source format, a registry, and loaders into memory or the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from mediarec.datasets import generic, ml1m, movielens, recbole, splitfile
from mediarec.datasets.base import Dataset, EventTable, ImportFormatError, Row, collect
from mediarec.datasets.loader import ImportReport, load_rows
from mediarec.records import BadRow
from mediarec.store import Store

# Detection tries these in order: the specific layouts before the generic one. A module whose
# events may name items that no item file lists sets IMPLICIT_ITEMS = True (those items are
# then created bare instead of being rejected as unknown).
FORMATS: dict[str, ModuleType] = {m.FORMAT: m for m in (splitfile, movielens, recbole, ml1m, generic)}


def detect_format(path: str | Path) -> str:
    p = Path(path)
    if not p.exists():
        raise ImportFormatError(f"{p}: no such file or folder")
    for name, module in FORMATS.items():
        if module.detect(p):
            return name
    raise ImportFormatError(
        f"{p}: cannot tell the format; name it with --format ({', '.join(FORMATS)})"
    )


def read(
    path: str | Path, fmt: str | None = None, kind: str | None = None
) -> tuple[str, Iterator[Row | BadRow]]:
    """``kind`` sets every item's kind, for formats whose files do not say it (``TAKES_KIND``)."""
    p = Path(path)
    name = fmt or detect_format(p)
    try:
        module = FORMATS[name]
    except KeyError:
        raise ImportFormatError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}") from None
    if not p.exists():
        raise ImportFormatError(f"{p}: no such file or folder")
    if kind is None:
        return name, module.read(p)
    if not getattr(module, "TAKES_KIND", False):
        takes = ", ".join(n for n, m in FORMATS.items() if getattr(m, "TAKES_KIND", False))
        raise ImportFormatError(
            f"the {name} format says each item's kind itself (or lists films); a kind can be set "
            f"for {takes} imports only"
        )
    return name, module.read(p, kind=kind)


def load_dataset(path: str | Path, fmt: str | None = None) -> Dataset:
    """Read a source into memory (no store), e.g. for evaluation."""
    name, rows = read(path, fmt)
    return collect(f"{Path(path).name} ({name})", rows, getattr(FORMATS[name], "IMPLICIT_ITEMS", False))


def import_path(
    store: Store,
    path: str | Path,
    fmt: str | None = None,
    batch_size: int = 5000,
    progress: Callable[[ImportReport], None] | None = None,
    kind: str | None = None,
    reader_process: bool = False,
) -> ImportReport:
    """Import a source into the store; see :mod:`mediarec.datasets.loader` for the guarantees.
    ``reader_process`` reads a source of at least READER_PROCESS_MIN_BYTES in a child process."""
    name, rows = read(path, fmt, kind)
    return load_rows(
        store, rows, source=str(path), fmt=name, batch_size=batch_size,
        create_missing_items=getattr(FORMATS[name], "IMPLICIT_ITEMS", False), progress=progress,
        reader_process=reader_process and _source_bytes(Path(path)) >= READER_PROCESS_MIN_BYTES,
    )


# Below this a second process costs more (the fork, a pipe) than reading in place saves: a few
# seconds of parsing at most.
READER_PROCESS_MIN_BYTES = 16 * 1024 * 1024


def _source_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


__all__ = [
    "FORMATS",
    "Dataset",
    "EventTable",
    "ImportFormatError",
    "ImportReport",
    "Row",
    "detect_format",
    "import_path",
    "load_dataset",
    "read",
]
