"""bench_serve's own instruments: how the clients' connections were spread over the server's processes."""

from __future__ import annotations

import multiprocessing
import socket
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _hold(port: int, count: int, ready: object, done: object) -> None:
    """A second process accepting ``count`` connections on its own listening socket."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", port))
    srv.listen()
    ready.set()  # type: ignore[attr-defined]
    held = [srv.accept()[0] for _ in range(count)]
    done.wait(10)  # type: ignore[attr-defined]
    for s in held:
        s.close()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")
def test_worker_connections_counts_each_process_established_connections() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from bench_serve import worker_connections
    finally:
        sys.path.remove(str(BENCH))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    other = ctx.Process(target=_hold, args=(port, 2, ready, done))
    other.start()
    try:
        assert ready.wait(30)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        mine = socket.socket()  # and one listening socket in this process with 3 of its own
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        own_port = mine.getsockname()[1]
        extra = [socket.create_connection(("127.0.0.1", own_port)) for _ in range(3)]
        accepted = [mine.accept()[0] for _ in range(3)]
        # The server side only (the clients' ends have another local port), per process; the other
        # process holds its two once it has accepted them.
        deadline = time.monotonic() + 10
        while worker_connections(port) != [2] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker_connections(port) == [2]
        assert worker_connections(own_port) == [3]
        for s in clients + extra + accepted + [mine]:
            s.close()
    finally:
        done.set()
        other.join(10)
