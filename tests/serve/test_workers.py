"""``mediarec serve --workers N``'s processes: each listens on its own SO_REUSEPORT socket, so a
burst of keep-alive connections spreads over them (with one shared socket, the worker that woke
first accepted the whole burst and served it alone on one core)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serve.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _pids_of_burst(port: int, count: int) -> list[int]:
    """Open ``count`` connections at once (all queued before any is accepted), then ask each which
    process answers it."""
    conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        for c in conns:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return [_pid(c) for c in conns]
    finally:
        for c in conns:
            c.close()


def _pid(conn: socket.socket) -> int:
    data = b""
    while True:  # the app sends the head and the body in two writes
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")),
            -1,
        )
        if 0 <= length <= len(body):
            return int(body[:length])
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("connection closed")
        data += chunk


def _wait_listening(proc: subprocess.Popen[str], port: int, workers: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
        try:
            # Every worker up: enough single connections have reached each of them.
            seen = {p for _ in range(12) for p in _pids_of_burst(port, 1)}
            if len(seen) >= workers:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.2)


def _run(port: int, workers: int, http: str = "uvicorn") -> list[str]:
    if http == "granian":  # `serve --http granian` (serve/granian_run.py): granian's own workers
        pytest.importorskip(
            "granian", reason="granian ships with the serve extra: pip install 'mediarec[serve]'"
        )
        code = (
            "import sys; from mediarec.serve.granian_run import run; "
            "run('tests.serve._pid_app:factory', '127.0.0.1', int(sys.argv[1]), int(sys.argv[2]))"
        )
    else:
        code = (
            "import sys; from mediarec.serve.workers import run; "
            "run('tests.serve._pid_app:app', '127.0.0.1', int(sys.argv[1]), int(sys.argv[2]), "
            "log_level='warning')"
        )
    return [sys.executable, "-c", code, str(port), str(workers)]


@pytest.mark.parametrize("http", ["uvicorn", "granian"])
def test_a_burst_of_connections_reaches_every_worker(http: str) -> None:
    port = free_port()
    proc = _start(_run(port, 2, http))
    try:
        _wait_listening(proc, port, 2)
        pids = _pids_of_burst(port, 24)
        # By the connections' hash: all 24 on one of two sockets has a chance of 2 in 16 million.
        assert len(set(pids)) == 2, pids
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert {str(p) for p in pids} <= set(children)
    finally:
        proc.terminate()
        assert proc.wait(40) == 0
    # SIGTERM reached the workers: nothing listens any more.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_taken_port_is_refused_not_shared() -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = _start(_run(taken.getsockname()[1], 2))
        try:
            assert proc.wait(30) != 0
            assert "Address already in use" in (proc.stderr.read() if proc.stderr else "")
        finally:
            if proc.poll() is None:
                proc.kill()
