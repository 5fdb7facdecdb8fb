"""A real, throw-away PostgreSQL cluster for the tests (fixtures imported by tests/conftest.py).

``pg_cluster`` (session): ``initdb`` from Debian's ``postgresql`` package (the newest version under
/usr/lib/postgresql) into a temporary folder, run as an unprivileged user when the tests run as root
(``nobody``), listening on a free port of 127.0.0.1 with fsync off, stopped and removed at the end
(also when tests fail; ``atexit`` covers an interrupted run). Nothing of a system-wide cluster is used.
``pg_url`` (per test): a fresh database, cloned from a template that already holds the schema, dropped
after the test. Both skip with the reason when the binaries or psycopg are missing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

TEMPLATE = "mediarec_template"


def _bin_dir() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="mediarec-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root.
            self.user = "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        self.running = False

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            user=self.user,
            cwd=self.root,
            timeout=120,
        )

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self.running = True
        atexit.register(self.stop)

    def stop(self) -> None:
        if self.running:
            self.running = False
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def make_template(self) -> None:
        """A database with the store's schema, which each test's database is cloned from."""
        from mediarec.store import Store

        self.admin(f"CREATE DATABASE {TEMPLATE}")
        Store(self.url(TEMPLATE)).close()
        self.forget_counter(TEMPLATE)

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.forget_counter(name)

    def forget_counter(self, name: str) -> None:
        """Remove the host's change counter of a database (store/changes.py, a file in /dev/shm)."""
        from mediarec.store.backend import normalise_url
        from mediarec.store.changes import counter_path, store_key

        counter_path(store_key(normalise_url(self.url(name)))).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[postgres]')")
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
        )
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
        cluster.make_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, empty-but-migrated PostgreSQL store URL for one test."""
    name = pg_cluster.new_database()
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.drop_database(name)
