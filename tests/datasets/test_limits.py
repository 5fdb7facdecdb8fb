"""The per-field limits of :mod:`mediarec.limits` hold in the importers: a per-row error, and the batch
goes on with every good row."""

from __future__ import annotations

import json
from pathlib import Path

from mediarec import limits
from mediarec.datasets import import_path, load_dataset
from mediarec.store import Store
from tests.datasets.helpers import assert_bad_rows, write


def test_generic_rows_beyond_a_limit_are_bad_rows_and_the_rest_loads(tmp_path: Path) -> None:
    items = [
        {"id": "ok-1", "title": "Fine"},
        {"id": "long-title", "title": "t" * (limits.MAX_TITLE_CHARS + 1)},  # line 2
        {"id": "many-tags", "tags": [f"t{i}" for i in range(limits.MAX_ITEM_TAGS + 1)]},  # 3
        {"id": "i" * (limits.MAX_ID_CHARS + 1)},  # 4
        {"id": "big-meta", "metadata": {"blob": "b" * limits.MAX_METADATA_BYTES}},  # 5
        {"id": "ok-2", "creator": "c" * limits.MAX_CREATOR_CHARS},
    ]
    events = [
        {"user": "u1", "item": "ok-1", "timestamp": 1_700_000_000},
        {"user": "u1", "item": "ok-2", "comment": "c" * (limits.MAX_COMMENT_CHARS + 1), "timestamp": 1},  # 2
        {"user": "u" * (limits.MAX_ID_CHARS + 1), "item": "ok-1", "timestamp": 2},  # 3
        {"user": "u2", "item": "ok-1", "timestamp": 1e18},  # 4
        {"user": "u2", "item": "ok-1", "timestamp": "2150-01-01T00:00:00"},  # 5
        {"user": "u2", "item": "ok-2", "timestamp": "2024-01-01T00:00:00", "comment": "fine"},
    ]
    folder = write(
        tmp_path / "g",
        {
            "items.jsonl": "\n".join(json.dumps(i) for i in items) + "\n",
            "interactions.jsonl": "\n".join(json.dumps(e) for e in events) + "\n",
        },
    )
    expected = {
        ("items.jsonl", 2): "title is 1,001 characters long; the limit is 1,000",
        ("items.jsonl", 3): "metadata.tags has 1,001 entries",
        ("items.jsonl", 4): "item id is 257 characters long",
        ("items.jsonl", 5): "metadata is",
        ("interactions.jsonl", 2): "comment is 5,001 characters long",
        ("interactions.jsonl", 3): "user id is 257 characters long",
        ("interactions.jsonl", 4): "timestamp",
        ("interactions.jsonl", 5): "timestamp",
    }
    assert_bad_rows(load_dataset(folder).bad_rows, expected)
    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        assert {(b.source, b.line) for b in store.import_errors(report.run_id)} == expected.keys()
        assert store.counts()["items"] == 2 and store.counts()["interactions"] == 2


def test_lone_surrogate_in_jsonl_is_a_bad_row(tmp_path: Path) -> None:
    lines = (
        '{"id": "a", "title": "ok"}\n'
        '{"id": "b", "title": "bad \\ud83d"}\n'
        '{"id": "c", "metadata": {"k": "\\udc00"}}\n'
    )
    folder = write(tmp_path / "g", {"items.jsonl": lines})
    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder)
        assert {(b.source, b.line) for b in report.bad_rows} == {("items.jsonl", 2), ("items.jsonl", 3)}
        assert store.counts()["items"] == 1


def test_movielens_item_with_too_many_tags_is_a_bad_row_not_an_aborted_import(tmp_path: Path) -> None:
    movies = "movieId,title,genres\n1,Toy Story (1995),Animation\n2,Jumanji (1995),Adventure\n"
    ratings = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.0,964982704\n"
    tags = "userId,movieId,tag,timestamp\n" + "".join(
        f"1,2,tag{i},964982705\n" for i in range(limits.MAX_ITEM_TAGS + 1)
    )
    folder = write(tmp_path / "ml", {"movies.csv": movies, "ratings.csv": ratings, "tags.csv": tags})
    with Store(tmp_path / "db.sqlite") as store:
        report = import_path(store, folder, "movielens")
        reasons = {(b.source, b.line): b.reason for b in report.bad_rows}
        assert "metadata.tags has 1,001 entries" in reasons["movies.csv", 3]
        assert store.get_item("1") is not None and store.get_item("2") is None
        assert store.counts()["interactions"] == 1  # the event on the refused item is refused too


def test_split_line_with_an_overlong_id_is_a_bad_row(tmp_path: Path) -> None:
    long_user = "u" * (limits.MAX_ID_CHARS + 1)
    folder = write(tmp_path / "s", {"train.txt": f"1 10 11\n{long_user} 10\n2 11\n", "test.txt": "1 12\n"})
    ds = load_dataset(folder)
    assert [(b.source, b.line) for b in ds.bad_rows] == [("train.txt", 2)]
    assert "longer than 256" in ds.bad_rows[0].reason
    assert sorted(set(ds.events.users.tolist())) == ["1", "2"]
