from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest

from mediarec.datasets import ImportFormatError, Row, detect_format, import_path, load_dataset, splitfile
from mediarec.records import EventRecord
from mediarec.store import Store
from tests.conftest import shared_dataset
from tests.datasets.helpers import write

# Remapped ids in the split files; the maps send them back to ML-1M ids.
ITEM_MAP = "1193 0\n661 1\n914 2\n"
USER_MAP = "1 0\n2 1\n"
MOVIES = "movieId::title::genres\n1193::One Flew (1975)::Drama\n661::Peach (1996)::Animation|Musical\n"


def full(tmp_path: Path, **override: str | bytes) -> Path:
    files: dict[str, str | bytes] = {
        "train.txt": "0 0 1\n1 2\n",
        "test.txt": "0 2\n1 0 1\n",
        "item_map.txt": ITEM_MAP,
        "user_map.txt": USER_MAP,
        "movies.dat": MOVIES,
        "llm_response_item.json": json.dumps({"1193": "A ward.", "914": "A lady.", "5": "Not in the split."}),
    }
    files.update(override)
    return write(tmp_path / "split", files)


def test_original_ids_titles_descriptions_and_folds(tmp_path: Path) -> None:
    folder = full(tmp_path)
    assert detect_format(folder) == "split", "train.txt wins over movies.dat"
    ds = load_dataset(folder)
    assert ds.bad_rows == []
    assert [it.external_id for it in ds.items] == ["1193", "661", "914"], "the map is the catalogue"
    one, peach, lady = ds.items
    assert one.title == "One Flew (1975)"
    assert one.metadata == {"genres": ["Drama"], "year": 1975, "description": "A ward."}
    assert peach.metadata == {"genres": ["Animation", "Musical"], "year": 1996}
    assert (lady.title, lady.metadata) == ("", {"description": "A lady."})
    ev = ds.events
    assert ev.users.tolist() == ["1", "1", "2", "1", "2", "2"]
    assert ev.items.tolist() == ["1193", "661", "914", "914", "1193", "661"]
    assert ev.folds.tolist() == ["train", "train", "train", "test", "test", "test"]
    assert ds.has_folds
    assert set(ev.types.tolist()) == {"view"} and np.isnan(ev.values).all()
    # Positions number each user's history, train then test: order kept, (user, item, ts) unique.
    assert ev.times.tolist() == [0.0, 1.0, 0.0, 2.0, 1.0, 2.0]


def test_without_maps_ids_are_as_written_and_items_implicit(tmp_path: Path) -> None:
    folder = write(tmp_path / "split", {"train.txt": "u1 a b\nu2 c\n", "test.txt": "u1 d\n"})
    ds = load_dataset(folder)
    assert ds.items == [] and ds.bad_rows == []
    assert ds.events.items.tolist() == ["a", "b", "c", "d"]
    assert sorted(ds.item_ids.tolist()) == ["a", "b", "c", "d"]
    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        assert report.bad_rows == [] and store.counts()["items"] == 4 and store.counts()["interactions"] == 4


def test_movies_dat_lists_items_when_there_is_no_map(tmp_path: Path) -> None:
    folder = write(tmp_path / "split", {"train.txt": "7 1193 42\n", "test.txt": "", "movies.dat": MOVIES})
    ds = load_dataset(folder)
    assert [it.external_id for it in ds.items] == ["1193", "661"]
    assert ds.bad_rows == [], "IMPLICIT_ITEMS: an event may name an item no listing has"
    assert ds.events.items.tolist() == ["1193", "42"]


def test_corrupt_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    folder = full(
        tmp_path,
        **{
            "train.txt": b"0 0 1\n1 2 9\n5 0\n0 \xff1\n1 0\x00\n",
            "item_map.txt": ITEM_MAP + "7\n1193 3\n",
            "llm_response_item.json": '{\n  "1193": "A ward.",\n  "914": 3\n}',
        },
    )
    expected = {
        ("item_map.txt", 4): "expected 'original_id remapped_id', got 1 fields",
        ("item_map.txt", 5): "original id '1193' is mapped twice",
        ("llm_response_item.json", 3): "description of item '914' is not text",
        ("train.txt", 2): "item '9' is not in item_map.txt",
        ("train.txt", 3): "user '5' is not in user_map.txt; its 1 events are skipped",
        ("train.txt", 4): "row is not valid text in the file's encoding",
        ("train.txt", 5): "row contains a NUL byte",
    }
    ds = load_dataset(folder)
    got = {(b.source, b.line): b.reason for b in ds.bad_rows}
    assert got == expected
    assert ds.events.items[ds.events.folds == "train"].tolist() == ["1193", "661", "914"]
    assert len(ds.items) == 3 and "description" not in ds.items[2].metadata

    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        assert {(b.source, b.line): b.reason for b in store.import_errors(report.run_id)} == expected
        counts = store.counts()
        assert counts["interactions"] == 6 and counts["items"] == 3
        again = import_path(store, folder)
        assert store.counts() == counts and again.events_already_stored == again.events_read == 6


def test_description_file_problems(tmp_path: Path) -> None:
    broken = full(tmp_path, **{"llm_response_item.json": '{\n  "1193": "A ward.",\n  oops\n}'})
    ds = load_dataset(broken)
    assert [(b.source, b.line) for b in ds.bad_rows] == [("llm_response_item.json", 3)]
    assert "invalid JSON" in ds.bad_rows[0].reason
    assert ds.items[0].title == "One Flew (1975)", "titles still load without descriptions"

    other = write(
        tmp_path / "other",
        {
            "train.txt": "0 0\n",
            "test.txt": "",
            "item_map.txt": "1193 0\n",
            "desc.json": '{"1193": "A ward."}',
        },
    )
    assert load_dataset(other).items[0].metadata == {"description": "A ward."}, "any single .json"

    descriptions = b'{\n"1193": "A ward.",\n"914": "A \xff lady."\n}'
    damaged = full(tmp_path / "d", **{"llm_response_item.json": descriptions})
    ds = load_dataset(damaged)
    assert [(b.source, b.line, b.reason) for b in ds.bad_rows] == [
        ("llm_response_item.json", 3, "row is not valid text in the file's encoding")
    ]
    assert [it.metadata.get("description") for it in ds.items] == ["A ward.", None, None]
    (other / "extra.json").write_text("{}")
    with pytest.raises(ImportFormatError, match=r"several \.json files"):
        load_dataset(other)


def test_fast_records_equal_normal_ones() -> None:
    fast = splitfile._view("u", "i", 3.0)
    normal = EventRecord(user="u", item="i", type="view", value=None, ts=3.0)
    assert fast == normal and hash(fast) == hash(normal)
    assert vars(fast).keys() == {f.name for f in dataclasses.fields(EventRecord)}
    row = splitfile._row("train.txt", 4, fast, "train")
    assert row == Row(source="train.txt", line=4, record=normal, fold="train")
    assert vars(row).keys() == {f.name for f in dataclasses.fields(Row)}


def test_needs_both_files(tmp_path: Path) -> None:
    folder = write(tmp_path / "split", {"train.txt": "0 0\n"})
    assert not splitfile.detect(folder)
    with pytest.raises(ImportFormatError, match=r"test\.txt"):
        load_dataset(folder, fmt="split")


@pytest.mark.shared_data
def test_shared_ml_1m_llm_split() -> None:
    path = shared_dataset("ml-1m-llm")
    assert detect_format(path) == "split"
    started = time.perf_counter()
    ds = load_dataset(path)
    elapsed = time.perf_counter() - started
    assert ds.bad_rows == []
    assert len(ds.items) == 3260
    folds = ds.events.folds
    assert int((folds == "train").sum()) == 801218 and int((folds == "test").sum()) == 197321
    assert len(np.unique(ds.events.users)) == 6040
    assert all(it.metadata.get("description") for it in ds.items), "every mapped movie has a description"
    items = {it.external_id: it for it in ds.items}
    assert items["1193"].title == "One Flew Over the Cuckoo's Nest (1975)"
    # ML-1M user 1's first rating is movie 1193 (remapped user 0, item 0 on train.txt's first line).
    assert ds.events.users[0] == "1" and ds.events.items[0] == "1193"
    pairs = np.char.add(np.char.add(ds.events.users, "|"), ds.events.items)
    assert len(np.unique(pairs)) == len(pairs), "no (user, item) twice: train and test are disjoint"
    assert elapsed < 30, f"~1M events took {elapsed:.1f}s"
