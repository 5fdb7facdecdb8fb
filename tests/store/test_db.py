from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from mediarec.records import EventRecord, ItemRecord, RecordError
from mediarec.store import Store, StoreError, path_from_url
from mediarec.store.migrations import MIGRATIONS


@pytest.fixture
def store(store_url: str) -> Store:
    s = Store(store_url)
    s.upsert_items([ItemRecord("a", "Alpha", creator="c1"), ItemRecord("b", "Beta", kind="audio")])
    return s


def test_wal_mode_and_schema_version(store: Store, sqlite_only: None) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == len(MIGRATIONS)


def test_reopening_does_not_migrate_twice(store: Store, store_url: str) -> None:
    store.close()
    again = Store(store_url)
    assert again.counts()["items"] == 2


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer than this mediarec"):
        Store(path)


def test_upsert_items_is_idempotent_and_updates(store: Store) -> None:
    assert store.upsert_items([ItemRecord("a", "Alpha 2", metadata={"x": 1})]) == 0
    item = store.get_item("a")
    assert item is not None and item.title == "Alpha 2" and item.metadata == {"x": 1}
    assert item.creator == "c1", "a partial update keeps fields it does not name"
    assert store.counts()["items"] == 2


def test_events_are_deduplicated_and_unknown_items_rejected(store: Store) -> None:
    events = [EventRecord("u1", "a", "view", 0.5, 10.0), EventRecord("u1", "zz", "like", None, 11.0)]
    inserted, rejected = store.add_events(events)
    assert inserted == 1 and rejected == [(1, "unknown item 'zz'")]
    inserted, _ = store.add_events(events[:1])
    assert inserted == 0
    assert store.counts()["interactions"] == 1


def test_create_missing_items(store: Store) -> None:
    inserted, rejected = store.add_events(
        [EventRecord("u1", "new", "view", None, 1.0)], create_missing_items=True
    )
    assert inserted == 1 and not rejected
    assert store.get_item("new") is not None


def test_event_columns_and_seen(store: Store) -> None:
    store.add_events([EventRecord("u1", "a", "view", 0.5, 10.0), EventRecord("u2", "b", "skip", None, 12.0)])
    cols = store.event_columns()
    assert sorted(cols.users.tolist()) == ["u1", "u2"]
    assert np.isnan(cols.values[cols.types == "skip"]).all()
    assert store.seen_items("u2") == {"b"}
    assert [e.item for e in store.user_events("u1")] == ["a"]


def test_delete_user_cascades(store: Store) -> None:
    store.add_events([EventRecord("u1", "a", "view", 0.5, 10.0), EventRecord("u1", "b", "like", None, 11.0)])
    assert store.delete_user("u1") == 2
    assert store.counts()["interactions"] == 0 and not store.user_exists("u1")
    assert store.delete_user("u1") == 0


def test_feature_versions_accumulate(store: Store) -> None:
    store.add_feature("a", "text", "v1", {"k": 1}, np.ones(4))
    store.add_feature("a", "text", "v2", {"k": 2}, np.zeros(4))
    store.add_feature("a", "text", "v2", {"k": 3}, np.zeros(4))
    assert store.feature_versions("a", "text") == ["v1", "v2"]
    latest = store.latest_feature("a", "text")
    assert latest is not None and latest[0] == "v2" and latest[1] == {"k": 3}
    with pytest.raises(StoreError):
        store.add_feature("missing", "text", "v1")


def test_features_of_a_batch_are_stored_together_or_not_at_all(store: Store) -> None:
    store.add_features([("a", "text", "v1", {"k": 1}, np.ones(4)), ("b", "text", "v1", None, np.zeros(4))])
    assert store.feature_versions("a", "text") == ["v1"] and store.feature_versions("b", "text") == ["v1"]
    with pytest.raises(StoreError, match="missing"):
        store.add_features([("a", "audio", "v1", {}, None), ("missing", "audio", "v1", {}, None)])
    assert store.feature_versions("a", "audio") == [], "the batch failed as a whole"
    store.add_features([])


def test_list_items_filters_and_escapes(store: Store) -> None:
    store.upsert_items([ItemRecord("c", "100% pure_fun")])
    assert [i.external_id for i in store.list_items(kind="audio")] == ["b"]
    assert [i.external_id for i in store.list_items(creator="c1")] == ["a"]
    assert [i.external_id for i in store.list_items(query="100%")] == ["c"]
    assert store.list_items(query="%") == [] or all("%" in i.title for i in store.list_items(query="%"))
    assert store.count_items() == 3 and len(store.list_items(limit=2, offset=2)) == 1


def test_records_validate() -> None:
    with pytest.raises(RecordError):
        ItemRecord("x", kind="image")
    with pytest.raises(RecordError):
        EventRecord("u", "i", "view", 1.5)
    with pytest.raises(RecordError):
        EventRecord("u", "i", "teleport")


def test_store_urls() -> None:
    assert path_from_url("sqlite:///rel/db.sqlite") == Path("rel/db.sqlite")
    assert path_from_url("sqlite:////abs/db.sqlite") == Path("/abs/db.sqlite")
    with pytest.raises(StoreError, match="not supported"):
        path_from_url("mysql://host/db")


def test_catalogue_upserts_keep_the_probed_kind_and_duration_of_ingested_files(store_url: str) -> None:
    store = Store(store_url)
    store.register_media("abc123", ItemRecord(external_id="clip", title="Clip", kind="video", duration=17.0))
    store.upsert_items([ItemRecord(external_id="clip", title="Clip (renamed)", kind="audio", duration=600.0)])
    stored = store.get_item("clip")
    assert stored is not None
    assert (stored.title, stored.kind, stored.duration) == ("Clip (renamed)", "video", 17.0)
    store.upsert_items([ItemRecord(external_id="plain", title="P", duration=60.0)])
    store.upsert_items([ItemRecord(external_id="plain", title="P", duration=90.0)])
    assert store.get_item("plain").duration == 90.0  # type: ignore[union-attr]


def test_deleting_a_user_moves_the_stamp_and_cleans_up_on_both_backends(store: Store) -> None:
    store.add_events([EventRecord("u1", "a", "view", 0.5, 10.0), EventRecord("u2", "b", "like", None, 11.0)])
    stamp = store.deletion_stamp()
    assert store.delete_user("u1") == 1
    assert store.deletion_stamp() == stamp + 1, "the trigger (SQLite) / trigger function (PostgreSQL) ran"
    assert store.delete_user("u1") == 0 and store.deletion_stamp() == stamp + 1
    if store.dialect.postgresql:
        # The dead row versions were vacuumed right away, not left for autovacuum.
        vacuumed = store.conn.execute(
            "SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'interactions'"
        ).fetchone()[0]
        assert vacuumed is not None
    else:
        assert (store.path.parent / (store.path.name + "-wal")).stat().st_size == 0  # checkpointed


def test_a_negative_limit_lists_every_item_on_both_backends(store: Store) -> None:
    # `mediarec demo` and training list the whole catalogue with limit=-1; PostgreSQL refused it.
    store.upsert_items([ItemRecord(f"i{n}", f"Item {n}") for n in range(7)])
    every = [i.external_id for i in store.list_items(limit=-1)]
    assert len(every) == store.counts()["items"] > 7 and every[-7:] == [f"i{n}" for n in range(7)]
    assert [i.external_id for i in store.list_items(limit=-1, offset=len(every) - 2)] == ["i5", "i6"]
