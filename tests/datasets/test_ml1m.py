from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.datasets import ImportFormatError, detect_format, import_path, load_dataset, ml1m
from mediarec.store import Store
from tests.conftest import shared_dataset
from tests.datasets.helpers import assert_bad_rows, write

MOVIES = (
    "movieId::title::genres\n"
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Café au lait (1993)::Comedy\n"
    "3::No Genre::\n"
).encode("latin-1")


def test_latin1_titles_header_skipped_and_ratings(tmp_path: Path) -> None:
    ratings = b"1::1::5::978300760\r\n1::2::3::978302109\r\n2::1::4::978301968\r\n"
    folder = write(tmp_path / "ml-1m", {"movies.dat": MOVIES, "ratings.dat": ratings, "users.dat": b"junk"})
    assert detect_format(folder) == "ml1m"
    ds = load_dataset(folder)
    assert ds.bad_rows == [], "the header line is skipped, not reported"
    assert [it.external_id for it in ds.items] == ["1", "2", "3"]
    assert ds.items[1].title == "Café au lait (1993)"
    assert ds.items[0].metadata == {"genres": ["Animation", "Children's", "Comedy"], "year": 1995}
    assert ds.items[2].metadata == {"genres": []}
    assert ds.events.users.tolist() == ["1", "1", "2"]
    assert ds.events.items.tolist() == ["1", "2", "1"]
    assert ds.events.values.tolist() == [5.0, 3.0, 4.0]
    assert ds.events.times.tolist() == [978300760.0, 978302109.0, 978301968.0]
    assert set(ds.events.types.tolist()) == {"rating"}


def test_movies_only_is_a_catalogue(tmp_path: Path) -> None:
    folder = write(tmp_path / "ml-1m", {"movies.dat": MOVIES})
    ds = load_dataset(folder)
    assert [it.external_id for it in ds.items] == ["1", "2", "3"] and len(ds.events) == 0


def test_corrupt_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    movies = MOVIES + b"4::Broken Title\n5::Nul\x00Title (2000)::Drama\n6::Fine (2001)::Drama\n"
    ratings = (
        b"1::1::5::978300760\n"  # 1 good
        b"1::2::3\n"  # 2 too few fields
        b"1::2::five::978302109\n"  # 3 rating not a number
        b"1::3::4::soon\n"  # 4 timestamp not a number
        b"1::3::4::97830\x002109\n"  # 5 NUL byte
        b"1::99::4::978302109\n"  # 6 movie not in movies.dat
        b"\n"  # blank: skipped silently
        b"2::6::2::978302110\n"  # 8 good
    )
    folder = write(tmp_path / "ml-1m", {"movies.dat": movies, "ratings.dat": ratings})
    expected = {
        ("movies.dat", 5): "expected 3 '::'-separated fields, got 2",
        ("movies.dat", 6): "NUL byte",
        ("ratings.dat", 2): "expected 4",
        ("ratings.dat", 3): "rating is not a number",
        ("ratings.dat", 4): "timestamp is not a number",
        ("ratings.dat", 5): "NUL byte",
        ("ratings.dat", 6): "unknown item '99'",
    }
    ds = load_dataset(folder)
    assert_bad_rows(ds.bad_rows, expected)
    assert [it.external_id for it in ds.items] == ["1", "2", "3", "6"]
    pairs = list(zip(ds.events.users.tolist(), ds.events.items.tolist(), strict=True))
    assert pairs == [("1", "1"), ("2", "6")]

    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        stored = {(b.source, b.line) for b in store.import_errors(report.run_id)}
        assert stored == expected.keys()
        assert store.counts()["items"] == 4 and store.counts()["interactions"] == 2
        again = import_path(store, folder)
        assert again.events_new == 0 and again.events_already_stored == 2 == again.events_read - 1


def test_split_folder_is_not_ml1m(tmp_path: Path) -> None:
    folder = write(tmp_path / "split", {"movies.dat": MOVIES, "train.txt": b"0 1\n"})
    assert not ml1m.detect(folder)
    with pytest.raises(ImportFormatError, match=r"movies\.dat"):
        load_dataset(write(tmp_path / "empty", {"ratings.dat": b"1::1::5::1\n"}), fmt="ml1m")


@pytest.mark.shared_data
def test_shared_movies_dat_with_header() -> None:
    # The ml-1m-llm folder is a split, but its movies.dat is a full ML-1M catalogue.
    path = shared_dataset("ml-1m-llm")
    ds = load_dataset(path, fmt="ml1m")
    assert ds.bad_rows == []
    assert len(ds.items) == 3883 and len(ds.events) == 0
    titles = {it.external_id: it.title for it in ds.items}
    assert titles["1"] == "Toy Story (1995)"
    assert any("é" in t for t in titles.values()), "latin-1 accents decode"
