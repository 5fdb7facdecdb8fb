"""``mediarec serve --http granian``: the same app under granian instead of uvicorn.

Why a second HTTP server: once a cache hit is answered on the event loop (serve/hits.py), most of a
hit's cost is the HTTP layer itself (parsing, the ASGI hand-off, sending). granian does that part
in Rust; measured side by side on one 2-core box it served about twice the hits per second of
uvicorn at 10-50 clients (docs/benchmarks.md, "Serving with a result cache"). uvicorn stays the
default: it is what FastAPI documents, and the SO_REUSEPORT workers of serve/workers.py are tested
against it longest.

Workers are granian's own processes (spawned, each building its engine from the environment that
:func:`mediarec.serve.workers.worker_env` sets, like uvicorn's workers); granian accepts on one
shared socket from its Rust runtime, so the burst-to-one-worker problem of uvicorn's shared socket
(serve/workers.py) does not arise.
"""

from __future__ import annotations

from typing import Any

# A worker's graceful shutdown (the write queue drains in the app's lifespan) before it is killed;
# the same bound as serve/workers.py's uvicorn workers.
KILL_SECONDS = 30


def run(app: str, host: str, port: int, workers: int) -> None:
    """Serve the ASGI app factory ``app`` (an import path) from ``workers`` granian processes;
    returns when granian stops (SIGINT/SIGTERM). ImportError when granian is not installed."""
    from granian import Granian
    from granian.constants import Interfaces

    options: dict[str, Any] = {
        "address": host,
        "port": port,
        "interface": Interfaces.ASGI,
        "workers": workers,
        "factory": True,
        "log_access": False,
        "respawn_failed_workers": True,  # a worker that dies after starting is replaced, as with uvicorn
        "workers_kill_timeout": KILL_SECONDS,
    }
    Granian(app, **options).serve()
