"""RecBole atomic files: ``<name>.inter`` and optionally ``<name>.item``.

Tab-separated, with a typed header such as ``user_id:token\titem_id:token\trating:float``. Types
are ``token``, ``token_seq`` (space-separated), ``float`` and ``float_seq``. The ``.inter`` file needs
``user_id`` and ``item_id``; ``rating`` makes the events ratings (else views) and ``timestamp``
dates them. In ``.item`` the title comes from ``movie_title`` / ``title`` / ``name``, genres from
``class`` / ``genre`` (into ``metadata["genres"]``), and every other field lands in metadata.
``.user`` (demographics) is not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediarec.datasets.base import ImportFormatError, Row, bad, check_text, open_text
from mediarec.records import BadRow, EventRecord, ItemRecord, RecordError, parse_float

FORMAT = "recbole"
_TYPES = ("token", "token_seq", "float", "float_seq")
_TITLE_FIELDS = ("movie_title", "title", "name")
_GENRE_FIELDS = ("class", "genre", "genres")
_YEAR_FIELDS = ("release_year", "year")


def detect(path: Path) -> bool:
    if path.is_file():
        return path.suffix == ".inter"
    return path.is_dir() and any(path.glob("*.inter"))


def _inter_file(path: Path) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob("*.inter"))
    if not found:
        raise ImportFormatError(f"{path}: no .inter file found")
    if len(found) > 1:
        # RecBole's own benchmark splits (.train.inter, ...) would double-count if all were read.
        names = ", ".join(p.name for p in found)
        raise ImportFormatError(f"{path}: several .inter files ({names}); give the one to import")
    return found[0]


def read(path: Path) -> Iterator[Row | BadRow]:
    inter = _inter_file(path)
    item_file = inter.with_suffix(".item")
    if item_file.is_file():
        yield from _items(item_file)
    yield from _events(inter)


def _header(path: Path, first: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for column in first.rstrip("\r\n").lstrip("\ufeff").split("\t"):
        name, sep, kind = column.strip().partition(":")
        if not sep or kind not in _TYPES:
            raise ImportFormatError(
                f"{path}: header field {column!r} is not name:type with type one of {', '.join(_TYPES)}"
            )
        fields.append((name, kind))
    return fields


def _rows(path: Path) -> Iterator[tuple[list[tuple[str, str]], int, list[str] | str, str]]:
    """(header, line, fields | reason, raw) per data line."""
    with open_text(path) as fh:
        first = fh.readline()
        if not first.strip():
            raise ImportFormatError(f"{path}: empty file, expected a typed header line")
        header = _header(path, first)
        width = len(header)
        for number, text in enumerate(fh, start=2):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            fields = text.split("\t")
            raw = text[:500]
            if len(fields) != width:
                yield header, number, f"expected {width} tab-separated fields, got {len(fields)}", raw
                continue
            try:
                check_text((text,))
            except RecordError as exc:
                yield header, number, str(exc), raw
                continue
            yield header, number, fields, raw


def _position(header: list[tuple[str, str]], name: str) -> int | None:
    names = [n for n, _ in header]
    return names.index(name) if name in names else None


def _require(path: Path, header: list[tuple[str, str]], name: str) -> int:
    at = _position(header, name)
    if at is None:
        found = ", ".join(n for n, _ in header)
        raise ImportFormatError(f"{path}: header lacks {name} (found {found})")
    return at


def _events(path: Path) -> Iterator[Row | BadRow]:
    name = path.name
    positions: tuple[int, int, int | None, int | None] | None = None
    for header, line, fields, raw in _rows(path):
        if positions is None:
            positions = (
                _require(path, header, "user_id"),
                _require(path, header, "item_id"),
                _position(header, "rating"),
                _position(header, "timestamp"),
            )
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        user_at, item_at, rating_at, ts_at = positions
        try:
            # Without a rating column the data is implicit feedback: each row is a view.
            record = EventRecord(
                user=fields[user_at].strip(),
                item=fields[item_at].strip(),
                type="view" if rating_at is None else "rating",
                value=None if rating_at is None else parse_float(fields[rating_at], "rating"),
                ts=0.0 if ts_at is None else parse_float(fields[ts_at], "timestamp"),
            )
        except RecordError as exc:
            yield bad(path, line, str(exc), raw)
            continue
        yield Row(source=name, line=line, record=record)


def _value(kind: str, raw: str, what: str) -> Any:
    if kind == "token":
        return raw.strip()
    if kind == "token_seq":
        return raw.split()
    if kind == "float":
        return parse_float(raw, what)
    return [parse_float(v, what) for v in raw.split()]


def _items(path: Path) -> Iterator[Row | BadRow]:
    name = path.name
    checked = False
    for header, line, fields, raw in _rows(path):
        if not checked:
            _require(path, header, "item_id")
            checked = True
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        try:
            record = _item(header, fields)
        except RecordError as exc:
            yield bad(path, line, str(exc), raw)
            continue
        yield Row(source=name, line=line, record=record)


def _item(header: list[tuple[str, str]], fields: list[str]) -> ItemRecord:
    item_id = ""
    title = ""
    metadata: dict[str, Any] = {}
    for (field, kind), raw in zip(header, fields, strict=True):
        if not raw.strip():
            continue  # RecBole writes a missing value as an empty field
        if field == "item_id":
            item_id = raw.strip()
        elif field in _TITLE_FIELDS and not title:
            # A title is text even where the header types it token_seq: keep its spacing.
            title = raw.strip()
        elif field in _GENRE_FIELDS:
            parts = raw.split() if kind.endswith("_seq") else raw.split("|")
            metadata["genres"] = [g.strip() for g in parts if g.strip()]
        else:
            metadata[field] = _value(kind, raw, field)
            if field in _YEAR_FIELDS and raw.strip().isdigit():
                # The MovieLens importers store the year as "year"; content models read one key.
                metadata["year"] = int(raw)
    if not item_id:
        raise RecordError("item_id is empty")
    return ItemRecord(external_id=item_id, title=title, kind="video", metadata=metadata)
