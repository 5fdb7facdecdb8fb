"""No stale answer from the result cache: two real `mediarec serve` processes on one store and one
models folder, driven through interactions, a catalogue change, a retrain and deletions, with every
answer compared with the ranking a fresh engine (no cache of any kind) computes from the store now.

Each server keeps its own cache and checks every entry against the store's stamps on each request,
so a change made through the other server, or by another process, is a miss at once. Runs on the
home's SQLite file and on the throw-away PostgreSQL cluster (skipped without one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.rank.cache import clock
from tests.serve.helpers import SETTINGS_ENV, ServeProcess, start_serve, wait_up
from tests.serve.test_replicas import RANK_ENV, settings_for

N = 8


@dataclass
class Pair:
    home: Path
    env: dict[str, str]
    a: ServeProcess
    b: ServeProcess
    key: str
    answers: int = 0  # answers checked against a fresh ranking

    def engine(self) -> MediaRec:
        return MediaRec(settings=settings_for(self.home, self.env))

    def post(self, server: ServeProcess, path: str, body: Any) -> None:
        r = server.client.post(path, json=body, headers={"X-API-Key": self.key})
        assert r.status_code == 200, r.text

    def check(self, server: ServeProcess, user: str) -> tuple[dict[str, Any], str]:
        """One answer of ``server``, asserted equal to a fresh engine's ranking; (body, hit/miss)."""
        for _ in range(2):
            step = clock(time.time())
            r = server.client.get(f"/users/{user}/recommendations", params={"n": N})
            assert r.status_code == 200, r.text
            with self.engine() as fresh:
                expected = fresh.rank(user, n=N)
            if clock(time.time()) != step:
                continue  # the ranking clock moved on between the two (once every few minutes)
            body = r.json()
            got = [(i["item_id"], i["title"], [x["text"] for x in i["reasons"]]) for i in body["items"]]
            want = [(i.item_id, i.title, [x.text for x in i.reasons]) for i in expected.items]
            state = r.headers["X-Mediarec-Cache"]
            assert got == want, f"stale answer ({state}) for {user} from {server.client.base_url}"
            assert [i["score"] for i in body["items"]] == pytest.approx(
                [i.score for i in expected.items], abs=1e-5
            )
            assert (body["model_version"], body["fallback"]) == (expected.model_version, expected.fallback)
            self.answers += 1
            return body, state
        raise AssertionError("the ranking clock moved twice during one check")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("cache-pair")
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV and k != "MEDIAREC_HOME"}
    # A new version is looked for on every request, so no answer may lag a retrain at all.
    env.update(RANK_ENV, MEDIAREC_MODELS_DIR=str(root / "models"), MEDIAREC_MODEL_CHECK_SECONDS="0")
    name = None
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        name = cluster.new_database()
        env["MEDIAREC_STORE_URL"] = cluster.url(name)
    try:
        with MediaRec(settings=settings_for(home, env)) as engine:
            load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
            engine.train("als", factors=8, iterations=5)
        a, b = start_serve(home, env), start_serve(home, env)
        try:
            wait_up(a)
            wait_up(b)
            yield Pair(home, env, a, b, (home / "api_key").read_text().strip())
        finally:
            a.stop()
            b.stop()
    finally:
        if name is not None:
            request.getfixturevalue("pg_cluster").drop_database(name)


def test_two_servers_never_serve_a_stale_list(pair: Pair) -> None:
    a, b = pair.a, pair.b
    # Cached on both; the second request of each is a hit.
    for server in (a, b):
        for user in ("user-01", "user-02", "user-03", "user-04"):
            assert pair.check(server, user)[1] == "miss"
            assert pair.check(server, user)[1] == "hit"

    # An interaction through B: A's entry is a miss at once; B re-ranks it in the background.
    top = pair.check(a, "user-01")[0]["items"][0]["item_id"]
    pair.post(b, "/interactions", {"user": "user-01", "item": top, "type": "like"})
    body, state = pair.check(a, "user-01")
    assert state == "miss" and top not in [i["item_id"] for i in body["items"]]
    pair.check(b, "user-01")
    assert pair.check(a, "user-01")[1] == "hit"

    # A catalogue change through A: an item in user-02's cached list is renamed.
    item = pair.check(b, "user-02")[0]["items"][2]["item_id"]
    pair.post(a, "/items", {"id": item, "title": "Renamed while cached"})
    time.sleep(0.3)  # catalogue snapshots are checked every 0.25 s, cached or not
    for server in (a, b):
        body, _ = pair.check(server, "user-02")
        assert "Renamed while cached" in [i["title"] for i in body["items"]]

    # A retrain by a third process: both serve the new version's lists from their next request.
    with pair.engine() as trainer:
        trainer.train("als", factors=8, iterations=6)
    for server in (a, b):
        # A miss, or a hit already re-ranked on the new version by the background re-warm that an
        # earlier change (the rename's new catalogue snapshot) started: check() compared it with a
        # fresh ranking either way, so what matters here is the version.
        body, _ = pair.check(server, "user-01")
        assert body["model_version"] == "0002"
        # The first list of a new version starts re-ranking the recently used ones in the
        # background: user-04's may be ready (a hit) or not yet; it is of the new version either way.
        assert pair.check(server, "user-04")[0]["model_version"] == "0002"

    # A deletion through A: B drops its lists (the deleted user's among them) at its next request.
    pair.check(b, "user-03")
    pair.check(b, "user-04")
    r = a.client.delete("/users/user-03", headers={"X-API-Key": pair.key})
    assert r.status_code == 200, r.text
    body, state = pair.check(b, "user-03")
    assert state == "miss" and body["fallback"] is True
    pair.check(b, "user-04")  # ranked again (or by a background refill that began after the deletion)
    assert pair.check(b, "user-04")[1] == "hit"
    assert pair.answers >= 30


def test_bad_options_are_still_refused_with_the_field(pair: Pair) -> None:
    r = pair.a.client.get("/users/user-01/recommendations", params={"n": 0, "diversity": 2})
    assert r.status_code == 422
    error = r.json()["error"]
    assert "query parameter 'n'" in error and "query parameter 'diversity'" in error


@pytest.mark.parametrize("http", ["uvicorn", "granian"])
def test_serve_with_two_workers_stays_true(pair: Pair, http: str) -> None:
    """``mediarec serve --workers 2``: two processes on one port, each with its own cache, under
    either HTTP server (``--http``): repeated requests are hits, and a write is seen at once."""
    import subprocess
    import sys

    import httpx

    from tests.serve.helpers import free_port

    if http == "granian":
        pytest.importorskip(
            "granian", reason="granian ships with the serve extra: pip install 'mediarec[serve]'"
        )
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "mediarec",
        "--home",
        str(pair.home),
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        "--http",
        http,
    ]
    proc = subprocess.Popen(cmd, env=pair.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = ServeProcess(proc, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
    try:
        wait_up(server)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) >= 2  # the server's worker processes
        # One keep-alive connection reaches one worker: its second answer on is a hit.
        states = [pair.check(server, "user-02")[1] for _ in range(3)]
        assert "hit" in states[1:], states
        pair.post(server, "/interactions", {"user": "user-02", "item": "cooking-1", "type": "like"})
        body, _ = pair.check(server, "user-02")  # ranked now, or re-ranked by the POST's refill
        assert "cooking-1" not in [i["item_id"] for i in body["items"]]
    finally:
        server.stop()
