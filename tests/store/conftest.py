"""The store suite runs on both backends: ``store_url`` is an SQLite file or a fresh PostgreSQL
database of the session's throw-away cluster (tests/pg_cluster.py; skipped with the reason where
the PostgreSQL binaries or psycopg are missing)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def sqlite_only(store_url: str) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("SQLite-specific (file, PRAGMA or WAL)")
