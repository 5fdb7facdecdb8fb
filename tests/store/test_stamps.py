"""The serving stamps remembered between commits (store/stamps.py): a commit by anyone, in this
process or another, is seen at the next read; without one the store is not asked again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "db.sqlite")
    store.upsert_items([ItemRecord("a", "Alpha"), ItemRecord("b", "Beta")])
    store.add_events([EventRecord("u1", "a", "view", None, time.time())])
    return store


def test_unchanged_store_answers_from_memory(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        first = store.serving_stamps("u1")
        memo = store._stamp_memo()
        assert memo is not None
        reads = memo.reads
        for _ in range(5):
            assert store.serving_stamps("u1") == first
        assert memo.reads == reads  # not read again: nothing was committed


def test_a_commit_through_another_connection_is_seen_at_once(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        before = store.serving_stamps("u1")
        store.add_events([EventRecord("u1", "b", "view", None, time.time())])  # this thread's connection
        after = store.serving_stamps("u1")
        assert after[3] == before[3] + 1 and after[4] > before[4]
        store.delete_user("u1")
        gone = store.serving_stamps("u1")
        assert gone[0] != after[0] and gone[1] is None


def test_a_commit_by_another_process_is_seen_at_once(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        before = store.serving_stamps("u1")
        code = (
            "import sys, time; from mediarec.store import Store; from mediarec.records import EventRecord\n"
            "with Store(sys.argv[1]) as s: s.add_events([EventRecord('u1', 'b', 'like', None, time.time())])"
        )
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "db.sqlite")], check=True, timeout=60)
        after = store.serving_stamps("u1")
        assert after[3] == before[3] + 1
