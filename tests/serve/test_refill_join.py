"""POST → changed list ranks once: the GET right after a POST joins the re-ranking the POST started.

``POST /interactions`` re-ranks the user's cached lists in the background (``MediaRec.refill``); the
GET that follows reads the same token (the store's stamps after the commit) and must wait for that
computation (``ResultCache.compute``), never rank the same list a second time beside it. The ranker
is wrapped by a counting spy that also slows each ranking down, and the GET is sent once the refill
has started ranking, so it surely arrives while the refill is still at it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediarec.engine import MediaRec
from mediarec.rank.cache import clock
from tests.serve.helpers import Api, serving_home, trained_demo_home
from tests.serve.test_replicas import RANK_ENV

PATH = "/users/{}/recommendations"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_demo_home(tmp_path_factory.mktemp("refill-join") / "home")


@pytest.fixture()
def api(home: Path) -> Iterator[Api]:
    with serving_home(home, RANK_ENV) as api:
        yield api


class SlowCountingRanker:
    """A spy around the real ranker (this test only): counts rankings per user, each made slower."""

    def __init__(self, engine: MediaRec, delay: float) -> None:
        self.real = engine._ranker.rank
        self.delay = delay
        self.calls: dict[str, int] = {}
        self.threads: list[str] = []
        self._lock = threading.Lock()
        engine._ranker.rank = self  # type: ignore[method-assign]

    def __call__(self, store: Any, ref: Any, user: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls[user] = self.calls.get(user, 0) + 1
            self.threads.append(threading.current_thread().name)
        time.sleep(self.delay)
        return self.real(store, ref, user, *args, **kwargs)


def test_the_get_after_a_post_joins_the_refill_instead_of_ranking_again(home: Path, api: Api) -> None:
    user = "user-07"
    first = api.client.get(PATH.format(user))
    assert first.status_code == 200
    item = first.json()["items"][0]["item_id"]
    spy = SlowCountingRanker(api.engine, delay=1.0)
    step = clock(time.time())
    posted = api.client.post(
        "/interactions", json={"user": user, "item": item, "type": "view", "value": 1.0}, headers=api.auth
    )
    assert posted.status_code == 200, posted.text
    # The GET is sent once the refill is ranking: on a busy box the refill's thread may otherwise
    # start after the GET, which then ranks itself and the refill finds its hit (also one ranking,
    # but not the join this test is about).
    deadline = time.monotonic() + 10
    while not spy.threads and time.monotonic() < deadline:
        time.sleep(0.002)
    assert spy.threads and spy.threads[0].startswith("mediarec-refill"), spy.threads
    after = api.client.get(PATH.format(user))
    assert after.status_code == 200
    deadline = time.monotonic() + 10
    while api.engine._refill_queued and time.monotonic() < deadline:
        time.sleep(0.01)
    # One ranking for the pair, made by the refill; the GET waited for it (a miss: it was not cached).
    assert spy.calls == {user: 1} and len(spy.threads) == 1
    assert after.headers["x-mediarec-cache"] == "miss"
    fresh = [i["item_id"] for i in after.json()["items"]]
    assert item not in fresh  # ranked after the view: the seen filter dropped it
    with MediaRec(home) as engine:
        expected = [r.item_id for r in engine.rank(user, n=len(fresh)).items]
    if clock(time.time()) == step:  # else the ranking clock moved meanwhile (every 5 minutes)
        assert fresh == expected
    again = api.client.get(PATH.format(user))
    assert again.headers["x-mediarec-cache"] == "hit" and again.content == after.content
    assert spy.calls == {user: 1}
