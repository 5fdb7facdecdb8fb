"""PostgreSQL's serving stamps remembered between commits (store/changes.py, store/stamps.py): a
write by any mediarec process of this host is seen before that write returns (the host's change
counter), a write by anyone else (another host; here a raw psycopg connection, which bumps no
counter) within ``BOUND_SECONDS`` (the trigger's notifications), and while the listen connection is
down nothing is answered from memory."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store.changes import BOUND_SECONDS, PgChanges
from mediarec.store.stamps import StampMemo

TABLES = ("interactions", "users", "user_profile_edits", "store_stamps", "items", "item_features")


def within(seconds: float, check: Callable[[], Any]) -> float | None:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            return None
        time.sleep(0.005)
    return time.monotonic() - start


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with Store(pg_url) as store:
        store.upsert_items([ItemRecord("a", "Alpha"), ItemRecord("b", "Beta"), ItemRecord("c", "Gamma")])
        store.add_events([EventRecord("u1", "a", "view", None, time.time())])
        yield store


def remembered(store: Store, user: str = "u1") -> tuple[Any, ...]:
    """The user's stamps once the listener is up and they are answered from memory."""
    assert within(5.0, lambda: store.serving_stamps(user) and store.peek_serving_stamps(user)) is not None, (
        "the stamps were never answered from memory"
    )
    found = store.peek_serving_stamps(user)
    assert found is not None
    return found


def memo_of(store: Store) -> StampMemo:
    memo = store._stamp_memo()
    assert memo is not None and isinstance(memo.source, PgChanges)
    return memo


def raw_event(url: str, user: str, item: str) -> None:
    """An event committed the way another host would: no mediarec process of this host knows."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(
            """INSERT INTO interactions (user_id, item_id, type, value, ts)
               SELECT u.id, i.id, 'view', NULL, extract(epoch FROM now())
               FROM users u, items i WHERE u.external_id = %s AND i.external_id = %s""",
            (user, item),
        )


def set_triggers(url: str, on: bool) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {table}_notify_change")


def test_unchanged_postgresql_store_answers_from_memory(store: Store) -> None:
    first = remembered(store)
    memo = memo_of(store)
    reads = memo.reads
    for _ in range(20):
        assert store.serving_stamps("u1") == first
        assert store.peek_serving_stamps("u1") == first
    assert memo.reads == reads  # no round trip: nothing was committed


def test_a_write_through_this_process_is_seen_at_once(pg_url: str, store: Store) -> None:
    set_triggers(pg_url, on=False)  # only the counter can tell
    before = remembered(store)
    store.add_events([EventRecord("u1", "b", "view", None, time.time())])
    assert store.peek_serving_stamps("u1") is None  # the counter moved before add_events returned
    after = store.serving_stamps("u1")
    assert after[3] == before[3] + 1


def test_a_write_by_another_process_of_this_host_is_seen_before_it_returns(pg_url: str, store: Store) -> None:
    # Notifications off: only the host's counter can tell, and it must do so before the writer's
    # call returns (so before any client of that process could have heard of the write).
    set_triggers(pg_url, on=False)
    before = remembered(store)
    code = (
        "import sys, time; from mediarec.store import Store; from mediarec.records import EventRecord\n"
        "with Store(sys.argv[1]) as s:\n"
        "    s.add_events([EventRecord('u1', 'b', 'view', None, time.time())])"
    )
    subprocess.run([sys.executable, "-c", code, pg_url], check=True, timeout=60)
    assert store.peek_serving_stamps("u1") is None
    after = store.serving_stamps("u1")
    assert after[3] == before[3] + 1 and after[4] > before[4]


def test_a_write_from_another_host_is_seen_within_the_bound(pg_url: str, store: Store) -> None:
    before = remembered(store)
    raw_event(pg_url, "u1", "c")
    committed = time.monotonic()
    seen = within(2 * BOUND_SECONDS, lambda: store.serving_stamps("u1")[3] == before[3] + 1)
    assert seen is not None and time.monotonic() - committed <= BOUND_SECONDS, seen
    # And it is answered from memory again afterwards.
    assert remembered(store)[3] == before[3] + 1


def test_a_broken_listen_connection_answers_nothing_from_memory(pg_url: str, store: Store) -> None:
    import psycopg

    before = remembered(store)
    changes = memo_of(store).source
    assert isinstance(changes, PgChanges)
    pid, generation = changes.listen_pid, changes.generation
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # Whatever the listener misses now must not be served: memory says "don't know" at once
        # or within the bound (the heartbeat stops proving it alive), and the store is read.
        assert (
            within(
                BOUND_SECONDS,
                lambda: store.peek_serving_stamps("u1") is None or changes.generation > generation,
            )
            is not None
        )
        raw_event(pg_url, "u1", "c")
    assert store.serving_stamps("u1")[3] == before[3] + 1
    # The thread reconnects (a new generation) and memory answers again.
    assert within(5.0, lambda: changes.generation > generation) is not None
    assert remembered(store)[3] == before[3] + 1


def test_a_removed_counter_file_means_dont_know_until_a_new_one_is_made(pg_url: str, store: Store) -> None:
    before = remembered(store)
    changes = memo_of(store).source
    assert isinstance(changes, PgChanges)
    changes.counter.path.unlink()  # as systemd's RemoveIPC may do to /dev/shm files
    # A writer that made a new file would be missed by a reader still on the old one: not served.
    assert store.peek_serving_stamps("u1") is None
    # The heartbeat thread maps the new file (a writer made it, or the thread does), and memory
    # answers again, now under the new file's identity.
    store.add_events([EventRecord("u1", "c", "view", None, time.time())])
    assert changes.counter.path.exists()
    assert remembered(store)[3] == before[3] + 1


def test_a_bound_of_zero_reads_the_stamps_on_every_request(pg_url: str) -> None:
    # serve_change_bound_seconds = 0: no listener, the store is asked every time (as before 0003).
    with Store(pg_url) as store:
        store.change_bound = 0.0
        store.add_events([EventRecord("u1", "a", "view", None, time.time())])
        store.serving_stamps("u1")
        time.sleep(0.3)
        assert store.serving_stamps("u1") and store.peek_serving_stamps("u1") is None
        assert store._stamp_memo() is None


def test_a_store_from_before_the_notifications_gets_them_in_place(pg_url: str) -> None:
    import psycopg

    with Store(pg_url) as store:
        store.upsert_items([ItemRecord("a", "Alpha")])
        store.add_events([EventRecord("u1", "a", "view", None, time.time())])
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as revision 0002 left a store
        for table in TABLES:
            conn.execute(f"DROP TRIGGER {table}_notify_change ON {table}")
        conn.execute("DROP FUNCTION mediarec_notify_change()")
        conn.execute("UPDATE alembic_version SET version_num = '0002_indexes'")
    Store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%_notify_change'").fetchone()
        assert found is not None and found[0] == len(TABLES)
        assert conn.execute("SELECT count(*) FROM interactions").fetchone() == (1,)
