"""A real mediarec API server in a child process, for the serving benchmarks.

The server runs in its own process so that the load generator's threads never share its GIL;
access logging is off, as it would be behind a reverse proxy that logs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _peers import stop, wait_health  # a sibling: bench/ is on the path wherever this is imported


def app_factory() -> Any:
    """The app for one of several uvicorn worker processes (see :func:`server`)."""
    from mediarec.engine import MediaRec
    from mediarec.serve import create_app

    return create_app(MediaRec(os.environ["MEDIAREC_BENCH_HOME"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(home: Path, workers: int = 1, timeout: float = 120.0) -> Iterator[tuple[str, str]]:
    """Start ``uvicorn`` over ``create_app`` for ``home``; yields (base URL, API key)."""
    port = free_port()
    # Several workers need the app by import path; each process then builds its own engine.
    code = (
        "import sys, uvicorn\n"
        "from mediarec.engine import MediaRec\n"
        "from mediarec.serve import create_app\n"
        "engine = MediaRec(sys.argv[1])\n"
        "app = create_app(engine)\n"
        "print('KEY', engine.settings.api_key or (engine.home / 'api_key').read_text().strip(), flush=True)\n"
        "opts = dict(log_level='warning', access_log=False)\n"
        "if int(sys.argv[3]) == 1:\n"
        "    uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), **opts)\n"
        "else:  # as `mediarec serve --workers N` runs them: a SO_REUSEPORT socket each\n"
        "    engine.close()\n"
        "    from mediarec.serve.workers import run\n"
        "    port, workers = int(sys.argv[2]), int(sys.argv[3])\n"
        "    run('_server:app_factory', '127.0.0.1', port, workers, factory=True, **opts)\n"
    )
    here = str(Path(__file__).resolve().parent)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MEDIAREC_BENCH_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(home), str(port), str(workers)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        key = line.split(" ", 1)[1].strip() if line.startswith("KEY") else ""
        wait_health(proc, f"{base}/health", timeout)
        yield base, key
    finally:
        stop(proc)
