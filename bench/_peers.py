"""The peers of bench_serve.py, each a real server in its own process on loopback.

- Cornac 3.0.1's serving app (``FLASK_APP=cornac.serving.app flask run``, configured by
  ``MODEL_PATH``/``MODEL_CLASS``), in a throw-away virtualenv this module makes with ``python -m venv``
  and ``pip install cornac==3.0.1 flask`` (cached under ``~/.cache/mediarec-bench``; not a dependency
  of mediarec). Its MF model is trained there on the same events as mediarec's model, with as many
  factors.
- A bare Starlette app returning precomputed answers (``_bare_app.py``) under uvicorn: the limit.
- Granian serving mediarec's own app, through ``mediarec serve --http granian``'s runner
  (granian ships with the serve extra): the alternative to uvicorn that the issue asks to measure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("MEDIAREC_BENCH_CACHE", Path.home() / ".cache" / "mediarec-bench"))
CORNAC = "cornac==3.0.1"

TRAIN_CORNAC = """
import sys, cornac
from cornac.data import Dataset
rows = [tuple(line.rstrip("\\n").split("\\t")) for line in open(sys.argv[1], encoding="utf-8")]
data = Dataset.from_uir([(u, i, 1.0) for u, i in rows], seed=1)
model = cornac.models.MF(k=int(sys.argv[3]), max_iter=20, learning_rate=0.01, lambda_reg=0.02, seed=1)
model.fit(data)
print(model.save(sys.argv[2], save_trainset=True))
"""


def venv(name: str, packages: list[str]) -> Path:
    """A virtualenv under the cache with ``packages``; made once, reused after."""
    root = CACHE / name
    python = root / "bin" / "python"
    done = root / ".installed"
    if done.exists() and done.read_text() == " ".join(packages):
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    done.write_text(" ".join(packages))
    return python


def train_cornac(pairs: list[tuple[str, str]], factors: int, folder: Path) -> tuple[Path, Path]:
    """(the cornac virtualenv's python, the saved MF model file) trained on ``pairs``."""
    python = venv("cornac-venv", [CORNAC, "flask"])
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "events.tsv"
    data.write_text("".join(f"{u}\t{i}\n" for u, i in pairs), encoding="utf-8")
    out = subprocess.run(
        [str(python), "-c", TRAIN_CORNAC, str(data), str(folder / "models"), str(factors)],
        check=True,
        capture_output=True,
        text=True,
    )
    return python, Path(out.stdout.strip().splitlines()[-1])


def wait_health(proc: subprocess.Popen[Any], url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: server did not start in time")
        time.sleep(0.3)


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate a server started for a benchmark; killed after 30 s, so that one that ignores
    SIGTERM (busy loading a large store) cannot hang the run."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def process(cmd: list[str], env: dict[str, str], health: str) -> Iterator[None]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_health(proc, health)
        yield
    finally:
        stop(proc)


@contextmanager
def cornac_server(python: Path, model: Path, port: int, user: str) -> Iterator[str]:
    env = {
        **os.environ,
        "FLASK_APP": "cornac.serving.app",
        "MODEL_PATH": str(model),
        "MODEL_CLASS": "cornac.models.MF",
    }
    base = f"http://127.0.0.1:{port}"
    flask = python.parent / "flask"
    with process([str(flask), "run", "--port", str(port)], env, f"{base}/recommend?uid={user}&k=1"):
        yield base


@contextmanager
def bare_server(lists: Path, port: int, workers: int = 2) -> Iterator[str]:
    env = {**os.environ, "BARE_LISTS": str(lists), "PYTHONPATH": str(HERE)}
    base = f"http://127.0.0.1:{port}"
    # Its workers listen as mediarec's do (serve/workers.py: a SO_REUSEPORT socket each), so both
    # spread connections over their processes the same way.
    code = (
        "import sys; from mediarec.serve.workers import run; "
        "run('_bare_app:app', '127.0.0.1', int(sys.argv[1]), int(sys.argv[2]), "
        "log_level='warning', access_log=False)"
    )
    cmd = [sys.executable, "-c", code, str(port), str(workers)]
    with process(cmd, env, f"{base}/health"):
        yield base


def _granian(factory: str, env: dict[str, str], port: int, workers: int) -> Any:
    """``factory`` (``module:function`` under bench/) served by the runner that ``mediarec serve
    --http granian`` uses (serve/granian_run.py: the same options)."""
    code = (
        "import sys; from mediarec.serve.granian_run import run; "
        f"run({factory!r}, '127.0.0.1', int(sys.argv[1]), int(sys.argv[2]))"
    )
    env = {**os.environ, **env, "PYTHONPATH": str(HERE)}
    return process(
        [sys.executable, "-c", code, str(port), str(workers)], env, f"http://127.0.0.1:{port}/health"
    )


@contextmanager
def bare_granian(lists: Path, port: int, workers: int = 2) -> Iterator[str]:
    """The bare app under granian, by the same runner as mediarec's: the limit for that server."""
    with _granian("_bare_app:factory", {"BARE_LISTS": str(lists)}, port, workers):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def granian_mediarec(home: Path, port: int, workers: int = 2) -> Iterator[str]:
    """mediarec's app under granian, ``workers`` processes."""
    with _granian("_server:app_factory", {"MEDIAREC_BENCH_HOME": str(home)}, port, workers):
        yield f"http://127.0.0.1:{port}"
