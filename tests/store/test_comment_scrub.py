"""Comments are stored without e-mail addresses and phone numbers, whichever way they come in: the
library, an import (rows kept and rows refused), the HTTP API."""

from __future__ import annotations

from pathlib import Path

from mediarec.engine import MediaRec
from mediarec.records import EventRecord, ItemRecord
from mediarec.store import Store
from tests.datasets.helpers import write
from tests.serve.helpers import serving

EMAIL = "jane.doe@example.org"
PHONE = "+44 20 7946 0958"
COMMENT = f"Great dough tips! Write me at {EMAIL} or call {PHONE}, see you in 2024."
SCRUBBED = "Great dough tips! Write me at [email] or call [phone], see you in 2024."


def _raw(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_the_store_keeps_comments_scrubbed(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    store.upsert_items([ItemRecord("pasta", "Pasta")])
    store.add_events([EventRecord("u1", "pasta", "comment", None, 1.0, COMMENT)])
    assert [e.comment for e in store.user_events("u1")] == [SCRUBBED]
    store.close()
    assert EMAIL.encode() not in _raw(tmp_path) and b"7946" not in _raw(tmp_path)


def test_imports_scrub_comments_and_refused_rows(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "data",
        {
            "items.csv": "id,title\npasta,Pasta\n",
            "interactions.csv": (
                "user,item,type,timestamp,comment\n"
                f'u1,pasta,comment,1,"{COMMENT}"\n'
                f'u2,pasta,shout,2,"{COMMENT}"\n'  # refused: unknown event type, kept in import_errors
            ),
        },
    )
    home = tmp_path / "home"
    engine = MediaRec(home)
    report = engine.import_data(folder)
    assert report.events_new == 1 and len(report.bad_rows) == 1
    assert [e.comment for e in engine.store.user_events("u1")] == [SCRUBBED]
    stored_bad = engine.store.import_errors(report.run_id)
    assert len(stored_bad) == 1 and "[email]" in stored_bad[0].raw and EMAIL not in stored_bad[0].raw
    engine.close()
    raw = _raw(home)
    assert EMAIL.encode() not in raw and b"7946" not in raw


def test_the_api_stores_comments_scrubbed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine = MediaRec(home)
    engine.add_items([ItemRecord("pasta", "Pasta")])
    with serving(engine) as api:
        r = api.client.post(
            "/interactions",
            json={"user": "u1", "item": "pasta", "type": "comment", "comment": COMMENT},
            headers=api.auth,
        )
        assert r.status_code in (200, 201), r.text
        r = api.client.post(
            "/interactions/batch",
            json=[{"user": "u2", "item": "pasta", "type": "comment", "comment": COMMENT}],
            headers=api.auth,
        )
        assert r.status_code in (200, 201), r.text
    assert [e.comment for e in engine.store.user_events("u1")] == [SCRUBBED]
    assert [e.comment for e in engine.store.user_events("u2")] == [SCRUBBED]
    engine.close()
    raw = _raw(home)
    assert EMAIL.encode() not in raw and b"7946" not in raw


def test_comments_stored_before_the_rule_are_scrubbed_on_upgrade(tmp_path: Path) -> None:
    import sqlite3

    from mediarec.store.migrations import MIGRATIONS, scrub_stored_comments

    path = tmp_path / "db.sqlite"
    store = Store(path)
    store.upsert_items([ItemRecord("pasta", "Pasta")])
    store.add_events([EventRecord("u1", "pasta", "comment", None, 1.0, "placeholder")])
    run = store.start_import("old.csv", "generic")
    store.close()
    # As an older mediarec stored them: verbatim, and the schema from before the scrubbing migration.
    con = sqlite3.connect(path)
    con.execute("UPDATE interactions SET comment = ?", (COMMENT,))
    con.execute(
        "INSERT INTO import_errors (run_id, file, line, reason, raw) VALUES (?, 'f', 2, 'r', ?)",
        (run, COMMENT),
    )
    con.execute(f"PRAGMA user_version = {MIGRATIONS.index(scrub_stored_comments)}")
    con.commit()
    con.close()
    upgraded = Store(path)
    assert [e.comment for e in upgraded.user_events("u1")] == [SCRUBBED]
    assert [b.raw for b in upgraded.import_errors(run)] == [SCRUBBED]
    assert EMAIL.encode() not in _raw(tmp_path)  # the WAL is checkpointed and truncated too
    upgraded.close()
