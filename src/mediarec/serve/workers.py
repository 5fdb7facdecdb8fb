"""The app of one of several ``mediarec serve --workers N`` processes.

uvicorn starts each worker by import path, so the settings the command resolved (data home, store
URL, listen address) reach the workers through the environment variables below. Each worker has its
own engine and result cache; all of them check each answer against the shared store, so they stay
as true as one process (rank/cache.py). :func:`run` starts and supervises the processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)
STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that could not start (uvicorn.config)

HOME_VAR = "MEDIAREC_SERVE_WORKER_HOME"
STORE_VAR = "MEDIAREC_SERVE_WORKER_STORE_URL"
HOST_VAR = "MEDIAREC_SERVE_WORKER_HOST"


def worker_env(home: str, store_url: str | None, host: str) -> dict[str, str]:
    return {HOME_VAR: home, STORE_VAR: store_url or "", HOST_VAR: host}


def app() -> Any:
    """uvicorn's factory (``mediarec.serve.workers:app``)."""
    from mediarec.engine import MediaRec
    from mediarec.serve import create_app
    from mediarec.settings import load_settings

    settings = load_settings(os.environ[HOME_VAR], store_url=os.environ.get(STORE_VAR) or None)
    return create_app(MediaRec(settings=settings), host=os.environ[HOST_VAR])


# -- several processes on one port ----------------------------------------------------------------
# uvicorn's own ``--workers`` binds one socket in the supervisor and every worker accepts from it;
# asyncio accepts every pending connection on each wake-up (up to its backlog), so a burst of
# keep-alive connections (a proxy's pool, a load generator's clients) lands on whichever worker
# woke first: measured, 10 clients' connections all went to one of two workers, which then served
# alone on one core. Here each worker listens on its own socket bound with SO_REUSEPORT, and the
# kernel spreads new connections over them by their address hash.
STOP_SECONDS = 30.0  # a worker's graceful shutdown (draining the write queue) before it is killed


def listen_socket(host: str, port: int, reuse_port: bool = True) -> socket.socket:
    """A TCP socket bound to (host, port), as uvicorn binds one, plus SO_REUSEPORT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket in the port's group, then uvicorn on it."""
    import uvicorn

    try:
        sock = listen_socket(host, port)
    except OSError as exc:
        print(f"worker cannot listen on {host}:{port}: {exc}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options)).run(sockets=[sock])


def run(app: str, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (an import path; ``options`` are uvicorn.Config's) from ``workers`` processes,
    each with its own SO_REUSEPORT socket on (host, port). A worker that dies after starting is
    replaced; one that cannot start stops them all. SIGINT/SIGTERM stop the workers gracefully."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise RuntimeError("several workers need SO_REUSEPORT (Linux, BSD, macOS)")
    # Taken already (by anyone, another mediarec among them)? A plain bind fails then, where a
    # SO_REUSEPORT bind by the same user would join that server's group unnoticed.
    listen_socket(host, port, reuse_port=False).close()
    spawn = multiprocessing.get_context("spawn")  # never fork a process holding store connections

    def start() -> Any:
        proc = spawn.Process(target=_worker, args=(app, host, port, options), daemon=False)
        proc.start()
        return proc

    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs = [start() for _ in range(workers)]
    try:
        while not stopping.wait(0.5):
            for i, proc in enumerate(procs):
                if proc.is_alive():
                    continue
                if proc.exitcode == STARTUP_FAILURE:
                    log.error("worker %s could not start; stopping", proc.pid)
                    stopping.set()
                    break
                log.warning("worker %s exited with %s; starting another", proc.pid, proc.exitcode)
                procs[i] = start()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn's graceful shutdown (the writer drains)
        deadline = time.monotonic() + STOP_SECONDS
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
