from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.datasets import ImportFormatError, detect_format, generic, import_path, load_dataset
from mediarec.store import Store
from tests.datasets.helpers import assert_bad_rows, write

ITEMS = "id,title,kind,duration,tags,creator,lang\na,Alpha,video,60,news|sport,c1,en\nb,Beta,audio,,,,\n"


def test_csv_items_and_events(tmp_path: Path) -> None:
    events = (
        "user,item,type,value,timestamp,fold\n"
        "u1,a,view,0.5,2024-01-02T00:00:00,train\n"
        "u1,b,rating,4,1700000000,test\n"
        "u2,a,,,,train\n"
    )
    folder = write(tmp_path / "g", {"items.csv": ITEMS, "interactions.csv": events})
    assert detect_format(folder) == "generic"
    ds = load_dataset(folder)
    assert ds.bad_rows == []
    alpha, beta = ds.items
    assert (alpha.title, alpha.kind, alpha.duration, alpha.creator) == ("Alpha", "video", 60.0, "c1")
    assert alpha.metadata == {"tags": ["news", "sport"], "lang": "en"}
    assert (beta.kind, beta.duration, beta.metadata) == ("audio", None, {})
    assert ds.events.types.tolist() == ["view", "rating", "view"]
    assert ds.events.times.tolist() == [1704153600.0, 1700000000.0, 0.0]
    assert ds.events.folds.tolist() == ["train", "test", "train"] and ds.has_folds


def test_jsonl_items_and_events(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "g",
        {
            "items.jsonl": '{"id": "a", "title": "Alpha", "tags": ["x"], "metadata": {"year": 2001}}'
            "\n\n[1]\n",
            "interactions.jsonl": '{"user": "u", "item": "a", "type": "like", "timestamp": 5}\n{oops\n',
        },
    )
    ds = load_dataset(folder)
    assert ds.items[0].metadata == {"year": 2001, "tags": ["x"]}
    assert ds.events.types.tolist() == ["like"]
    assert [(b.source, b.line) for b in ds.bad_rows] == [("items.jsonl", 3), ("interactions.jsonl", 2)]
    assert "must be an object" in ds.bad_rows[0].reason and "not valid JSON" in ds.bad_rows[1].reason


def test_corrupt_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    events = (
        b"user,item,type,value,timestamp\n"
        b"u1,a,view,0.5,1\n"  # 2 good
        b"u1,a,view\n"  # 3 wrong field count
        b"u1,a,rating,lots,2\n"  # 4 value not a number
        b"u\xc3(,a,view,,3\n"  # 5 not utf-8
        b"u1,a,view,,4\x00\n"  # 6 NUL byte
        b"u1,a,purchase,,5\n"  # 7 unknown event type
        b"u1,zz,view,,6\n"  # 8 unknown item
        b"u1,a,view,1.5,7\n"  # 9 watch fraction out of range
        b"u2,b,like,,8\n"  # 10 good
    )
    items = ITEMS + ",Nameless,video,,,,\nc,Gamma,film,,,,\n"
    folder = write(tmp_path / "g", {"items.csv": items, "interactions.csv": events})
    expected = {
        ("items.csv", 4): "missing required field 'id'",
        ("items.csv", 5): "item kind must be one of video, audio",
        ("interactions.csv", 3): "expected 5 fields",
        ("interactions.csv", 4): "value is not a number",
        ("interactions.csv", 5): "not valid text",
        ("interactions.csv", 6): "NUL byte",
        ("interactions.csv", 7): "event type must be one of",
        ("interactions.csv", 8): "unknown item 'zz'",
        ("interactions.csv", 9): "watch fraction must lie in [0, 1]",
    }
    ds = load_dataset(folder)
    assert_bad_rows(ds.bad_rows, expected)
    assert ds.events.users.tolist() == ["u1", "u2"] and [it.external_id for it in ds.items] == ["a", "b"]

    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        errors = store.import_errors(report.run_id)
        assert {(b.source, b.line) for b in errors} == expected.keys()
        raw = {(b.source, b.line): b.raw for b in errors}
        assert raw["interactions.csv", 5] == "u\ufffd(,a,view,,3"
        assert store.counts()["interactions"] == 2 and store.counts()["items"] == 2
        counts = store.counts()
        again = import_path(store, folder)
        assert store.counts() == counts
        assert again.items_new == 0 and again.events_new == 0
        assert again.events_already_stored == again.events_read - 1 == 2  # minus the unknown item


def test_events_only_source_names_items_in_memory_and_in_the_store(tmp_path: Path) -> None:
    folder = write(tmp_path / "g", {"interactions.csv": "user,item\nu1,a\nu1,b\n"})
    ds = load_dataset(folder)
    assert ds.bad_rows == [] and sorted(ds.item_ids.tolist()) == ["a", "b"]
    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        assert report.bad_rows == [] and report.events_new == 2
        assert store.counts()["items"] == 2


def test_byte_order_mark_does_not_hide_the_first_column(tmp_path: Path) -> None:
    folder = write(tmp_path / "g", {"items.csv": "\ufeff" + ITEMS})
    ds = load_dataset(folder)
    assert ds.bad_rows == [] and [it.external_id for it in ds.items] == ["a", "b"]


def test_single_file_and_misnamed_file(tmp_path: Path) -> None:
    folder = write(tmp_path / "g", {"items.csv": ITEMS, "other.csv": "id\nx\n"})
    assert generic.detect(folder / "items.csv")
    ds = load_dataset(folder / "items.csv")
    assert len(ds.items) == 2 and len(ds.events) == 0
    assert not generic.detect(folder / "other.csv")
    with pytest.raises(ImportFormatError, match="items"):
        load_dataset(folder / "other.csv", fmt="generic")
