"""Micro-benchmark: what a cache hit of GET /users/{id}/recommendations costs inside the app.

No sockets and no HTTP server: requests go straight into the ASGI app (``create_app`` over a data
home with a trained ALS model), so the figure is the app's own cost per hit, the part mediarec can
cut; uvicorn's parsing comes on top, the same for every app. Every ranking feature on, ``--users``
users ranked once first, then hits one at a time and from 10 concurrent tasks. ``--without-hit-path``
builds the app without ``serve/hits.py`` (every hit through FastAPI's endpoint), for the before
figure; ``--thread-hits`` keeps every hit on the thread pool (no answer on the event loop, the
third pass's path); ``--profile`` prints a cProfile of the hits. ``--bare`` measures, in the same
process and rounds, the bare Starlette app of ``bench_serve.py`` (``_bare_app.py``) serving the same
users' answers, precomputed: the limit's own cost per request, for a ratio.

    .venv/bin/python bench/bench_hit_path.py --home /tmp/h11-bench-ml1m [--without-hit-path] [--bare]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlencode

from mediarec.engine import MediaRec
from mediarec.serve import create_app

ALL_ON = {
    "n": 10,
    "diversity": 0.7,
    "max_per_creator": 3,
    "max_per_topic": 4,
    "explore": 0.1,
    "freshness": 0.05,
}


class WithoutHitPath:
    """Replaces HitPath when ``--without-hit-path``: every request goes on to the routes."""

    def __init__(self, app: Any, **_: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def iter_middleware(app: Any) -> list[Any]:
    """The app's built middleware stack, outermost first."""
    out, layer = [], getattr(app, "middleware_stack", None)
    while layer is not None:
        out.append(layer)
        layer = getattr(layer, "app", None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="a data home with a trained ALS model (read only)")
    ap.add_argument("--hits", type=int, default=2000, help="hits per round")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--without-hit-path", action="store_true")
    ap.add_argument("--thread-hits", action="store_true", help="no hit answered on the event loop")
    ap.add_argument("--bare", action="store_true", help="also the bare Starlette app, same rounds")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.without_hit_path:
        import mediarec.serve.app as app_module

        app_module.HitPath = WithoutHitPath  # type: ignore[misc,assignment]
    if args.thread_hits:
        MediaRec.peek_entry = lambda self, *a, **k: None  # type: ignore[method-assign]
    engine = MediaRec(args.home)
    app = create_app(engine)
    loaded = engine.loaded("als")
    assert loaded is not None, "train als in the home first"
    users = [str(u) for u in loaded.model.user_ids[: args.users]]
    query = urlencode(ALL_ON).encode()

    async def call(user: str, app: Any = app) -> dict[str, Any]:
        path = f"/users/{user}/recommendations"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000")],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        out: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out.update(status=message["status"], headers=dict(message["headers"]))
            elif message["type"] == "http.response.body":
                out["body"] = message["body"]

        await app(scope, receive, send)
        return out

    async def run() -> None:
        bodies = {}
        for user in users:  # ranked and cached
            answer = await call(user)
            assert answer["status"] == 200
            bodies[user] = json.loads(answer["body"])
        assert (await call(users[0]))["headers"].get(b"x-mediarec-cache") == b"hit"
        apps: dict[str, Any] = {"mediarec": app}
        if args.bare:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(bodies, f)
            os.environ["BARE_LISTS"] = f.name
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import _bare_app

            os.unlink(f.name)
            apps["bare"] = _bare_app.app
            assert (await call(users[0], _bare_app.app))["status"] == 200

        async def client(c: int, count: int, target: Any) -> None:
            for k in range(count):
                await call(users[(k + c) % len(users)], target)

        for _ in range(3):  # the apps interleaved round by round
            for name, target in apps.items():
                t0, c0 = time.perf_counter(), time.process_time()
                for k in range(args.hits):
                    await call(users[k % len(users)], target)
                took, cpu = (time.perf_counter() - t0) / args.hits, (time.process_time() - c0) / args.hits
                print(f"{name}, one at a time: {took * 1e6:.0f} µs a hit ({cpu * 1e6:.0f} CPU)", flush=True)
        for _ in range(3):
            for name, target in apps.items():
                t0, c0 = time.perf_counter(), time.process_time()
                await asyncio.gather(*(client(c, args.hits // 10, target) for c in range(10)))
                count = args.hits // 10 * 10
                took, cpu = (time.perf_counter() - t0) / count, (time.process_time() - c0) / count
                print(f"{name}, 10 concurrent: {took * 1e6:.0f} µs a hit ({cpu * 1e6:.0f} CPU)", flush=True)
        hits = next((m for m in iter_middleware(app) if hasattr(m, "loop_hits")), None)
        if hits is not None:
            print(f"hits answered on the event loop: {hits.loop_hits}", flush=True)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for k in range(args.hits):
                await call(users[k % len(users)])
            prof.disable()
            pstats.Stats(prof).sort_stats(os.environ.get("HIT_PROFILE_SORT", "cumulative")).print_stats(40)

    print(f"load average before: {os.getloadavg()}", flush=True)
    asyncio.run(run())
    print(f"load average after: {os.getloadavg()}")
    engine.close()


if __name__ == "__main__":
    main()
