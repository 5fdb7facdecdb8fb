from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mediarec.datasets import (
    FORMATS,
    ImportFormatError,
    ImportReport,
    detect_format,
    import_path,
    load_dataset,
    read,
)
from mediarec.store import Store
from tests.datasets.helpers import write


def test_formats_are_tried_specific_first() -> None:
    assert list(FORMATS) == ["split", "movielens", "recbole", "ml1m", "generic"]
    assert all(callable(m.detect) and callable(m.read) for m in FORMATS.values())
    assert [n for n, m in FORMATS.items() if getattr(m, "IMPLICIT_ITEMS", False)] == ["split"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"train.txt": "0 0\n", "test.txt": "0 1\n", "movies.dat": "1::A::B\n"}, "split"),
        (
            {
                "movies.csv": "movieId,title,genres\n",
                "ratings.csv": "userId,movieId,rating,timestamp\n",
                "items.csv": "id\n",
            },
            "movielens",
        ),
        ({"x.inter": "user_id:token\titem_id:token\n", "items.csv": "id\n"}, "recbole"),
        ({"movies.dat": "1::A::B\n", "ratings.dat": ""}, "ml1m"),
        ({"interactions.csv": "user,item\n"}, "generic"),
    ],
)
def test_detection_picks_the_most_specific_layout(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert detect_format(write(tmp_path / "src", files)) == expected


def test_unknown_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no such file"):
        detect_format(tmp_path / "missing")
    with pytest.raises(ImportFormatError, match="cannot tell the format"):
        detect_format(write(tmp_path / "odd", {"notes.txt": "hello"}))
    with pytest.raises(ImportFormatError, match="unknown format 'nope'"):
        read(tmp_path, fmt="nope")


def test_import_run_is_recorded_and_reimport_adds_nothing(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "g",
        {
            "items.csv": "id,title\na,A\nb,B\n",
            "interactions.csv": "user,item,type,timestamp\nu1,a,view,1\nu1,b,like,2\nu2,a,view,3"
            "\nu2,q,view,4\n",
        },
    )
    seen: list[int] = []

    def progress(report: ImportReport) -> None:
        seen.append(report.events_read)

    with Store(tmp_path / "db.sqlite") as store:
        first = import_path(store, folder, batch_size=2, progress=progress)
        assert seen == [2, 4, 4], "progress after every event batch and at the end"
        assert (first.items_new, first.events_new, first.events_already_stored) == (2, 3, 0)
        counts = store.counts()
        assert counts == {"items": 2, "users": 2, "interactions": 3, "item_features": 0}
        second = import_path(store, folder)
        assert store.counts() == counts
        assert second.items_read == 2 and second.items_new == 0
        assert second.events_new == 0 and second.events_already_stored == 3 == second.events_read - 1
        runs = store.conn.execute("SELECT id, status, format, counts FROM import_runs ORDER BY id").fetchall()
        assert [(r[1], r[2]) for r in runs] == [("done", "generic"), ("done", "generic")]
        assert json.loads(runs[1][3])["events_already_stored"] == 3
        assert [b.reason for b in store.import_errors(second.run_id)] == ["unknown item 'q'"]


def _generate(folder: Path, rows: int) -> int:
    """items.csv and a large interactions.csv with some repeated rows; returns the distinct events."""
    folder.mkdir()
    (folder / "items.csv").write_text("id,title\n" + "".join(f"i{n},Item {n}\n" for n in range(1000)))
    lines = ["user,item,type,timestamp\n"]
    distinct = 0
    for n in range(rows):
        if n % 50 == 49:
            lines.append(lines[-1])  # a repeated row is one event, stored once
            continue
        lines.append(f"u{n % 5000},i{(n * 7) % 1000},view,{1_600_000_000 + n}\n")
        distinct += 1
    (folder / "interactions.csv").write_text("".join(lines))
    return distinct


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM interactions").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created or migrated yet
        return 0


def test_import_killed_midway_finishes_on_rerun_without_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    distinct = _generate(folder, 300_000)
    db = tmp_path / "db.sqlite"
    code = (
        "import sys\n"
        "from mediarec.datasets import import_path\n"
        "from mediarec.store import Store\n"
        "import_path(Store(sys.argv[1]), sys.argv[2], batch_size=2000)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while _stored(db) < 20_000:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"the import ended (rc={proc.returncode}) before it could be killed: {err}")
            if time.monotonic() > deadline:
                pytest.fail("the import stored too little in 60 s")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = _stored(db)
    assert 20_000 <= partial < distinct, "killed midway: some but not all events stored"

    with Store(db) as store:
        report = import_path(store, folder, batch_size=20_000)
        total, unique = store.conn.execute(
            "SELECT count(*), count(DISTINCT user_id || '|' || item_id || '|' || type || '|' || ts) "
            "FROM interactions"
        ).fetchone()
        assert total == unique == distinct
        assert report.events_new == distinct - partial
        assert report.events_read == 300_000 and report.bad_rows == []
        statuses = [r[0] for r in store.conn.execute("SELECT status FROM import_runs ORDER BY id")]
        # The next run finds the killed run's process gone and marks it, so it never reads as running.
        assert statuses == ["interrupted", "done"], "the killed run is marked, not left running"


def test_load_dataset_names_the_source_and_format(tmp_path: Path) -> None:
    folder = write(tmp_path / "g", {"interactions.csv": "user,item\nu,a\n"})
    ds = load_dataset(folder)
    assert ds.name == "g (generic)" and len(ds.events) == 1


class _FakeStoreFailingSecondBatch(Store):
    """A fake for this test only: a real SQLite store whose second event batch fails to write."""

    batches = 0

    def add_event_columns(self, *columns, create_missing_items=False):  # type: ignore[no-untyped-def]
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("disk full (fake)")
        return super().add_event_columns(*columns, create_missing_items=create_missing_items)


def test_a_failed_write_stops_the_import_keeps_earlier_batches_and_marks_the_run(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "g",
        {
            "items.csv": "id,title\na,A\nb,B\n",
            "interactions.csv": "user,item,type,timestamp\n"
            + "".join(f"u{k},a,view,{k}\n" for k in range(10)),
        },
    )
    with _FakeStoreFailingSecondBatch(tmp_path / "db.sqlite") as store:
        with pytest.raises(RuntimeError, match="disk full"):
            import_path(store, folder, batch_size=3)
        assert store.counts()["interactions"] == 3, "the batch written before the failure stays"
        status = store.conn.execute("SELECT status FROM import_runs").fetchall()
        assert [r[0] for r in status] == ["failed"]


def test_imports_do_not_leave_writer_connections_open(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "g",
        {"items.csv": "id,title\na,A\n", "interactions.csv": "user,item,type,timestamp\nu1,a,view,1\n"},
    )
    with Store(tmp_path / "db.sqlite") as store:
        import_path(store, folder)
        opened = len(store._all)
        for _ in range(3):
            import_path(store, folder)
        assert len(store._all) == opened


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_batches_written_concurrently_store_every_event_once(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """On PostgreSQL two event batches are in flight at once; users shared by many batches (created
    by whichever batch comes first) and duplicated events must still end up stored exactly once."""
    lines = [f"u{k % 37},i{k % 11},view,{k}\n" for k in range(3000)]
    lines += lines[:500]  # duplicates, in later batches
    folder = write(
        tmp_path / "g",
        {
            "items.csv": "id,title\n" + "".join(f"i{k},Item {k}\n" for k in range(11)),
            "interactions.csv": "user,item,type,timestamp\n" + "".join(lines),
        },
    )
    url = str(request.getfixturevalue("pg_url")) if backend == "postgresql" else tmp_path / "db.sqlite"
    with Store(url) as store:
        first = import_path(store, folder, batch_size=97)
        assert (first.events_new, first.events_already_stored) == (3000, 500)
        assert store.counts()["interactions"] == 3000 and store.counts()["users"] == 37
        again = import_path(store, folder, batch_size=97)
        assert again.events_new == 0 and store.counts()["interactions"] == 3000
