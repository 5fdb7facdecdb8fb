"""Deleting a user leaves no byte of them in any file of the home: the database and its WAL, the LLM
cache and its WAL, every saved model version. The files are read raw, the way someone with the disk
would read them, not through SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mediarec.engine import MediaRec
from mediarec.llm.cache import ResultCache
from mediarec.records import EventRecord
from tests.users.helpers import GOOD, ITEMS, FakeProfileBackend

USER = "zq-erase-user-4471"
WORD = "zqmarmaladexylophone"  # a word of the user's comment, found nowhere else
EMAIL = "zq.erasure@example.org"
PHONE = "+44 20 7946 0958"
EDIT = "Only zqquokka documentaries, please."
PROFILE = GOOD["profile"]  # nobody else gets a profile, so the generated text is the user's alone


def _files(home: Path) -> Iterator[Path]:
    return (p for p in sorted(home.rglob("*")) if p.is_file())


def _traces(home: Path, needles: list[str]) -> list[str]:
    """Each (file, needle, encoding) found: UTF-8 as SQLite stores text, UTF-16/32 as NumPy does."""
    found = []
    for path in _files(home):
        data = path.read_bytes()
        for needle in needles:
            for encoding in ("utf-8", "utf-16-le", "utf-32-le"):
                if needle.encode(encoding) in data:
                    found.append(f"{path.relative_to(home)}: {needle!r} ({encoding})")
    return found


def _populated(home: Path) -> MediaRec:
    engine = MediaRec(home, llm=FakeProfileBackend([GOOD]))
    engine.add_items(ITEMS)
    t = 1_700_000_000.0
    # Other users fill several pages, so the user's rows sit among theirs, not alone in a page.
    crowd = [
        EventRecord(f"crowd-{u:03d}", ITEMS[(u + k) % len(ITEMS)].external_id, "view", 0.8, t + u * 10 + k)
        for u in range(150)
        for k in range(3)
    ]
    mine = [
        EventRecord(USER, "pasta", "view", 0.9, t + 1),
        EventRecord(USER, "pasta", "like", None, t + 2),
        EventRecord(USER, "bread", "view", 1.0, t + 3),
        EventRecord(USER, "jazz", "view", 0.7, t + 4),
        EventRecord(USER, "bread", "comment", None, t + 5, f"{WORD} tips! Mail {EMAIL} or call {PHONE} " * 3),
    ]
    engine.add_events(crowd[:200] + mine + crowd[200:])
    engine.train("als", factors=4, iterations=2)
    engine.train("itemknn")
    engine.regenerate_profile(USER)  # a profile version and a cached LLM answer
    engine.edit_profile(USER, text=EDIT, add_tags=["zqtagopera"])
    assert engine.recommend(USER, n=3)
    return engine


def test_deleting_a_user_leaves_no_trace_in_any_file_of_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine = _populated(home)
    needles = [USER, WORD, EDIT, PROFILE, "zqtagopera"]
    before = _traces(home, needles)
    # The scan sees the user where they are (the WAL, the cache, the models), so its silence later
    # means something.
    assert any(USER in t and "mediarec.db" in t for t in before), before
    assert any(USER in t and "models/als" in t for t in before), before
    assert any(PROFILE in t and "llm-cache" in t for t in before), before
    assert any(WORD in t for t in before) and any(EDIT in t for t in before)
    # Comments are stored scrubbed (item 8): the address and number never reach a file at all.
    assert not _traces(home, [EMAIL, PHONE, "7946"])

    # A reader on another connection, as a server's request threads have.
    other = MediaRec(home)
    assert other.store.user_exists(USER)
    result = engine.delete_user(USER)
    assert result["events_deleted"] == 5 and result["models_scrubbed"] == 2
    # Checked with both engines still open (a running server), then after a clean stop.
    assert _traces(home, needles) == []
    assert not other.store.user_exists(USER) and other.store.counts()["users"] == 150
    other.close()
    engine.close()
    assert _traces(home, needles) == []
    # The rewritten models and the rest of the data still work.
    again = MediaRec(home)
    assert again.recommend("crowd-001", n=3)
    assert again.store.counts()["users"] == 150
    with ResultCache(again.llm_cache_dir) as cache:
        assert len(cache) == 0
    again.close()


def test_leftover_model_folders_that_hold_the_user_are_removed(tmp_path: Path) -> None:
    """A scrub that died between its two renames leaves ``.old-*``; a save that died leaves
    ``.tmp-*``. Neither is served, but both hold the user, so deletion removes them."""
    import os
    import shutil
    import time

    home = tmp_path / "home"
    engine = _populated(home)
    version = home / "models" / "als" / "0001"
    crashed_scrub = version.parent / ".old-0123"
    crashed_save = version.parent / ".tmp-4567"
    shutil.copytree(version, crashed_scrub)
    shutil.copytree(version, crashed_save)
    hour_ago = time.time() - 3600
    os.utime(crashed_save, (hour_ago, hour_ago))
    engine.delete_user(USER)
    assert not crashed_scrub.exists() and not crashed_save.exists()
    assert _traces(home, [USER]) == []
    engine.close()


def test_a_reader_holding_the_wal_delays_the_checkpoint_but_does_not_cancel_it(tmp_path: Path) -> None:
    """A server's request thread in the middle of a read keeps the WAL from being truncated; the
    deletion returns anyway, and the WAL is emptied as soon as the reader is done."""
    import sqlite3
    import time

    home = tmp_path / "home"
    engine = _populated(home)
    reader = sqlite3.connect(home / "mediarec.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM users").fetchone()[0] == 151  # holds its snapshot
    started = time.monotonic()
    engine.delete_user(USER)
    assert time.monotonic() - started < 10
    assert _traces(home, [USER])  # still there: the reader may need those pages
    reader.execute("COMMIT")
    reader.close()
    deadline = time.monotonic() + 10
    while _traces(home, [USER]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _traces(home, [USER]) == []
    engine.close()
