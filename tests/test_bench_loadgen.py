"""bench/_loadgen.py, the load generator behind bench_serve.py's figures: it holds an open-loop
schedule against a real server (the bare Starlette app under uvicorn), and it counts a stalled
server's queue from each request's scheduled time instead of waiting politely (coordinated omission)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1] / "bench"


def generate(base: str, paths: list[str], mode: str, level: float, seconds: float) -> dict[str, Any]:
    spec = {"base": base, "mode": mode, "level": level, "seconds": seconds, "timeout": 2.0, "kind": "get"}
    out = subprocess.run(
        [sys.executable, str(BENCH / "_loadgen.py")],
        input=json.dumps({**spec, "paths": paths, "seed": 1}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(out.stdout))


def test_holds_the_schedule_against_the_bare_app(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import _peers
        from _server import free_port
    finally:
        sys.path.remove(str(BENCH))
    lists = tmp_path / "lists.json"
    lists.write_text(
        json.dumps({f"u{k}": {"items": [{"item_id": str(j)} for j in range(10)]} for k in range(5)})
    )
    paths = [f"/users/u{k}/recommendations" for k in range(5)]
    with _peers.bare_server(lists, free_port(), workers=1) as base:
        got = generate(base, paths, "open", 100, 1.0)
        assert (got["requests"], got["errors"]) == (100, 0)
        assert got["gen_rate"] > 90 and got["gen_lag_p50_ms"] < 20
        closed = generate(base, paths, "closed", 2, 0.5)
        assert closed["errors"] == 0 and closed["requests"] > 10
        assert generate(base, ["/users/nobody/recommendations"], "closed", 1, 0.2)["errors"] > 0  # a 404


class FakeStallingServer:
    """A fake HTTP server (for this test only): chunked answers, and one 0.5 s stall of its whole loop."""

    def __init__(self) -> None:
        self.port = 0
        self.requests = 0
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            self.requests += 1
            if self.requests == 10:
                time.sleep(0.5)  # blocks every connection, as a stuck server would
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")

    def run(self) -> None:
        server = self.loop.run_until_complete(asyncio.start_server(self.handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()


@contextmanager
def stalling() -> Iterator[FakeStallingServer]:
    fake = FakeStallingServer()
    thread = threading.Thread(target=fake.run, daemon=True)
    thread.start()
    fake.ready.wait(10)
    try:
        yield fake
    finally:
        fake.loop.call_soon_threadsafe(fake.loop.stop)
        thread.join(10)


def test_a_stall_shows_as_latency_from_the_scheduled_time() -> None:
    with stalling() as fake:
        got = generate(f"http://127.0.0.1:{fake.port}", ["/x"], "open", 100, 1.0)
    # Every scheduled request was sent and answered: none waited for the stall before leaving.
    assert (got["requests"], got["errors"]) == (100, 0)
    assert got["gen_rate"] > 90
    # The ~50 requests scheduled during the 0.5 s stall waited for it: their latency says so.
    assert got["p99_ms"] > 300 and got["p50_ms"] < 300


class FakeIdleClosingServer(FakeStallingServer):
    """A fake HTTP server (for this test only) that closes a keep-alive connection after 50 ms idle,
    as uvicorn does after its 5 s keep-alive timeout."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.05):
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        except (TimeoutError, asyncio.IncompleteReadError):
            writer.close()


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    fake = FakeIdleClosingServer()
    thread = threading.Thread(target=fake.run, daemon=True)
    thread.start()
    fake.ready.wait(10)
    try:
        # 10 req/s: every idle connection has been closed by the server before the next request.
        got = generate(f"http://127.0.0.1:{fake.port}", ["/x"], "open", 10, 1.0)
    finally:
        fake.loop.call_soon_threadsafe(fake.loop.stop)
        thread.join(10)
    assert (got["requests"], got["errors"]) == (10, 0)
    assert got["dropped_idle"] >= 8 and fake.requests == 10


class FakeSlowListServer(FakeStallingServer):
    """A fake HTTP server (for this test only): a POST is answered at once, a GET after 30 ms, as a
    list ranked afresh after the user's new event would be."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                lower = head.lower()
                at = lower.find(b"content-length:")
                if at >= 0:
                    await reader.readexactly(int(lower[at + 15 : lower.index(b"\r\n", at)]))
                if head.startswith(b"GET"):
                    await asyncio.sleep(0.03)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        except asyncio.IncompleteReadError:
            writer.close()


def test_post_then_get_on_a_schedule_times_each_pair_from_its_start() -> None:
    fake = FakeSlowListServer()
    thread = threading.Thread(target=fake.run, daemon=True)
    thread.start()
    fake.ready.wait(10)
    spec = {"kind": "post+get", "users": ["u1", "u2"], "items": ["i1"], "key": "k", "query": "n=10"}
    base = f"http://127.0.0.1:{fake.port}"
    try:
        runs = {}
        for mode, level in (("open", 20), ("closed", 2)):
            full = {**spec, "base": base, "mode": mode, "level": level, "seconds": 1.0, "timeout": 2.0}
            out = subprocess.run(
                [sys.executable, str(BENCH / "_loadgen.py")],
                input=json.dumps(full),
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            runs[mode] = json.loads(out.stdout)
    finally:
        fake.loop.call_soon_threadsafe(fake.loop.stop)
        thread.join(10)
    got = runs["open"]
    # 20 pairs started on schedule, each a POST then a GET on one connection, none failed.
    assert (got["requests"], got["errors"]) == (20, 0) and got["gen_rate"] > 18
    # The pair's time covers both requests; the GET's own time is reported beside it.
    assert 30 <= got["get_p50_ms"] <= got["p50_ms"] < 500
    closed = runs["closed"]
    assert closed["errors"] == 0 and 30 <= closed["get_p50_ms"] <= closed["p50_ms"]
