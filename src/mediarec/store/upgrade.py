"""Bring a store's schema up to date when it opens: legacy migrations first (old SQLite homes), then
Alembic, run programmatically with the scripts shipped in ``store/alembic`` (no alembic.ini).

* A fresh database (either backend) gets the schema from Alembic; a fresh SQLite file is also marked
  ``user_version = 7``, so that it reads as fully migrated to the legacy runner too.
* An SQLite home from before Alembic (``user_version`` 1..7, no ``alembic_version`` table) runs the
  legacy migrations it lacks, then is stamped at :data:`LEGACY_REVISION`, the revision whose schema
  equals legacy migration 7: nothing is dropped or recreated, every row stays where it was.
* A database at the newest revision costs one small query per open; Alembic is loaded only when
  there is something to do.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from mediarec.store.errors import StoreError
from mediarec.store.migrations import MIGRATIONS, run_legacy

LEGACY_REVISION = "0001_schema7"
HEAD_REVISION = "0003_notify"  # keep equal to the newest script in store/alembic/versions
_SCRIPTS = Path(__file__).parent / "alembic"
# Any number, the same in every mediarec process: two processes opening a fresh PostgreSQL store at
# once take turns instead of both creating the tables.
_PG_LOCK = 0x6D656472


def upgrade_store(engine: Engine, sqlite_path: Path | None) -> bool:
    """Run what the database lacks; returns whether legacy migrations rewrote an existing home
    (its WAL should then be checkpointed, as those may have rewritten personal data)."""
    rewrote = False
    if sqlite_path is not None:
        rewrote = _legacy(sqlite_path)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # pysqlite opens no transaction by itself here (see backend._sqlite_pragmas): take the
            # write lock at BEGIN, so the whole upgrade is one transaction and one writer.
            event.listen(conn, "begin", lambda c: c.exec_driver_sql("BEGIN IMMEDIATE"))
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
            current = _revision(conn)
            if current == HEAD_REVISION:
                return rewrote
            if current is None and sqlite_path is not None and _has_table(conn, "items"):
                # A legacy home, now at legacy migration 7: the same schema as LEGACY_REVISION.
                _alembic(conn, "stamp", LEGACY_REVISION)
                current = LEGACY_REVISION
            _alembic(conn, "upgrade", "head")
            if sqlite_path is not None:
                conn.exec_driver_sql(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return rewrote


def _legacy(path: Path) -> bool:
    con = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        version = int(con.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{path} has schema version {version}, newer than this mediarec knows "
                f"({len(MIGRATIONS)}); upgrade mediarec"
            )
        if version == 0 or version == len(MIGRATIONS):
            return False  # fresh (Alembic makes it) or done
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA secure_delete=ON")
        run_legacy(con, path)
        return True
    finally:
        con.close()


def _revision(conn: Connection) -> str | None:
    if not _has_table(conn, "alembic_version"):
        return None
    row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def _has_table(conn: Connection, name: str) -> bool:
    from sqlalchemy import inspect

    return bool(inspect(conn).has_table(name))


def _alembic(conn: Connection, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = conn
    current = _revision(conn)
    if current is not None:
        try:
            ScriptDirectory.from_config(cfg).get_revision(current)
        except Exception:  # alembic's ResolutionError / CommandError: a revision it has no script for
            raise StoreError(
                f"the store is at schema revision {current!r}, newer than this mediarec knows "
                f"({HEAD_REVISION!r}); upgrade mediarec"
            ) from None
    if action == "stamp":
        command.stamp(cfg, revision)
    else:
        command.upgrade(cfg, revision)
