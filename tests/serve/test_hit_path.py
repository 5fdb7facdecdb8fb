"""Cache hits answered before FastAPI's routing (serve/hits.py) give exactly the endpoint's answers.

Two real uvicorn servers over one engine (so one result cache): the app as built, and a reference
built without the hit path. Every request goes to both and the answers are compared byte for byte:
hits, bad parameters (422), parameters spelled in ways the hit path leaves to the endpoint, and the
read key's checks (401, 429).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

import mediarec.serve.app as app_module
from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from tests.serve.helpers import Api, serving

_ENV = (
    "MEDIAREC_API_KEY",
    "MEDIAREC_READ_KEY",
    "MEDIAREC_STORE_URL",
    "MEDIAREC_DEFAULT_MODEL",
    "MEDIAREC_SEED",
)
READ_KEY = "read-key-for-the-hit-path-test"
ALL_ON = {"diversity": 0.7, "max_per_creator": 3, "max_per_topic": 4, "explore": 0.1, "freshness": 0.05}


class WithoutHitPath:
    """Stands in for HitPath when the reference app is built: passes every request to the routes."""

    def __init__(self, app: Any, **_: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class Calls:
    """Counts the engine's full ranking-path calls (the real method still runs)."""

    def __init__(self, engine: MediaRec) -> None:
        self.count = 0
        self.engine = engine
        self.by_hit_path: list[bool] = []  # per call: whether the hit path made it (not the endpoint)
        real = engine.rank_entry

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            frame, callers = sys._getframe(1), []
            while frame is not None:
                callers.append(frame.f_code.co_qualname)
                frame = frame.f_back  # type: ignore[assignment]
            self.by_hit_path.append("HitPath._answer" in callers)
            return real(*args, **kwargs)

        engine.rank_entry = counted  # type: ignore[method-assign]


def pair(engine: MediaRec, stack: ExitStack) -> tuple[Api, Api]:
    fast = stack.enter_context(serving(engine))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app_module, "HitPath", WithoutHitPath)
        ref = stack.enter_context(serving(engine))
    return fast, ref


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        for var in _ENV:
            mp.delenv(var, raising=False)
        path = tmp_path_factory.mktemp("hit-path") / "home"
        with MediaRec(path) as engine:
            load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
            engine.train("als", factors=16)
        yield path


@pytest.fixture(scope="module")
def servers(home: Any) -> Iterator[tuple[Api, Api, Calls]]:
    with MediaRec(home) as engine, ExitStack() as stack:
        fast, ref = pair(engine, stack)
        yield fast, ref, Calls(engine)


def same(fast: httpx.Response, ref: httpx.Response) -> None:
    assert fast.status_code == ref.status_code, (fast.text, ref.text)
    assert fast.content == ref.content
    for header in ("content-type", "content-length", "x-mediarec-cache", "www-authenticate", "retry-after"):
        assert fast.headers.get(header) == ref.headers.get(header), header


@pytest.mark.parametrize(
    "params",
    [{}, {"n": 5}, {"n": 10, **ALL_ON}, {"exclude_seen": "false", "n": 3}, {"model": "als", "kind": "video"}],
)
def test_a_hit_is_the_endpoints_own_answer_without_ranking_again(
    servers: tuple[Api, Api, Calls], params: dict[str, Any]
) -> None:
    fast, ref, calls = servers
    path = "/users/user-03/recommendations"
    first = ref.client.get(path, params=params)  # ranked (or a hit of an earlier test): cached now
    assert first.status_code == 200, first.text
    again = ref.client.get(path, params=params)  # a hit through the endpoint
    assert again.headers["x-mediarec-cache"] == "hit"
    before = calls.count
    hit = fast.client.get(path, params=params)
    same(hit, again)
    assert calls.count == before, "the hit went through the endpoint instead of the hit path"


@pytest.mark.parametrize(
    "query",
    [
        "n=0",
        "n=abc",
        "n=1001",
        "n=",
        "diversity=2",
        "diversity=nan",
        "explore=-0.1",
        "kind=nope",
        "model=nope",
        "max_per_creator=-1",
        "freshness=1e9",
        "exclude_seen=maybe",
    ],
)
def test_bad_parameters_get_the_same_422_as_before(servers: tuple[Api, Api, Calls], query: str) -> None:
    fast, ref, _ = servers
    path = "/users/user-03/recommendations"
    fast.client.get(path)  # the user's default list is cached: a lax parser would serve it
    r = fast.client.get(f"{path}?{query}")
    assert r.status_code == 422
    same(r, ref.client.get(f"{path}?{query}"))


@pytest.mark.parametrize(
    "query",
    [
        "n=010",
        "n=%2B5",
        "n=5&n=6",
        "exclude_seen=yes",
        "exclude_seen=1",
        "exclude_seen=True",
        "diversity=.7",
        "diversity=0.70",
        "diversity=7e-1",
        "kind=",
        "creator=",
        "model=",
        "unknown=1",
        "n=5&unknown=1",
    ],
)
def test_other_spellings_get_the_endpoints_answer(servers: tuple[Api, Api, Calls], query: str) -> None:
    fast, ref, _ = servers
    path = "/users/user-05/recommendations"
    ref.client.get(f"{path}?{query}")  # cache what can be cached, so both answer the same way
    got, want = fast.client.get(f"{path}?{query}"), ref.client.get(f"{path}?{query}")
    assert got.status_code == want.status_code
    assert got.content == want.content


def test_the_read_key_is_checked_as_before(home: Any) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for var in _ENV:
            mp.delenv(var, raising=False)
        mp.setenv("MEDIAREC_READ_KEY", READ_KEY)
        engine = MediaRec(home)
    assert engine.settings.read_key == READ_KEY
    with engine, ExitStack() as stack:
        fast, ref = pair(engine, stack)
        calls = Calls(engine)
        path = "/users/user-07/recommendations"
        assert ref.client.get(path, headers={"X-API-Key": READ_KEY}).status_code == 200  # cached now
        for headers in ({}, {"X-API-Key": ""}, {"X-API-Key": "wrong"}):
            got = fast.client.get(path, headers=headers)
            assert got.status_code == 401
            same(got, ref.client.get(path, headers=headers))
        for key in (READ_KEY, fast.key):  # the read key or the write key: a hit, on the hit path
            before = calls.count
            got = fast.client.get(path, headers={"X-API-Key": key})
            assert got.status_code == 200 and got.headers["x-mediarec-cache"] == "hit"
            assert calls.count == before
        # Enough wrong keys lock the address out; then even the right key gets 429, as before.
        for _ in range(20):
            fast.client.get(path, headers={"X-API-Key": "wrong"})
            ref.client.get(path, headers={"X-API-Key": "wrong"})
        got = fast.client.get(path, headers={"X-API-Key": READ_KEY})
        assert got.status_code == 429
        same(got, ref.client.get(path, headers={"X-API-Key": READ_KEY}))


@pytest.mark.parametrize("params", [{}, {"n": 10, **ALL_ON}, {"model": "als", "kind": "video", "n": 4}])
def test_a_miss_is_ranked_once_on_the_hit_path_with_the_endpoints_bytes(
    servers: tuple[Api, Api, Calls], params: dict[str, Any]
) -> None:
    fast, ref, calls = servers
    path = "/users/user-09/recommendations"
    ref.client.get(path, params=params)
    ranked_by_endpoint = ref.client.get(path, params=params)  # cached by the endpoint: its bytes
    assert ranked_by_endpoint.headers["x-mediarec-cache"] == "hit"
    calls.engine.results.clear()  # both servers share one engine: the next request is a miss again
    before = calls.count
    miss = fast.client.get(path, params=params)
    assert miss.headers["x-mediarec-cache"] == "miss"
    assert calls.count == before + 1 and calls.by_hit_path[-1]  # ranked once, by the hit path
    assert miss.content == ranked_by_endpoint.content
    for header in ("content-type", "content-length"):
        assert miss.headers[header] == ranked_by_endpoint.headers[header]
    same(fast.client.get(path, params=params), ref.client.get(path, params=params))  # hits now
