"""MovieLens-1M ``::``-separated files (latin-1, as GroupLens ships them).

``movies.dat`` (MovieID::Title::Genres, genres ``|``-separated) is required; ``ratings.dat``
(UserID::MovieID::Rating::Timestamp) is optional; ``users.dat`` holds demographics that no model
here uses, so it is not read. A first line naming the columns (``movieId::title::genres``, as in
some redistributed copies) is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediarec.datasets.base import ImportFormatError, Row, bad, check_text, open_text
from mediarec.datasets.movielens import split_genres, title_year
from mediarec.records import BadRow, EventRecord, ItemRecord, RecordError, parse_float

FORMAT = "ml1m"
ENCODING = "latin-1"
SEPARATOR = "::"


def detect(path: Path) -> bool:
    # A folder with train.txt is a ready-made split that merely ships movies.dat for titles.
    return path.is_dir() and (path / "movies.dat").is_file() and not (path / "train.txt").exists()


def read(path: Path) -> Iterator[Row | BadRow]:
    movies = path / "movies.dat"
    if not movies.is_file():
        raise ImportFormatError(f"{path}: an ML-1M folder needs movies.dat")
    yield from read_movies(movies)
    ratings = path / "ratings.dat"
    if ratings.is_file():
        yield from _ratings(ratings)


def _lines(path: Path, width: int, header: str) -> Iterator[tuple[int, list[str] | str, str]]:
    """(line, fields | reason, raw) per non-blank line; a first line whose first field is
    ``header`` is a column header and is skipped."""
    with open_text(path, ENCODING) as fh:
        for number, text in enumerate(fh, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            fields = text.split(SEPARATOR)
            if number == 1 and fields[0].strip().lower() == header:
                continue
            raw = text[:500]
            if len(fields) != width:
                yield number, f"expected {width} '{SEPARATOR}'-separated fields, got {len(fields)}", raw
                continue
            try:
                check_text((text,))
            except RecordError as exc:
                yield number, str(exc), raw
                continue
            yield number, fields, raw


def read_movies(path: Path) -> Iterator[Row | BadRow]:
    """Items of an ML-1M ``movies.dat``; the split format reuses this for its titles."""
    for line, fields, raw in _lines(path, 3, "movieid"):
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        movie_id, title, genres = (f.strip() for f in fields)
        metadata: dict[str, Any] = {"genres": split_genres(genres)}
        year = title_year(title)
        if year is not None:
            metadata["year"] = year
        try:
            record = ItemRecord(external_id=movie_id, title=title, kind="video", metadata=metadata)
        except RecordError as exc:
            yield bad(path, line, str(exc), raw)
            continue
        yield Row(source=path.name, line=line, record=record)


def _ratings(path: Path) -> Iterator[Row | BadRow]:
    name = path.name
    for line, fields, raw in _lines(path, 4, "userid"):
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        try:
            record = EventRecord(
                user=fields[0].strip(), item=fields[1].strip(), type="rating",
                value=parse_float(fields[2], "rating"), ts=parse_float(fields[3], "timestamp"),
            )
        except RecordError as exc:
            yield bad(path, line, str(exc), raw)
            continue
        yield Row(source=name, line=line, record=record)
