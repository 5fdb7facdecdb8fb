"""A cache of LLM results, so that a batch run resumes after a crash and reruns cost nothing.

A result is stored under (model id, prompt version, sha256 of the input): a new model or a new
prompt (the caller bumps its version whenever the wording or the schema changes) misses, and so
does any change of the input. The input is hashed in a canonical JSON form, so a dict with its keys
in another order is the same input. One SQLite file in a folder the caller chooses (normally in
the data home), written in WAL mode so that readers do not wait for a long batch.

A result made from one user's data (a taste profile) names that user as its ``owner``, so that
deleting the user forgets every such result (:meth:`ResultCache.forget_owner`), including those of
drafts that were never stored as a profile. A result shared by several users (a steering request's
parse: the same words from anyone parse the same) records each user who asked for it
(:meth:`ResultCache.claim`), and deleting any one of them forgets the result. Forgotten rows are
zeroed (``secure_delete``) and the WAL is truncated, so they leave no trace in the cache's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from mediarec.llm.backends import Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_results (
    model_id TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    value TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    PRIMARY KEY (model_id, prompt_version, input_sha256)
)
"""
# Added after the first release: caches made before have the table without the column.
_OWNER = "ALTER TABLE llm_results ADD COLUMN owner TEXT"
_OWNER_INDEX = "CREATE INDEX IF NOT EXISTS llm_results_owner ON llm_results (owner) WHERE owner IS NOT NULL"
# Who asked for a shared result. Here, beside the results, not in the store: the cache is its own file
# (whatever the store's backend), and a link must go in the same transaction as the row it names.
_ASKERS = """
CREATE TABLE IF NOT EXISTS llm_result_askers (
    owner TEXT NOT NULL,
    model_id TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    PRIMARY KEY (owner, model_id, prompt_version, input_sha256)
)
"""


def input_hash(data: Any) -> str:
    """sha256 of ``data``: a string's UTF-8 bytes, anything else's canonical JSON."""
    text = data if isinstance(data, str) else json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResultCache:
    """``get``/``put`` of JSON values in ``<folder>/llm-cache.sqlite``."""

    FILE = "llm-cache.sqlite"

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / self.FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(llm_results)")}
        if "owner" not in columns:
            try:
                self._db.execute(_OWNER)
            except sqlite3.OperationalError as exc:  # another process added it just now
                if "duplicate column" not in str(exc):
                    raise
        self._db.execute(_OWNER_INDEX)
        self._db.execute(_ASKERS)

    def get(self, model_id: str, prompt_version: str, data: Any) -> Any | None:
        """The stored value, or None on a miss (values are objects, never a bare ``null``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM llm_results WHERE model_id=? AND prompt_version=? AND input_sha256=?",
                (model_id, prompt_version, input_hash(data)),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(
        self,
        model_id: str,
        prompt_version: str,
        data: Any,
        value: Any,
        usage: Usage | None = None,
        owner: str | None = None,
    ) -> None:
        """Store ``value`` (replacing an older one); committed at once, so a crash loses nothing.
        ``owner``: the user whose data the input is, if any (see :meth:`forget_owner`)."""
        u = usage or Usage()
        with self._lock:
            self._db.execute(
                """INSERT OR REPLACE INTO llm_results (model_id, prompt_version, input_sha256, value,
                   prompt_tokens, completion_tokens, seconds, created, owner)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    model_id,
                    prompt_version,
                    input_hash(data),
                    json.dumps(value, ensure_ascii=False),
                    u.prompt_tokens,
                    u.completion_tokens,
                    u.seconds,
                    time.time(),
                    owner,
                ),
            )

    def forget(self, model_id: str, prompt_version: str, input_sha256: str) -> int:
        """Drop one result by its key, the input given as its hash (what callers store beside the
        result); a deleted user's profile must not live on here. Returns the rows removed."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM llm_results WHERE model_id=? AND prompt_version=? AND input_sha256=?",
                (model_id, prompt_version, input_sha256),
            )
        return int(cur.rowcount)

    def claim(self, owner: str, model_id: str, prompt_version: str, data: Any) -> None:
        """Record that ``owner`` asked for this (shared) result, so that :meth:`forget_owner` drops it."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO llm_result_askers VALUES (?, ?, ?, ?)",
                (owner, model_id, prompt_version, input_hash(data)),
            )

    def forget_owner(self, owner: str) -> int:
        """Drop every result made from ``owner``'s data or claimed by them (with every claim on those
        results: other askers get theirs made again); returns the results removed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                keys = self._db.execute(
                    "SELECT model_id, prompt_version, input_sha256 FROM llm_result_askers WHERE owner = ?",
                    (owner,),
                ).fetchall()
                n = self._db.execute("DELETE FROM llm_results WHERE owner = ?", (owner,)).rowcount
                for key in keys:
                    where = "model_id = ? AND prompt_version = ? AND input_sha256 = ?"
                    n += self._db.execute(f"DELETE FROM llm_results WHERE {where}", key).rowcount
                    self._db.execute(f"DELETE FROM llm_result_askers WHERE {where}", key)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return int(n)

    def checkpoint(self) -> bool:
        """Fold the WAL into the file and truncate it, so forgotten answers are gone from both
        (they were zeroed in the pages). False when a reader kept the WAL busy."""
        with self._lock:
            return not self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM llm_results").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
