"""The load generator of bench_serve.py: one asyncio process, keep-alive HTTP/1.1 over plain streams.

Run as ``python bench/_loadgen.py`` with a JSON spec on stdin; prints one JSON object of figures.
It runs in its own process so that its work never shares a GIL with the benchmark's driver, and it
speaks just enough HTTP/1.1 (``Content-Length`` or chunked bodies, keep-alive) to stay cheap: about
0.1 ms of CPU a request in the closed loop and 0.25 ms in the open loop (a task and a timer each).
On a 2-core box the generator's own CPU is taken from the servers it measures, so it reports it
(``gen_cpu``, in cores).

- ``closed``: ``level`` clients, each on its own connection, sends its next request when the last
  one is answered.
- ``open``: requests leave on a fixed schedule (``level`` per second) whatever the answers do, each
  on an idle connection or a new one; latency counts from the *scheduled* time, so a server that
  falls behind shows its queue (no coordinated omission). The generator reports its own health
  beside the figures: the rate it actually dispatched at and its lag behind the schedule. A row
  whose generator could not hold the schedule measures the generator, not the server.

Spec keys: ``base`` (http://host:port), ``mode``, ``level``, ``seconds``, ``timeout`` (a later answer
is an error), ``seed``, ``kind`` (``get``: a random path of ``paths``; ``miss``: POST an event for a
random user of ``users`` on an item of ``items`` with ``key``, then GET ``/users/{u}/recommendations?``
+ ``query``, the GET timed; ``post+get``: the same, both timed, and the GET's own latency reported
beside as ``get_p50_ms`` / ``get_p99_ms``). ``post+get`` in the open loop starts pairs at ``level`` a
second: the POST → changed list time at a given write rate, counted from each pair's scheduled start.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from typing import Any
from urllib.parse import quote, urlsplit


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: bytes) -> None:
        self.reader, self.writer, self.host = reader, writer, host
        self.usable = True

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}".encode())

    async def request(
        self, method: bytes, path: bytes, body: bytes = b"", extra: bytes = b""
    ) -> tuple[int, bytes]:
        """(status, the response's header block); the body is read and dropped."""
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (method, path, self.host, extra)
        if body:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.writer.write(head + b"\r\n" + body)
        block = await self.reader.readuntil(b"\r\n\r\n")
        status = int(block[9:12])
        lower = block.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.index(b"\r\n", at + 2)
            await self.reader.readexactly(int(lower[at + 17 : end]))
        elif b"chunked" in lower:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:  # neither: the body runs to the end of the connection
            await self.reader.read()
            self.usable = False
        if b"\r\nconnection: close" in lower:
            self.usable = False
        return status, lower

    def close(self) -> None:
        self.usable = False
        self.writer.close()


class Work:
    """What one request of the spec does; returns (ok, cache hit, latency to report or None)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.kind = spec["kind"]
        self.rng = random.Random(spec.get("seed", 1))
        self.paths = [p.encode() for p in spec.get("paths", [])]
        self.users = spec.get("users", [])
        self.items = spec.get("items", [])
        self.query = spec.get("query", "")
        self.auth = f"X-API-Key: {spec.get('key', '')}\r\n".encode()
        self.gets: list[float] = []  # post+get: the GET's own latency, pair by pair

    async def __call__(self, conn: Conn) -> tuple[bool, bool, float | None]:
        if self.kind == "get":
            status, head = await conn.request(b"GET", self.rng.choice(self.paths))
            return status == 200, b"x-mediarec-cache: hit" in head, None
        user, item = self.rng.choice(self.users), self.rng.choice(self.items)
        event = json.dumps({"user": user, "item": item, "type": "view"}).encode()
        posted, _ = await conn.request(b"POST", b"/interactions", event, self.auth)
        t0 = time.perf_counter()
        path = f"/users/{quote(user, safe='')}/recommendations?{self.query}".encode()
        status, head = await conn.request(b"GET", path)
        got = time.perf_counter() - t0
        took = got if self.kind == "miss" else None
        if self.kind == "post+get":
            self.gets.append(got)
        return posted == 200 and status == 200, b"x-mediarec-cache: hit" in head, took


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def closed(spec: dict[str, Any], work: Work, host: str, port: int) -> dict[str, Any]:
    lat: list[float] = []
    counts = {"errors": 0, "hits": 0}
    deadline = time.perf_counter() + spec["seconds"]
    timeout = spec["timeout"]

    async def client() -> None:
        conn: Conn | None = None
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            ok, hit, took = False, False, None
            try:
                if conn is None or not conn.usable:
                    conn = await Conn.open(host, port)
                ok, hit, took = await asyncio.wait_for(work(conn), timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                if conn is not None:
                    conn.close()
                conn = None
            lat.append(took if took is not None else time.perf_counter() - t0)
            counts["errors"] += not ok
            counts["hits"] += hit
        if conn is not None:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(int(spec["level"]))))
    return {**counts, **figures(lat, time.perf_counter() - started)}


async def open_loop(spec: dict[str, Any], work: Work, host: str, port: int) -> dict[str, Any]:
    rate, timeout = float(spec["level"]), spec["timeout"]
    total = int(rate * spec["seconds"])
    lat: list[float] = []
    lag: list[float] = []
    counts = {"errors": 0, "hits": 0, "connections": 0, "dropped_idle": 0}
    idle: list[Conn] = []
    tasks: set[asyncio.Task[None]] = set()

    def reusable() -> Conn | None:
        # As urllib3's pool does (is_connection_dropped) before reusing a keep-alive connection: one
        # the server has closed meanwhile (uvicorn closes it after 5 s idle; the FIN is already in
        # the reader) is dropped, not sent on and counted as the server's error.
        while idle:
            conn = idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            counts["dropped_idle"] += 1
            conn.close()
        return None

    async def one(at: float) -> None:
        conn = reusable()
        ok, hit = False, False
        try:
            if conn is None:
                counts["connections"] += 1
                conn = await asyncio.wait_for(
                    Conn.open(host, port), max(1e-3, at + timeout - time.perf_counter())
                )
            ok, hit, _ = await asyncio.wait_for(work(conn), max(1e-3, at + timeout - time.perf_counter()))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            if conn is not None:
                conn.close()
            conn = None
        took = time.perf_counter() - at  # from the scheduled send: waiting for a connection counts
        lat.append(took)
        counts["errors"] += (not ok) or took > timeout
        counts["hits"] += hit
        if conn is not None and conn.usable:
            idle.append(conn)

    started = time.perf_counter() + 0.05
    for k in range(total):
        at = started + k / rate
        pause = at - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        lag.append(time.perf_counter() - at)
        task = asyncio.ensure_future(one(at))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    dispatched = time.perf_counter() - started
    if tasks:
        await asyncio.wait(set(tasks))
    wall = time.perf_counter() - started
    for conn in idle:
        conn.close()
    # The schedule's span is (total - 1) / rate; the achieved rate is the same count over the time taken.
    achieved = (total - 1) / max(dispatched, 1e-9) if total > 1 else float("nan")
    lag_ms = [x * 1000 for x in lag]
    return {
        **counts,
        **figures(lat, wall),
        "gen_rate": achieved,
        "gen_lag_p50_ms": percentile(lag_ms, 50),
        "gen_lag_p99_ms": percentile(lag_ms, 99),
        "gen_lag_max_ms": max(lag_ms, default=float("nan")),
    }


def figures(lat: list[float], wall: float) -> dict[str, Any]:
    ms = [x * 1000 for x in lat]
    return {
        "requests": len(lat),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "throughput_rps": len(lat) / wall,
    }


def main() -> None:
    spec = json.load(sys.stdin)
    url = urlsplit(spec["base"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    work = Work(spec)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    run = closed if spec["mode"] == "closed" else open_loop
    got = asyncio.run(run(spec, work, host, port))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    got["gen_cpu"] = cpu / max(time.perf_counter() - started, 1e-9)  # cores the generator used
    if work.gets:
        ms = [x * 1000 for x in work.gets]
        got["get_p50_ms"], got["get_p99_ms"] = percentile(ms, 50), percentile(ms, 99)
    json.dump(got, sys.stdout)


if __name__ == "__main__":
    main()
