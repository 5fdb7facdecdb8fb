"""Stored taste profiles: migration 2, versions, edits, and deletion with the user."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store.db import _split_sql
from mediarec.store.migrations import MIGRATIONS
from mediarec.store.profiles import UnknownUserError

INTERESTS = [
    {"tag": "jazz", "weight": 1.0, "source": "llm"},
    {"tag": "piano", "weight": 0.4, "source": "llm"},
]


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store(store_url)
    s.upsert_items([ItemRecord("a", "Alpha"), ItemRecord("b", "Beta")])
    s.add_events([EventRecord("u1", "a", "view", 0.5, 1.0), EventRecord("u2", "b", "like", None, 2.0)])
    return s


def _count(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_version_1_database_gains_the_profile_tables_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    for statement in _split_sql(MIGRATIONS[0]):
        con.execute(statement)
    con.execute("INSERT INTO users (external_id, created) VALUES ('old-user', 1.0)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS) >= 2
    assert store.user_exists("old-user")
    saved = store.profiles.add("old-user", "You like jazz.", INTERESTS, "m", "profile/1", "h1")
    assert saved.version == 1 and saved.interests == tuple(INTERESTS)


def test_versions_count_up_per_user(store: Store) -> None:
    for n in range(3):
        store.profiles.add("u1", f"text {n}", INTERESTS, "m", "profile/1", f"h{n}")
    store.profiles.add("u2", "other", [], "m", "profile/1", "x")
    assert [p.version for p in store.profiles.versions("u1")] == [1, 2, 3]
    latest = store.profiles.latest("u1")
    assert latest is not None and latest.text == "text 2" and latest.input_hash == "h2"
    assert store.profiles.latest("u2").version == 1  # type: ignore[union-attr]
    assert store.profiles.latest("u3") is None and store.profiles.count() == 2
    with pytest.raises(UnknownUserError):
        store.profiles.add("nobody", "x", [], "m", "profile/1", "h")


def test_edits_accumulate_and_the_last_word_on_a_tag_wins(store: Store) -> None:
    assert store.profiles.edits("u1") is None
    store.profiles.edit("u1", text="Mine.", add_tags=["opera"], remove_tags=["jazz"])
    store.profiles.add("u1", "generated", INTERESTS, "m", "profile/1", "h")  # regeneration
    e = store.profiles.edit("u1", add_tags=["jazz", "opera"])
    assert (e.text, e.added, e.removed) == ("Mine.", ("opera", "jazz"), ())
    e = store.profiles.edit("u1", text="", remove_tags=["opera"])
    assert (e.text, e.added, e.removed) == (None, ("jazz",), ("opera",))
    assert store.profiles.edits("u1") == e
    with pytest.raises(UnknownUserError):
        store.profiles.edit("nobody", text="x")


def test_deleting_the_profile_keeps_the_user_and_events(store: Store) -> None:
    store.profiles.add("u1", "t", INTERESTS, "m", "profile/1", "h1")
    store.profiles.add("u1", "t2", INTERESTS, "m", "profile/1", "h2")
    store.profiles.edit("u1", add_tags=["opera"])
    deleted = store.profiles.delete("u1")
    assert (deleted.versions, deleted.edits) == (2, 1)
    assert set(deleted.result_keys) == {("m", "profile/1", "h1"), ("m", "profile/1", "h2")}
    assert store.profiles.latest("u1") is None and store.profiles.edits("u1") is None
    assert store.user_exists("u1") and store.user_events("u1")
    assert store.profiles.delete("nobody").versions == 0


def test_deleting_a_user_cascades_to_profiles_and_edits(store: Store) -> None:
    store.profiles.add("u1", "t", INTERESTS, "m", "profile/1", "h1")
    store.profiles.edit("u1", text="mine", add_tags=["opera"])
    store.profiles.add("u2", "kept", INTERESTS, "m", "profile/1", "h2")
    assert _count(store, "user_profiles") == 2 and _count(store, "user_profile_edits") == 1
    assert store.delete_user("u1") == 1
    assert _count(store, "user_profiles") == 1 and _count(store, "user_profile_edits") == 0
    assert store.profiles.latest("u2") is not None
    # A new user with the same external id starts without the old profile.
    store.add_events([EventRecord("u1", "a", "view", 1.0, 5.0)])
    assert store.profiles.latest("u1") is None and store.profiles.edits("u1") is None
