"""Micro-benchmark: what a cache hit of GET /users/{id}/recommendations costs inside the app.

No sockets and no HTTP server: requests go straight into the ASGI app (``create_app`` over a data
home with a trained ALS model), so the figure is the app's own cost per hit, the part mediarec can
cut; uvicorn's parsing comes on top, the same for every app. Every ranking feature on, ``--users``
users ranked once first, then hits one at a time and from 10 concurrent tasks. ``--without-hit-path``
builds the app without ``serve/hits.py`` (every hit through FastAPI's endpoint), for the before
figure; ``--profile`` prints a cProfile of the hits.

    .venv/bin/python bench/bench_hit_path.py --home /tmp/h11-bench-ml1m [--without-hit-path]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="a data home with a trained ALS model (read only)")
    ap.add_argument("--hits", type=int, default=2000, help="hits per round")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--without-hit-path", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if args.without_hit_path:
        import mediarec.serve.app as app_module

        app_module.HitPath = WithoutHitPath  # type: ignore[misc,assignment]
    engine = MediaRec(args.home)
    app = create_app(engine)
    loaded = engine.loaded("als")
    assert loaded is not None, "train als in the home first"
    users = [str(u) for u in loaded.model.user_ids[: args.users]]
    query = urlencode(ALL_ON).encode()

    async def call(user: str) -> dict[str, Any]:
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

        await app(scope, receive, send)
        return out

    async def run() -> None:
        for user in users:  # ranked and cached
            assert (await call(user))["status"] == 200
        assert (await call(users[0]))["headers"].get(b"x-mediarec-cache") == b"hit"
        for _ in range(3):
            t0 = time.perf_counter()
            for k in range(args.hits):
                await call(users[k % len(users)])
            print(f"one at a time: {(time.perf_counter() - t0) / args.hits * 1e6:.0f} µs a hit", flush=True)

        async def client(c: int, count: int) -> None:
            for k in range(count):
                await call(users[(k + c) % len(users)])

        for _ in range(3):
            t0 = time.perf_counter()
            await asyncio.gather(*(client(c, args.hits // 10) for c in range(10)))
            took = (time.perf_counter() - t0) / (args.hits // 10 * 10)
            print(f"10 concurrent: {took * 1e6:.0f} µs a hit", flush=True)
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for k in range(args.hits):
                await call(users[k % len(users)])
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)

    print(f"load average before: {os.getloadavg()}", flush=True)
    asyncio.run(run())
    print(f"load average after: {os.getloadavg()}")
    engine.close()


if __name__ == "__main__":
    main()
