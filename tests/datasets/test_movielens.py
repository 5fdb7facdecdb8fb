from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mediarec.datasets import ImportFormatError, detect_format, import_path, load_dataset, movielens
from mediarec.records import ItemRecord
from mediarec.store import Store
from tests.conftest import shared_dataset
from tests.datasets.helpers import assert_bad_rows, write

MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children\n"
    '2,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama\n'
    "3,Untitled,(no genres listed)\n"
    "4,Babylon 5 (1994–1998) ,Sci-Fi\n"
)
RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n2,1,5,964983000\n"


def by_id(items: list[ItemRecord]) -> dict[str, ItemRecord]:
    return {it.external_id: it for it in items}


def test_items_events_and_side_files(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "ml",
        {
            "movies.csv": MOVIES,
            "ratings.csv": RATINGS,
            "links.csv": "movieId,imdbId,tmdbId\n1,0114709,862\n2,0112682,\n999,1,2\n",
            "tags.csv": (
                "userId,movieId,tag,timestamp\n"
                "1,1,Pixar,1\n2,1,fun,2\n3,1,pixar,3\n4,1,FUN,4\n5,1,pixar ,5\n6,1,toys,6\n7,2,dark,7\n"
            ),
            "ml-youtube.csv": "youtubeId,movieId,title\nK26_sDKnvMU,1,Toy Story (1995)\nzzz,12345,Other\n",
        },
    )
    assert detect_format(folder) == "movielens"
    ds = load_dataset(folder)
    assert ds.bad_rows == []
    items = by_id(ds.items)
    assert list(items) == ["1", "2", "3", "4"]
    toy = items["1"]
    assert toy.title == "Toy Story (1995)" and toy.kind == "video"
    assert toy.metadata["genres"] == ["Adventure", "Animation", "Children"]
    assert toy.metadata["year"] == 1995
    assert toy.metadata["imdb_id"] == "0114709" and toy.metadata["tmdb_id"] == "862"
    assert toy.metadata["youtube_id"] == "K26_sDKnvMU"
    # pixar x3, fun x2, toys x1: distinct, lower-cased, most frequent first.
    assert toy.metadata["tags"] == ["pixar", "fun", "toys"]
    city = items["2"]
    assert city.title.startswith("City of Lost Children, The") and city.metadata["year"] == 1995
    assert "tmdb_id" not in city.metadata and city.metadata["tags"] == ["dark"]
    assert items["3"].metadata == {"genres": []}, "no year, no genres, no side-file data"
    assert items["4"].metadata["year"] == 1994
    assert ds.events.users.tolist() == ["1", "1", "2"]
    assert ds.events.items.tolist() == ["1", "2", "1"]
    assert set(ds.events.types.tolist()) == {"rating"}
    assert ds.events.values.tolist() == [4.0, 3.5, 5.0]
    assert ds.events.times.tolist() == [964982703.0, 964981247.0, 964983000.0]
    assert not ds.has_folds


def test_corrupt_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    ratings = (
        b"userId,movieId,rating,timestamp\n"
        b"1,1,4.0,964982703\n"  # 2 good
        b"1,2,4.0\n"  # 3 too few fields
        b"1,2,great,964982703\n"  # 4 rating not a number
        b"1\xff,2,3.0,964982703\n"  # 5 not utf-8
        b"1,2,3.0,9649\x0082703\n"  # 6 NUL byte
        b"1,77,3.0,964982703\n"  # 7 movie not in movies.csv
        b"2,2,3.0,964982704\n"  # 8 good
    )
    tags = "userId,movieId,tag,timestamp\n1,1,fine,1\n1,42,orphan,2\n"
    folder = write(tmp_path / "ml", {"movies.csv": MOVIES, "ratings.csv": ratings, "tags.csv": tags})
    expected = {
        ("ratings.csv", 3): "expected 4 fields",
        ("ratings.csv", 4): "rating is not a number",
        ("ratings.csv", 5): "not valid text",
        ("ratings.csv", 6): "NUL byte",
        ("ratings.csv", 7): "unknown item '77'",
        ("tags.csv", 3): "not in movies.csv",
    }

    ds = load_dataset(folder)
    assert_bad_rows(ds.bad_rows, expected)
    assert ds.events.items.tolist() == ["1", "2"] and ds.events.users.tolist() == ["1", "2"]
    assert by_id(ds.items)["1"].metadata["tags"] == ["fine"]

    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        stored = {(b.source, b.line): b.reason for b in store.import_errors(report.run_id)}
        assert stored.keys() == expected.keys()
        assert {(b.source, b.line) for b in report.bad_rows} == expected.keys()
        assert store.counts()["interactions"] == 2 and store.counts()["items"] == 4
        assert report.events_read == 3 and report.events_new == 2
        raw = {b.line: b.raw for b in store.import_errors(report.run_id) if b.source == "ratings.csv"}
        assert raw[4] == "1,2,great,964982703", "the raw text is kept for the user to fix"
        assert raw[5] == "1\ufffd,2,3.0,964982703", "undecodable bytes are shown, not fatal to the import"


def test_reimport_adds_nothing(tmp_path: Path) -> None:
    folder = write(tmp_path / "ml", {"movies.csv": MOVIES, "ratings.csv": RATINGS})
    with Store(tmp_path / "db.sqlite") as store:
        first = import_path(store, folder)
        counts = store.counts()
        second = import_path(store, folder)
        assert store.counts() == counts
        assert first.events_new == 3 and second.events_new == 0 and second.items_new == 0
        assert second.events_already_stored == second.events_read == 3
        stored = store.get_item("1")
        assert stored is not None and stored.metadata["year"] == 1995


def test_missing_file_and_bad_header_fail_the_whole_input(tmp_path: Path) -> None:
    only_movies = write(tmp_path / "a", {"movies.csv": MOVIES})
    assert not movielens.detect(only_movies)
    with pytest.raises(ImportFormatError, match=r"ratings\.csv"):
        load_dataset(only_movies, fmt="movielens")
    bad_header = write(tmp_path / "b", {"movies.csv": MOVIES, "ratings.csv": "user,movie,stars\n1,1,4\n"})
    with pytest.raises(ImportFormatError, match="header lacks userId"):
        load_dataset(bad_header)


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("Heat (1995)", 1995),
        ("Heat (1995) ", 1995),
        ("Babylon 5 (1994–1998)", 1994),
        ("1984", None),
        ("Nineteen Eighty-Four (1984) x", None),
    ],
)
def test_title_year(title: str, year: int | None) -> None:
    assert movielens.title_year(title) == year


@pytest.mark.shared_data
def test_shared_ml_latest_small() -> None:
    path = shared_dataset("movielens-latest-small")
    assert detect_format(path) == "movielens"
    ds = load_dataset(path)
    assert ds.bad_rows == []
    assert len(ds.items) == 9742 and len(ds.events) == 100836
    assert len(np.unique(ds.events.users)) == 610
    toy = by_id(ds.items)["1"]
    assert toy.metadata["imdb_id"] == "114709" and toy.metadata["tmdb_id"] == "862"
    assert toy.metadata["youtube_id"] == "K26_sDKnvMU" and toy.metadata["year"] == 1995
    # Recount one movie's tags independently of the importer.
    with open(path / "tags.csv", newline="", encoding="utf-8") as fh:
        tags = [r["tag"] for r in csv.DictReader(fh) if r["movieId"] == "1"]
    counts = Counter(" ".join(t.lower().split()) for t in tags)
    assert toy.metadata["tags"][0] == counts.most_common(1)[0][0]
    assert sorted(toy.metadata["tags"]) == sorted(counts)
    with open(path / "movies.csv", newline="", encoding="utf-8") as fh:
        no_genres = {r["movieId"] for r in csv.DictReader(fh) if r["genres"] in ("(no genres listed)", "")}
    assert len(no_genres) == 35  # 34 "(no genres listed)" and one row (162982) with an empty field
    assert {it.external_id for it in ds.items if it.metadata["genres"] == []} == no_genres
    first = ds.events.subset(ds.events.users == "1")
    assert first.items[0] == "1" and first.values[0] == 4.0 and first.times[0] == 964982703.0
