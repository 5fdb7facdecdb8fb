"""``mediarec serve --http granian`` (serve/granian_run.py): a taken port and an unknown server are
clear errors. The burst of connections over granian's workers is in tests/serve/test_workers.py, the
no-stale check under granian in tests/serve/test_result_cache.py::test_serve_with_two_workers_stays_true."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.helpers import free_port
from tests.serve.test_workers import ROOT

pytest.importorskip("granian", reason="granian ships with the serve extra: pip install 'mediarec[serve]'")


def test_serve_refuses_a_taken_port_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAREC_")}
        cmd = [sys.executable, "-m", "mediarec", "--home", str(tmp_path / "home"), "serve"]
        cmd += ["--port", str(port), "--workers", "2", "--http", "granian"]
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_an_unknown_http_server_setting_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAREC_")}
    env["MEDIAREC_SERVE_HTTP"] = "gunicorn"
    cmd = [
        sys.executable,
        "-m",
        "mediarec",
        "--home",
        str(tmp_path / "home"),
        "serve",
        "--port",
        str(free_port()),
    ]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "serve_http is 'gunicorn'" in out.stderr and "Traceback" not in out.stderr
