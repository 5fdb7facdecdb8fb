"""GroupLens MovieLens CSV folders (ml-latest, ml-latest-small, ml-25m and kin).

``movies.csv`` (movieId,title,genres) and ``ratings.csv`` (userId,movieId,rating,timestamp) are
required. Optional side files enrich the items' metadata: ``links.csv`` (imdbId, tmdbId),
``tags.csv`` (userId,movieId,tag,timestamp; aggregated per movie into ``metadata["tags"]``) and
``ml-youtube.csv`` (youtubeId,movieId,title: trailer ids, ``metadata["youtube_id"]``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mediarec.datasets.base import ImportFormatError, Row, bad, check_text, csv_rows, raw_line
from mediarec.records import BadRow, EventRecord, ItemRecord, RecordError, parse_float

FORMAT = "movielens"
NO_GENRES = "(no genres listed)"
# A trailing "(1995)", or a series' "(2006-2007)" (MovieLens uses an en dash there).
_YEAR = re.compile(r"\((\d{4})(?:\s*[-–]\s*\d{4})?\)\s*$")


def detect(path: Path) -> bool:
    return path.is_dir() and (path / "ratings.csv").is_file() and (path / "movies.csv").is_file()


def title_year(title: str) -> int | None:
    """The release year MovieLens appends to titles, or None when the title has none."""
    match = _YEAR.search(title)
    return int(match.group(1)) if match else None


def split_genres(raw: str) -> list[str]:
    return [g.strip() for g in raw.split("|") if g.strip() and g.strip() != NO_GENRES]


def read(path: Path) -> Iterator[Row | BadRow]:
    for required in ("movies.csv", "ratings.csv"):
        if not (path / required).is_file():
            raise ImportFormatError(f"{path}: a MovieLens folder needs {required}")
    movies, problems = _movies(path / "movies.csv")
    yield from problems
    extra: dict[str, dict[str, Any]] = defaultdict(dict)
    # Side files are read before any item is yielded because items must be complete when they
    # are stored; they are small next to ratings.csv.
    yield from _links(path / "links.csv", movies, extra)
    yield from _youtube(path / "ml-youtube.csv", movies, extra)
    yield from _tags(path / "tags.csv", movies, extra)
    for movie_id, (line, title, metadata) in movies.items():
        metadata.update(extra.get(movie_id, {}))
        try:
            record = ItemRecord(external_id=movie_id, title=title, kind="video", metadata=metadata)
        except RecordError as exc:  # beyond a limit of mediarec.limits, e.g. too many tags
            yield bad(path / "movies.csv", line, str(exc), title)
            continue
        yield Row(source="movies.csv", line=line, record=record)
    yield from _ratings(path / "ratings.csv")


def _table(path: Path, wanted: Sequence[str]) -> Iterator[tuple[int, list[str] | str, str]]:
    """(line, fields ordered as ``wanted`` | reason, raw) per data row; columns are found by
    header name so that reordered or extended exports still read."""
    positions: list[int] | None = None
    width = 0
    for line, fields in csv_rows(path):
        if isinstance(fields, str):
            yield line, fields, ""
            continue
        if positions is None:
            header = [h.strip().lstrip("\ufeff") for h in fields]
            missing = [w for w in wanted if w not in header]
            if missing:
                found = ", ".join(header)
                raise ImportFormatError(f"{path}: header lacks {', '.join(missing)} (found {found})")
            positions = [header.index(w) for w in wanted]
            width = len(header)
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        raw = raw_line(fields)
        if len(fields) != width:
            yield line, f"expected {width} fields, got {len(fields)}", raw
            continue
        try:
            check_text(fields)
        except RecordError as exc:
            yield line, str(exc), raw
            continue
        yield line, [fields[p].strip() for p in positions], raw


def _movies(path: Path) -> tuple[dict[str, tuple[int, str, dict[str, Any]]], list[BadRow]]:
    movies: dict[str, tuple[int, str, dict[str, Any]]] = {}
    problems: list[BadRow] = []
    for line, fields, raw in _table(path, ("movieId", "title", "genres")):
        if isinstance(fields, str):
            problems.append(bad(path, line, fields, raw))
            continue
        movie_id, title, genres = fields
        if not movie_id:
            problems.append(bad(path, line, "movieId is empty", raw))
            continue
        metadata: dict[str, Any] = {"genres": split_genres(genres)}
        year = title_year(title)
        if year is not None:
            metadata["year"] = year
        movies[movie_id] = (line, title, metadata)
    return movies, problems


def _links(path: Path, movies: dict[str, Any], extra: dict[str, dict[str, Any]]) -> Iterator[BadRow]:
    if not path.is_file():
        return
    for line, fields, raw in _table(path, ("movieId", "imdbId", "tmdbId")):
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        movie_id, imdb, tmdb = fields
        # links.csv may cover a larger release than this movies.csv; such rows are not errors.
        if movie_id in movies:
            if imdb:
                extra[movie_id]["imdb_id"] = imdb
            if tmdb:
                extra[movie_id]["tmdb_id"] = tmdb


def _youtube(path: Path, movies: dict[str, Any], extra: dict[str, dict[str, Any]]) -> Iterator[BadRow]:
    if not path.is_file():
        return
    for line, fields, raw in _table(path, ("youtubeId", "movieId")):
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        youtube_id, movie_id = fields
        # The trailer list ships for ML-20M and names thousands of movies a smaller release lacks.
        if movie_id in movies and youtube_id:
            extra[movie_id].setdefault("youtube_id", youtube_id)


def _tags(path: Path, movies: dict[str, Any], extra: dict[str, dict[str, Any]]) -> Iterator[BadRow]:
    if not path.is_file():
        return
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for line, fields, raw in _table(path, ("movieId", "tag")):
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        movie_id, tag = fields
        if movie_id not in movies:
            # Tags are user data of the same release as ratings, so a stray id means a broken export.
            yield bad(path, line, f"tag for a movie not in movies.csv: {movie_id!r}", raw)
            continue
        tag = " ".join(tag.lower().split())
        if tag:
            counts[movie_id][tag] += 1
    for movie_id, counter in counts.items():
        # most_common keeps first-seen order among equal counts, so the list is deterministic.
        extra[movie_id]["tags"] = [tag for tag, _ in counter.most_common()]


def _ratings(path: Path) -> Iterator[Row | BadRow]:
    name = path.name
    for line, fields, raw in _table(path, ("userId", "movieId", "rating", "timestamp")):
        if isinstance(fields, str):
            yield bad(path, line, fields, raw)
            continue
        user, movie_id, rating, ts = fields
        try:
            record = EventRecord(
                user=user, item=movie_id, type="rating",
                value=parse_float(rating, "rating"), ts=parse_float(ts, "timestamp"),
            )
        except RecordError as exc:
            yield bad(path, line, str(exc), raw)
            continue
        yield Row(source=name, line=line, record=record)
