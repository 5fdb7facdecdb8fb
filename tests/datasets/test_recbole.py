from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from mediarec.datasets import ImportFormatError, detect_format, import_path, load_dataset, recbole
from mediarec.store import Store
from tests.conftest import shared_dataset
from tests.datasets.helpers import assert_bad_rows, write

INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "196\t1\t3\t881250949\n"
    "186\t2\t4.5\t891717742\n"
)
ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\tscore:float\tembed:float_seq\n"
    "1\tToy Story\t1995\tAnimation Children's Comedy\t0.5\t1 2.5\n"
    "2\tGoldenEye\t\tAction\t\t\n"
)


def test_items_metadata_and_rating_events(tmp_path: Path) -> None:
    folder = write(tmp_path / "rb", {"x.inter": INTER, "x.item": ITEM, "x.user": "user_id:token\n1\n"})
    assert detect_format(folder) == "recbole"
    ds = load_dataset(folder)
    assert ds.bad_rows == []
    toy, golden = ds.items
    assert (toy.external_id, toy.title, golden.title) == ("1", "Toy Story", "GoldenEye")
    assert toy.metadata == {
        "release_year": "1995",
        "year": 1995,
        "genres": ["Animation", "Children's", "Comedy"],
        "score": 0.5,
        "embed": [1.0, 2.5],
    }
    assert golden.metadata == {"genres": ["Action"]}, "empty fields are missing values"
    assert ds.events.users.tolist() == ["196", "186"]
    assert ds.events.types.tolist() == ["rating", "rating"]
    assert ds.events.values.tolist() == [3.0, 4.5]
    assert ds.events.times.tolist() == [881250949.0, 891717742.0]


def test_without_rating_events_are_views_and_file_can_be_given(tmp_path: Path) -> None:
    inter = "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t10\nu1\ti2\t11\n"
    item = "item_id:token\ttitle:token\ni1\tOne\n"
    folder = write(tmp_path / "rb", {"views.inter": inter, "views.item": item})
    ds = load_dataset(folder / "views.inter")
    assert ds.name.endswith("(recbole)")
    assert [it.title for it in ds.items] == ["One"], "the sibling .item file is read"
    assert ds.events.types.tolist() == ["view"]
    assert np.isnan(ds.events.values).all()
    assert [(b.line, b.reason) for b in ds.bad_rows] == [(3, "unknown item 'i2'")]


def test_inter_alone_names_items_implicitly(tmp_path: Path) -> None:
    folder = write(tmp_path / "rb", {"x.inter": INTER})
    ds = load_dataset(folder)
    assert ds.items == [] and ds.bad_rows == [] and len(ds.events) == 2
    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        assert report.bad_rows == [] and store.counts()["items"] == 2 and store.counts()["interactions"] == 2


def test_corrupt_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    inter = (
        INTER.encode()
        + b"1\t1\n"  # 4 too few fields
        + b"1\t1\thigh\t881250949\n"  # 5 rating not a number
        + b"1\xe9\t1\t3\t881250949\n"  # 6 not utf-8
        + b"1\t1\t3\t8812\x0050949\n"  # 7 NUL byte
        + b"1\t77\t3\t881250949\n"  # 8 unknown item
        + b"\t1\t3\t881250949\n"  # 9 empty user
        + b"7\t2\t3\t881250950\n"  # 10 good
    )
    item = ITEM + "\tNo Id\t1990\tDrama\t\t\n" + "9\tToo\tFew\n"
    folder = write(tmp_path / "rb", {"x.inter": inter, "x.item": item})
    expected = {
        ("x.item", 4): "item_id is empty",
        ("x.item", 5): "expected 6 tab-separated fields, got 3",
        ("x.inter", 4): "expected 4 tab-separated fields, got 2",
        ("x.inter", 5): "rating is not a number",
        ("x.inter", 6): "not valid text",
        ("x.inter", 7): "NUL byte",
        ("x.inter", 8): "unknown item '77'",
        ("x.inter", 9): "user id is empty",
    }
    ds = load_dataset(folder)
    assert_bad_rows(ds.bad_rows, expected)
    assert ds.events.users.tolist() == ["196", "186", "7"]

    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        assert {(b.source, b.line) for b in store.import_errors(report.run_id)} == expected.keys()
        assert store.counts()["interactions"] == 3
        counts = store.counts()
        again = import_path(store, folder)
        assert store.counts() == counts
        assert again.events_already_stored == 3 and again.events_new == 0


def test_whole_input_problems(tmp_path: Path) -> None:
    untyped = write(tmp_path / "a", {"x.inter": "user_id\titem_id\n1\t2\n"})
    with pytest.raises(ImportFormatError, match="name:type"):
        load_dataset(untyped)
    no_user = write(tmp_path / "b", {"x.inter": "uid:token\titem_id:token\n1\t2\n"})
    with pytest.raises(ImportFormatError, match="header lacks user_id"):
        load_dataset(no_user)
    several = write(tmp_path / "c", {"a.inter": INTER, "b.inter": INTER})
    with pytest.raises(ImportFormatError, match=r"several \.inter files"):
        load_dataset(several)
    assert not recbole.detect(write(tmp_path / "d", {"x.item": ITEM}))


@pytest.mark.shared_data
def test_shared_ml_100k_loads_and_imports(tmp_path: Path) -> None:
    path = shared_dataset("ml-100k")
    assert detect_format(path) == "recbole"
    ds = load_dataset(path)
    assert ds.bad_rows == []
    assert len(ds.items) == 1682 and len(ds.events) == 100000
    assert len(np.unique(ds.events.users)) == 943
    assert set(ds.events.values.tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    toy = ds.items[0]
    assert (toy.external_id, toy.title, toy.metadata["year"]) == ("1", "Toy Story", 1995)
    assert toy.metadata["genres"] == ["Animation", "Children's", "Comedy"]
    started = time.perf_counter()
    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, path)
        assert report.bad_rows == [] and report.events_new == 100000 and report.items_new == 1682
        assert store.counts()["users"] == 943
    assert time.perf_counter() - started < 60, "a 100k-row import should take seconds"
