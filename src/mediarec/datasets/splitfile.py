"""A ready-made train/test split, as research code ships it (e.g. the CoLaKG ML-1M split).

``train.txt`` and ``test.txt`` hold one line per user, ``user item item ...``, in remapped ids.
Optional companions:

``item_map.txt`` / ``user_map.txt``
    ``original_id remapped_id`` per line. With a map, records carry the ORIGINAL ids, so that
    titles and descriptions (keyed by original id) line up with the events.
``movies.dat``
    ML-1M ``MovieID::Title::Genres`` for titles and genres, keyed by original id.
``llm_response_item.json`` (or the folder's only ``*.json``)
    ``{original_item_id: description}``, stored as ``metadata["description"]``.

The catalogue is the item map when there is one (movies.dat rows outside it are movies the split
dropped and are not listed), else movies.dat, else the description file; events may still name
items none of these list (``IMPLICIT_ITEMS``). The files carry no times, so an event's ``ts`` is
its position in the user's history (train first, then test): per-user order survives and the
store's identity key (user, item, type, ts) stays unique.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path

from mediarec.datasets.base import FOLDS, ImportFormatError, Row, bad, check_text, open_text
from mediarec.datasets.ml1m import read_movies
from mediarec.limits import MAX_ID_CHARS
from mediarec.records import BadRow, EventRecord, ItemRecord, RecordError

FORMAT = "split"
IMPLICIT_ITEMS = True
TAKES_KIND = True  # the files do not say whether items are video or audio: the import does (--kind)
DESCRIPTION_FILE = "llm_response_item.json"


def detect(path: Path) -> bool:
    return path.is_dir() and all((path / f"{fold}.txt").is_file() for fold in FOLDS)


def read(path: Path, kind: str = "video") -> Iterator[Row | BadRow]:
    """Rows of the split folder; every item gets ``kind`` (the files cannot say it)."""
    for fold in FOLDS:
        if not (path / f"{fold}.txt").is_file():
            raise ImportFormatError(f"{path}: a split folder needs {fold}.txt")
    item_map, item_lines = yield from _read_map(path / "item_map.txt")
    user_map, _ = yield from _read_map(path / "user_map.txt")
    movies: dict[str, Row] = {}
    if (path / "movies.dat").is_file():
        for row in read_movies(path / "movies.dat"):
            if isinstance(row, BadRow):
                yield row
            elif isinstance(row.record, ItemRecord):
                movies[row.record.external_id] = row
    descriptions = yield from _descriptions(path)
    listed = set()
    for row in _items(item_map, item_lines, movies, descriptions):
        if isinstance(row, Row) and isinstance(row.record, ItemRecord):
            listed.add(row.record.external_id)
            if row.record.kind != kind:
                row = Row(source=row.source, line=row.line, record=replace(row.record, kind=kind))
        yield row
    if kind != "video":
        # Items that only events name would be created bare, as the store's default kind, video.
        yield from _unlisted_items(path, item_map, listed, kind)
    # Positions continue from train into test so that each user's ts values never repeat.
    offsets: dict[str, int] = {}
    for fold in FOLDS:
        yield from _events(path / f"{fold}.txt", fold, item_map, user_map, offsets)


Mapping = dict[str, str]


def _read_map(path: Path) -> Generator[BadRow, None, tuple[Mapping | None, dict[str, int]]]:
    """(remapped id -> original id, or None when the file is absent; original id -> line);
    yields the bad lines."""
    if not path.is_file():
        return None, {}
    mapping: Mapping = {}
    originals: dict[str, int] = {}
    with open_text(path) as fh:
        for number, text in enumerate(fh, start=1):
            fields = text.split()
            if not fields:
                continue
            raw = text.rstrip("\r\n")[:500]
            try:
                check_text(fields)
            except RecordError as exc:
                yield bad(path, number, str(exc), raw)
                continue
            if len(fields) != 2:
                yield bad(path, number, f"expected 'original_id remapped_id', got {len(fields)} fields", raw)
                continue
            original, remapped = fields
            if remapped in mapping:
                reason = f"remapped id {remapped!r} already maps to {mapping[remapped]!r}"
                yield bad(path, number, reason, raw)
                continue
            if original in originals:
                # Two remapped ids for one original would merge two model items into one.
                yield bad(path, number, f"original id {original!r} is mapped twice", raw)
                continue
            mapping[remapped] = original
            originals[original] = number
    return mapping, originals


def _description_file(path: Path) -> Path | None:
    if (path / DESCRIPTION_FILE).is_file():
        return path / DESCRIPTION_FILE
    found = sorted(path.glob("*.json"))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ImportFormatError(
            f"{path}: several .json files ({names}); name the descriptions {DESCRIPTION_FILE}"
        )
    return found[0] if found else None


def _descriptions(path: Path) -> Generator[BadRow, None, dict[str, str]]:
    """original item id -> description; yields what cannot be read."""
    found = _description_file(path)
    if found is None:
        return {}
    with open_text(found) as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"descriptions not read: invalid JSON: {exc.msg}"
        yield bad(found, exc.lineno, reason, text[exc.pos : exc.pos + 200])
        return {}
    if not isinstance(data, dict):
        yield bad(found, 1, "descriptions not read: expected a JSON object {item_id: description}")
        return {}
    out: dict[str, str] = {}
    for key, value in data.items():
        try:
            if not isinstance(value, str):
                raise RecordError(f"description of item {key!r} is not text")
            check_text((key, value))
        except RecordError as exc:
            # JSON parsing keeps no positions; find the key's line only for the rare bad entry.
            at = text.find(json.dumps(key, ensure_ascii=False))
            line = text.count("\n", 0, at) + 1 if at >= 0 else 1
            yield bad(found, line, str(exc), f"{json.dumps(key)}: {json.dumps(value)}"[:500])
            continue
        out[key] = value
    return out


def _items(
    item_map: Mapping | None, item_lines: dict[str, int], movies: dict[str, Row], descriptions: dict[str, str]
) -> Iterator[Row | BadRow]:
    if item_map is not None:
        ids: list[str] = list(item_map.values())
    elif movies:
        ids = list(movies)
    else:
        ids = list(descriptions)
    for item_id in ids:
        listed = movies.get(item_id)
        description = descriptions.get(item_id)
        record: ItemRecord | None = None
        if listed is not None and isinstance(listed.record, ItemRecord):
            record = listed.record
            source, line = listed.source, listed.line
        elif item_map is not None:
            source, line = "item_map.txt", item_lines[item_id]
        else:
            # Listed by the description file alone; JSON keeps no line numbers.
            source, line = DESCRIPTION_FILE, 1
        try:
            built = _with_description(record or ItemRecord(external_id=item_id, kind="video"), description)
        except RecordError as exc:  # an id or description beyond mediarec.limits
            yield bad(source, line, str(exc), item_id[:500])
            continue
        yield Row(source=source, line=line, record=built)


def _with_description(record: ItemRecord, description: str | None) -> ItemRecord:
    if description is None:
        return record
    return replace(record, metadata={**record.metadata, "description": description})


def _unlisted_items(path: Path, item_map: Mapping | None, listed: set[str], kind: str) -> Iterator[Row]:
    """An item row of ``kind`` for every item the events name that no listing did (a pre-pass over
    the fold files, only when the kind is not the default)."""
    seen: set[str] = set()
    for fold in FOLDS:
        with open_text(path / f"{fold}.txt") as fh:
            for number, text in enumerate(fh, start=1):
                for token in text.split()[1:]:
                    item = token if item_map is None else item_map.get(token)
                    if item is None or item in listed or item in seen:
                        continue
                    seen.add(item)
                    try:
                        record = ItemRecord(external_id=item, title=item, kind=kind)
                    except RecordError:
                        continue  # the event row reports the bad id
                    yield Row(source=f"{fold}.txt", line=number, record=record)


def _events(
    path: Path,
    fold: str,
    item_map: Mapping | None,
    user_map: Mapping | None,
    offsets: dict[str, int],
) -> Iterator[Row | BadRow]:
    name = path.name
    with open_text(path) as fh:
        for number, text in enumerate(fh, start=1):
            tokens = text.split()
            if not tokens:
                continue
            raw = text.rstrip("\r\n")[:500]
            try:
                check_text((text,))
                if max(map(len, tokens)) > MAX_ID_CHARS:  # _view below skips EventRecord's checks
                    raise RecordError(f"an id on this line is longer than {MAX_ID_CHARS} characters")
            except RecordError as exc:
                yield bad(path, number, str(exc), raw)
                continue
            user = tokens[0]
            if user_map is not None:
                mapped = user_map.get(user)
                if mapped is None:
                    reason = f"user {user!r} is not in user_map.txt; its {len(tokens) - 1} events are skipped"
                    yield bad(path, number, reason, raw)
                    continue
                user = mapped
            start = offsets.get(user, 0)
            offsets[user] = start + len(tokens) - 1
            for position, token in enumerate(tokens[1:], start=start):
                item = token if item_map is None else item_map.get(token)
                if item is None:
                    yield bad(path, number, f"item {token!r} is not in item_map.txt", raw)
                    continue
                yield _row(name, number, _view(user, item, float(position)), fold)


# A split holds ~1M events and building each frozen dataclass through its __init__ (one
# object.__setattr__ per field, plus EventRecord's checks) was over half the load time. The checks
# cannot fail here: ids come from str.split (non-empty), type and value are fixed, ts is a small
# integer. tests/datasets/test_splitfile.py checks these equal the normally built records.
_new = object.__new__


def _view(user: str, item: str, ts: float) -> EventRecord:
    record = _new(EventRecord)
    record.__dict__.update(user=user, item=item, type="view", value=None, ts=ts, comment=None)
    return record


def _row(source: str, line: int, record: EventRecord, fold: str) -> Row:
    row = _new(Row)
    row.__dict__.update(source=source, line=line, record=record, fold=fold)
    return row
