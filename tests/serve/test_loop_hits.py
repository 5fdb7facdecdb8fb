"""Cache hits answered on the event loop (``MediaRec.peek_entry`` from serve/hits.py) are never stale.

A hit that needs nothing but memory is sent without the thread hand-off; the proof that it is
current is SQLite's ``PRAGMA data_version`` or PostgreSQL's change counter and notifications
(store/stamps.py, store/changes.py), asked on every such hit. These tests
commit behind the server's back (another connection, another process: no refill, no message) and
check that the very next request is re-ranked, not the remembered list sent from the loop; and that
whatever would need a read, a refresh or a wait goes to the thread pool instead.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediarec.engine import MediaRec
from mediarec.rank.cache import clock
from mediarec.records import EventRecord
from mediarec.serve.hits import HitPath
from mediarec.store import Store
from mediarec.store.stamps import StampMemo
from tests.serve.helpers import Api, serving, serving_home, trained_demo_home, without_settings_env
from tests.serve.test_replicas import RANK_ENV, settings_for, within

PATH = "/users/{}/recommendations"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_demo_home(tmp_path_factory.mktemp("loop-hits") / "home")


@pytest.fixture()
def api(home: Path) -> Iterator[Api]:
    # Without the shared figures that refresh on their own schedule (trending, new-item audiences,
    # exploration), so a fresh engine's ranking is the one to compare with (as test_result_cache).
    with serving_home(home, RANK_ENV) as api:
        yield api


def hit_path(api: Api) -> HitPath:
    layer: Any = api.app.middleware_stack
    while not isinstance(layer, HitPath):
        layer = layer.app
    return layer


def cached(api: Api, user: str) -> tuple[list[str], HitPath]:
    """The user's list, asserted served from the loop on the second ask; (its items, the layer)."""
    first = api.client.get(PATH.format(user))
    assert first.status_code == 200, first.text
    layer = hit_path(api)
    before = layer.loop_hits
    again = api.client.get(PATH.format(user))
    assert again.headers["x-mediarec-cache"] == "hit" and again.content == first.content
    assert layer.loop_hits == before + 1, "a plain hit should need no thread hand-off"
    return [i["item_id"] for i in again.json()["items"]], layer


def view_top_item_elsewhere(home: Path, user: str, item: str, process: bool) -> None:
    """A full view of ``item`` committed without the server knowing (no refill, no invalidation)."""
    if process:
        code = (
            "import sys, time; from mediarec.store import Store; from mediarec.records import EventRecord\n"
            "with Store(sys.argv[1]) as s:\n"
            "    s.add_events([EventRecord(sys.argv[2], sys.argv[3], 'view', 1.0, time.time())])"
        )
        db = str(home / "mediarec.db")
        subprocess.run([sys.executable, "-c", code, db, user, item], check=True, timeout=60)
    else:
        with Store(home / "mediarec.db") as store:
            store.add_events([EventRecord(user, item, "view", 1.0, time.time())])


@pytest.mark.parametrize("process", [False, True], ids=["another-connection", "another-process"])
def test_a_commit_behind_the_servers_back_is_never_served_from_the_loop(
    home: Path, api: Api, process: bool
) -> None:
    user = "user-11" if process else "user-12"
    # Nothing else may send the request to the thread pool (where the stamps are re-read anyway):
    # the model and catalogue checks are far apart, so only the loop's own version check is left.
    api.engine._live.check_seconds = api.engine._ranker.catalogs.check_seconds = 3600.0
    items, layer = cached(api, user)
    view_top_item_elsewhere(home, user, items[0], process)
    before, step = layer.loop_hits, clock(time.time())
    after = api.client.get(PATH.format(user))
    assert after.status_code == 200
    assert layer.loop_hits == before, "a list was sent from the loop after a commit it did not check"
    assert after.headers["x-mediarec-cache"] == "miss"
    fresh = [i["item_id"] for i in after.json()["items"]]
    assert items[0] not in fresh  # the seen filter dropped the viewed item: the list was ranked anew
    with MediaRec(home) as engine:
        expected = [r.item_id for r in engine.rank(user, n=len(fresh)).items]
    if clock(time.time()) == step:  # else the ranking clock moved between the two (every 5 minutes)
        assert fresh == expected
    # And the new list is a loop hit again once nothing else was committed.
    again = api.client.get(PATH.format(user))
    assert again.content == after.content and layer.loop_hits == before + 1


def test_a_hit_that_needs_a_look_goes_to_the_thread_pool(api: Api) -> None:
    _, layer = cached(api, "user-13")
    api.engine._live.check_seconds = 0.0  # every request must look at the models folder now
    before, hits = layer.loop_hits, api.engine.results.hits
    r = api.client.get(PATH.format("user-13"))
    assert r.headers["x-mediarec-cache"] == "hit"  # still a hit, through cached_entry on a thread
    assert layer.loop_hits == before and api.engine.results.hits == hits + 1


def test_only_an_sqlite_file_store_answers_stamps_on_the_loop(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite") as store:
        assert store.peek_serving_stamps("u1") is None  # nothing remembered yet
        store.serving_stamps("u1")
        assert store.peek_serving_stamps("u1") is not None


def test_peek_never_waits_for_a_locked_store(tmp_path: Path) -> None:
    # A rollback-journal file with an exclusive lock held elsewhere: a version read must wait, which
    # the loop never does (WAL stores rarely refuse a reader, but a refusal must not stall requests).
    path = tmp_path / "plain.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    memo = StampMemo(path)
    memo.get("u1", lambda user: (0, user))
    assert memo.peek("u1") == (0, "u1")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    assert memo.peek("u1") is None
    assert time.monotonic() - started < 0.5
    other.execute("COMMIT")
    other.close()
    assert memo.get("u1", lambda user: (1, user)) == (0, "u1")  # nothing was written: still valid
    memo.close()


def test_the_key_checks_need_no_thread_hand_off(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # A plain ``def`` dependency runs on the thread pool: one hand-off more for every write (and
    # every read through the routes), on the POST → changed list path too.
    import fastapi.dependencies.utils as deps

    handed: list[str] = []
    real = deps.run_in_threadpool

    async def counted(call: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(getattr(call, "__name__", repr(call)))
        return await real(call, *args, **kwargs)

    monkeypatch.setattr(deps, "run_in_threadpool", counted)
    event = {"user": "user-14", "item": "cooking-1", "type": "view", "value": 1.0}
    r = api.client.post("/interactions", json=event, headers=api.auth)
    assert r.status_code == 200, r.text
    assert api.client.post("/interactions", json=event, headers={"X-API-Key": "wrong"}).status_code == 401
    assert handed == []


def test_fastapis_telemetry_is_off_unless_the_environment_asks(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its per-request look-up of the global OpenTelemetry providers was about 15 µs of a hit's 55.
    from mediarec.serve import create_app

    if not hasattr(api.app, "_telemetry"):
        pytest.skip("this FastAPI has no native telemetry")
    assert not api.app._telemetry["tracing"] and not api.app._native_telemetry.enabled()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "mediarec")
    assert create_app(api.engine)._telemetry["tracing"]


# -- PostgreSQL: the host's change counter and the store's notifications (store/changes.py) --------
PG_TABLES = ("interactions", "users", "user_profile_edits", "store_stamps", "items", "item_features")


@pytest.fixture(scope="module")
def pg_home(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Any) -> Iterator[tuple[Path, str]]:
    """A trained demo home whose store is a database of the throw-away cluster."""
    name = pg_cluster.new_database()
    url, home = pg_cluster.url(name), tmp_path_factory.mktemp("loop-hits-pg") / "home"
    with without_settings_env(), MediaRec(settings=settings_for(home, {"MEDIAREC_STORE_URL": url})) as engine:
        from mediarec.datasets import demo
        from mediarec.datasets.loader import load_rows

        load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        engine.train("als", factors=16)
    try:
        yield home, url
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture()
def pg_api(pg_home: tuple[Path, str]) -> Iterator[Api]:
    home, url = pg_home
    env = {**RANK_ENV, "MEDIAREC_STORE_URL": url}
    with without_settings_env(), MediaRec(settings=settings_for(home, env)) as engine, serving(engine) as api:
        api.engine._live.check_seconds = api.engine._ranker.catalogs.check_seconds = 3600.0
        yield api


def pg_cached(api: Api, user: str) -> tuple[list[str], HitPath]:
    """The user's list once it is sent from the loop (the listener needs a heartbeat first)."""
    layer = hit_path(api)
    first = api.client.get(PATH.format(user))
    assert first.status_code == 200, first.text

    def loop_hit() -> bool:
        before = layer.loop_hits
        r = api.client.get(PATH.format(user))
        assert r.content == first.content and r.headers["x-mediarec-cache"] == "hit"
        return layer.loop_hits == before + 1

    assert within(5.0, loop_hit) is not None, "no hit was ever answered on the loop on PostgreSQL"
    return [i["item_id"] for i in first.json()["items"]], layer


def set_notify(url: str, on: bool) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in PG_TABLES:
            conn.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {table}_notify_change")


def fresh_ranking(home: Path, url: str, user: str, n: int) -> list[str]:
    env = {**RANK_ENV, "MEDIAREC_STORE_URL": url}
    with without_settings_env(), MediaRec(settings=settings_for(home, env)) as engine:
        return [r.item_id for r in engine.rank(user, n=n).items]


def test_postgresql_hits_are_answered_on_the_loop(pg_api: Api) -> None:
    _, layer = pg_cached(pg_api, "user-21")
    before = layer.loop_hits
    for _ in range(5):
        assert pg_api.client.get(PATH.format("user-21")).headers["x-mediarec-cache"] == "hit"
    assert layer.loop_hits == before + 5


def test_postgresql_a_write_by_another_process_of_this_host_is_never_served_stale(
    pg_home: tuple[Path, str], pg_api: Api
) -> None:
    home, url = pg_home
    user = "user-22"
    items, layer = pg_cached(pg_api, user)
    set_notify(url, on=False)  # only the host's change counter can tell now
    try:
        code = (
            "import sys, time; from mediarec.store import Store; from mediarec.records import EventRecord\n"
            "with Store(sys.argv[1]) as s:\n"
            "    s.add_events([EventRecord(sys.argv[2], sys.argv[3], 'view', 1.0, time.time())])"
        )
        subprocess.run([sys.executable, "-c", code, url, user, items[0]], check=True, timeout=60)
        before, step = layer.loop_hits, clock(time.time())
        after = pg_api.client.get(PATH.format(user))
        assert after.status_code == 200
        assert layer.loop_hits == before, "a list was sent from the loop after a write it did not see"
        assert after.headers["x-mediarec-cache"] == "miss"
        fresh = [i["item_id"] for i in after.json()["items"]]
        assert items[0] not in fresh
        expected = fresh_ranking(home, url, user, len(fresh))
        if clock(time.time()) == step:
            assert fresh == expected
    finally:
        set_notify(url, on=True)


def test_postgresql_a_write_from_another_host_is_seen_within_the_bound(
    pg_home: tuple[Path, str], pg_api: Api
) -> None:
    import psycopg

    from mediarec.store.changes import BOUND_SECONDS

    home, url = pg_home
    user = "user-23"
    items, _ = pg_cached(pg_api, user)
    with psycopg.connect(url, autocommit=True) as conn:  # no counter of this host moves
        conn.execute(
            """INSERT INTO interactions (user_id, item_id, type, value, ts)
               SELECT u.id, i.id, 'view', 1.0, extract(epoch FROM now())
               FROM users u, items i WHERE u.external_id = %s AND i.external_id = %s""",
            (user, items[0]),
        )
    committed = time.monotonic()

    def changed() -> bool:
        r = pg_api.client.get(PATH.format(user))
        return items[0] not in [i["item_id"] for i in r.json()["items"]]

    assert within(2 * BOUND_SECONDS, changed) is not None
    assert time.monotonic() - committed <= BOUND_SECONDS + 0.1  # the bound, plus one request's time
    fresh = [i["item_id"] for i in pg_api.client.get(PATH.format(user)).json()["items"]]
    assert fresh == fresh_ranking(home, url, user, len(fresh))


def test_postgresql_hits_go_to_the_thread_pool_while_the_listener_is_down(pg_api: Api) -> None:
    import psycopg

    from mediarec.store.changes import PgChanges

    user = "user-24"
    _, layer = pg_cached(pg_api, user)
    memo = pg_api.engine.store._stamp_memo()
    assert memo is not None and isinstance(memo.source, PgChanges)
    changes = memo.source
    generation = changes.generation
    changes._stop.set()  # no reconnection meanwhile: the heartbeat thread ends after this beat
    changes._thread.join(5.0)
    with psycopg.connect(changes.conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (changes.listen_pid,))
    assert within(2.0, lambda: memo.peek(user) is None) is not None
    before, hits = layer.loop_hits, pg_api.engine.results.hits
    for _ in range(3):
        r = pg_api.client.get(PATH.format(user))
        assert r.headers["x-mediarec-cache"] == "hit"  # still served, from the thread path
    assert layer.loop_hits == before and pg_api.engine.results.hits == hits + 3
    assert changes.generation == generation
