"""mediarec's own exchange format: what a platform writes its export in.

A folder holding ``items.csv`` or ``items.jsonl`` and/or ``interactions.csv`` or
``interactions.jsonl`` (or one such file given directly). Columns / keys:

items
    ``id`` (required), ``title``, ``kind`` (``video`` | ``audio``, default ``video``), ``duration``
    (seconds), ``uri``, ``creator``, ``tags`` (``|``-separated in CSV, a list in JSONL),
    ``metadata`` (a JSON object); any other column lands in the item's metadata.
interactions
    ``user``, ``item`` (required), ``type`` (view | like | skip | share | comment | rating; default
    view), ``value`` (watch fraction 0..1 of a view, score of a rating), ``timestamp`` (epoch
    seconds or ISO 8601; naive times are UTC), ``comment``, and optionally ``fold`` (``train`` |
    ``test``) to ship a ready-made evaluation split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mediarec.datasets.base import FOLDS, ImportFormatError, Row, bad, check_text, csv_rows, open_text
from mediarec.records import BadRow, EventRecord, ItemRecord, RecordError, parse_float

FORMAT = "generic"
_ITEM_KEYS = {"id", "title", "kind", "duration", "uri", "creator", "tags", "metadata"}


def _files(path: Path) -> tuple[Path | None, Path | None]:
    if path.is_file():
        stem = path.name.split(".")[0]
        if stem.startswith("items"):
            return path, None
        if stem.startswith("interactions") or stem.startswith("events"):
            return None, path
        raise ImportFormatError(f"{path}: a generic file must be named items.* or interactions.*")
    found: dict[str, Path | None] = {"items": None, "interactions": None}
    for kind in found:
        for ext in (".jsonl", ".csv"):
            candidate = path / f"{kind}{ext}"
            if candidate.is_file():
                found[kind] = candidate
                break
    return found["items"], found["interactions"]


def detect(path: Path) -> bool:
    if path.is_file():
        stem = path.name.split(".")[0]
        return path.suffix in (".csv", ".jsonl") and stem in ("items", "interactions", "events")
    items, events = _files(path)
    return items is not None or events is not None


def read(path: Path) -> Iterator[Row | BadRow]:
    items, events = _files(path)
    if items is None and events is None:
        raise ImportFormatError(f"{path}: no items.csv/.jsonl or interactions.csv/.jsonl found")
    if items is not None:
        yield from _read(items, _item)
    if events is not None:
        yield from _read(events, _event)


def _read(path: Path, build: Any) -> Iterator[Row | BadRow]:
    for line, fields, raw in _dict_rows(path):
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        try:
            check_text(str(v) for v in fields.values())
            record, fold = build(fields)
        except RecordError as exc:
            yield bad(path, line, str(exc), raw)
            continue
        yield Row(source=path.name, line=line, record=record, fold=fold)


def _dict_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, str]]:
    if path.suffix == ".jsonl":
        with open_text(path) as fh:
            for number, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except ValueError as exc:
                    yield number, f"not valid JSON: {exc}", text[:500]
                    continue
                if not isinstance(obj, dict):
                    yield number, "a JSONL line must be an object", text[:500]
                    continue
                yield number, obj, text[:500]
        return
    header: list[str] | None = None
    for number, fields in csv_rows(path):
        if isinstance(fields, str):
            yield number, fields, ""
            continue
        if header is None:
            # A byte-order mark (Excel's "CSV UTF-8") would otherwise hide the first column's name.
            header = [h.strip().lstrip("\ufeff").lower() for h in fields]
            continue
        if not any(f.strip() for f in fields):
            continue
        raw = ",".join(fields)[:500]
        if len(fields) != len(header):
            yield number, f"expected {len(header)} fields ({', '.join(header)}), got {len(fields)}", raw
            continue
        yield number, {h: v for h, v in zip(header, fields, strict=True) if v != ""}, raw


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise RecordError(f"expected text, got {type(value).__name__}")
    return str(value)


def _item(fields: dict[str, Any]) -> tuple[ItemRecord, None]:
    if "id" not in fields:
        raise RecordError("missing required field 'id'")
    metadata: dict[str, Any] = {}
    raw_meta = fields.get("metadata")
    if isinstance(raw_meta, str):
        try:
            raw_meta = json.loads(raw_meta)
        except ValueError:
            raise RecordError("metadata is not valid JSON") from None
    if raw_meta is not None:
        if not isinstance(raw_meta, dict):
            raise RecordError("metadata must be a JSON object")
        metadata.update(raw_meta)
    tags = fields.get("tags")
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split("|") if t.strip()]
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise RecordError("tags must be a list of strings")
        metadata["tags"] = tags
    metadata.update({k: v for k, v in fields.items() if k not in _ITEM_KEYS})
    duration = fields.get("duration")
    record = ItemRecord(
        external_id=str(_text(fields["id"])).strip(),
        title=_text(fields.get("title")) or "",
        kind=str(fields.get("kind") or "video").strip().lower(),
        duration=None if duration is None else parse_float(str(duration), "duration"),
        uri=_text(fields.get("uri")),
        creator=_text(fields.get("creator")),
        metadata=metadata,
    )
    return record, None


def parse_time(raw: Any) -> float:
    """Epoch seconds, or an ISO 8601 date/time (naive means UTC)."""
    if raw is None or raw == "":
        raise RecordError("missing timestamp")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return parse_float(str(raw), "timestamp")
    text = str(raw).strip()
    try:
        return parse_float(text, "timestamp")
    except RecordError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"timestamp is neither epoch seconds nor ISO 8601: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _event(fields: dict[str, Any]) -> tuple[EventRecord, str | None]:
    for key in ("user", "item"):
        if key not in fields:
            raise RecordError(f"missing required field {key!r}")
    value = fields.get("value")
    fold = fields.get("fold")
    if fold is not None and fold not in FOLDS:
        raise RecordError(f"fold must be one of {', '.join(FOLDS)}, got {fold!r}")
    record = EventRecord(
        user=str(_text(fields["user"])).strip(),
        item=str(_text(fields["item"])).strip(),
        type=str(fields.get("type") or "view").strip().lower(),
        value=None if value is None else parse_float(str(value), "value"),
        ts=parse_time(fields.get("timestamp", 0)),
        comment=_text(fields.get("comment")),
    )
    return record, fold
