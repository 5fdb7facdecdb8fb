"""`mediarec delete-user` beside a running server: the server forgets the user at once, without a
restart. A real `mediarec serve` process on loopback and the CLI in another process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediarec.engine import MediaRec
from mediarec.records import EventRecord, ItemRecord

ITEMS = [ItemRecord(f"clip-{i}", f"Clip {i}") for i in range(8)]


def _home(home: Path) -> None:
    engine = MediaRec(home)
    engine.add_items(ITEMS)
    t = 1_700_000_000.0
    events = [
        EventRecord(f"u{u}", f"clip-{(u + k) % 8}", "view", 1.0, t + 10 * u + k)
        for u in range(12)
        for k in range(3)
    ]
    # The leaver is one more viewer of clip-7 and of clip-0.
    events += [
        EventRecord("leaver", "clip-7", "view", 1.0, t + 500),
        EventRecord("leaver", "clip-0", "like", None, t + 501),
    ]
    engine.add_events(events)
    engine.train("als", factors=4, iterations=3)
    engine.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, httpx.Client]]:
    home = tmp_path / "home"
    _home(home)
    port = _free_port()
    env = {**os.environ, "MEDIAREC_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediarec", "--home", str(home), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else "server exited"
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.1)
            yield home, client
    finally:
        proc.terminate()
        proc.wait(30)


def _popular(client: httpx.Client, user: str) -> dict[str, Any]:
    r = client.get(f"/users/{user}/recommendations", params={"n": 8})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _viewers(body: dict[str, Any], kind: str = "popular") -> dict[str, int]:
    out = {}
    for item in body["items"]:
        for reason in item["reasons"]:
            if reason["kind"] == kind:
                out[item["item_id"]] = reason["evidence"]["viewers"]
    return out


def test_a_cli_deletion_reaches_the_running_server(server: tuple[Path, httpx.Client]) -> None:
    home, client = server
    before = _popular(client, "someone-new")
    assert before["fallback"] is True
    viewers = _viewers(before)
    assert viewers["clip-7"] == 4 and viewers["clip-0"] == 5  # the leaver among them
    assert _popular(client, "leaver")["fallback"] is False  # the model has the leaver's row
    trending = _viewers(_popular(client, "u3"), "trending")
    assert trending["clip-7"] == 4 and trending["clip-0"] == 5

    done = subprocess.run(
        [sys.executable, "-m", "mediarec", "--home", str(home), "delete-user", "leaver"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    # No restart: the very next requests count the leaver nowhere.
    after = _viewers(_popular(client, "someone-new"))
    assert after == {**viewers, "clip-7": 3, "clip-0": 4}
    assert _popular(client, "leaver")["fallback"] is True
    assert _viewers(_popular(client, "u3"), "trending") == {**trending, "clip-7": 3, "clip-0": 4}
