"""A real uvicorn server on loopback for the API tests, and the checks they share."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.serve import create_app

# Settings a developer's shell may export; tests of the server's defaults must not inherit them.
SETTINGS_ENV = (
    "MEDIAREC_API_KEY",
    "MEDIAREC_READ_KEY",
    "MEDIAREC_STORE_URL",
    "MEDIAREC_DEFAULT_MODEL",
    "MEDIAREC_HOST",
    "MEDIAREC_MODELS_DIR",
    "MEDIAREC_MODEL_CHECK_SECONDS",
)


@contextmanager
def without_settings_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for var in SETTINGS_ENV:
            mp.delenv(var, raising=False)
        yield


@dataclass
class Api:
    client: httpx.Client
    base_url: str
    engine: MediaRec
    key: str
    app: Any = None  # the FastAPI app, for tests that reach its writer or state

    @property
    def auth(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def recs(self, user: str, **params: str | int) -> dict[str, Any]:
        r = self.client.get(f"/users/{user}/recommendations", params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())


@contextmanager
def serving(engine: MediaRec, **options: Any) -> Iterator[Api]:
    """Run ``create_app(engine, **options)`` under uvicorn in a thread until the block ends."""
    app = create_app(engine, **options)
    # Port 0: the OS picks a free port, read back once the socket is bound.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during startup"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            yield Api(client, base_url, engine, app.state.api_key, app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive(), "uvicorn did not shut down"


def trained_demo_home(path: Path) -> Path:
    """``path`` made a home holding the demo catalogue's rows and ALS (16 factors) trained on them."""
    with without_settings_env(), MediaRec(path) as engine:
        load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        engine.train("als", factors=16)
    return path


@contextmanager
def serving_home(home: Path, env: dict[str, str]) -> Iterator[Api]:
    """A fresh engine on ``home`` served as :func:`serving` does, with ``env`` set meanwhile."""
    with without_settings_env(), pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        with MediaRec(home) as engine, serving(engine) as api:
            yield api


def assert_error(r: httpx.Response, status: int, *fragments: str) -> str:
    """The response is the API's JSON error shape with this status and these words in the message."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "status"}
    assert body["status"] == status
    for fragment in fragments:
        assert fragment in body["error"]
    assert "Traceback" not in body["error"]
    return str(body["error"])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServeProcess:
    """A real ``mediarec serve`` subprocess on loopback (see :func:`start_serve`)."""

    proc: Any  # subprocess.Popen
    client: httpx.Client

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)


def start_serve(home: Any, env: dict[str, str]) -> ServeProcess:
    """Start ``mediarec --home HOME serve`` with ``env`` on a free port and return at once, so that
    several can start side by side; :func:`wait_up` waits for one to answer."""
    import subprocess
    import sys

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediarec", "--home", str(home), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return ServeProcess(proc, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))


def wait_up(server: ServeProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise AssertionError(server.proc.stderr.read() if server.proc.stderr else "server exited")
        try:
            if server.client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the server did not start within {timeout:.0f} s"
        time.sleep(0.1)
