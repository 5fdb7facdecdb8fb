"""``store copy``: an embedded home into PostgreSQL, every table, idempotent and resumable, verified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mediarec.cli import main
from mediarec.records import BadRow, EventRecord, ItemRecord
from mediarec.store import Store
from mediarec.store.copy import CopyMismatch, copy_store
from mediarec.store.schema import COPY_ORDER


def _small_home(home: Path) -> Store:
    store = Store(home / "mediarec.db")
    store.upsert_items(
        [
            ItemRecord(
                f"i{n}",
                f"Item {n}",
                kind="audio" if n % 3 else "video",
                duration=float(n),
                creator=f"c{n % 4}",
                metadata={"tags": [f"Tag{n % 5}"], "n": n},
            )
            for n in range(40)
        ]
    )
    store.register_media("f" * 64, ItemRecord("clip", "A clip", uri="media/clip.mp4", duration=3.0))
    events = [EventRecord(f"u{n % 9}", f"i{n % 40}", "view", (n % 10) / 10, float(n)) for n in range(300)]
    events += [EventRecord("u1", "i3", "comment", None, 999.0, "lovely")]
    store.add_events(events)
    rng = np.random.default_rng(0)
    for n in range(12):
        store.add_feature(f"i{n}", "fused", "v1", {"n": n}, rng.normal(size=8).astype(np.float32))
    store.add_feature("i2", "llm", "m|p|h", {"tags": [{"tag": "Cooking"}], "description": "x"})
    run = store.start_import("data.csv", "csv")
    store.add_import_errors(run, [BadRow("data.csv", 4, "bad ts", "u,i,x")])
    store.finish_import(run, "done", {"events": 300})
    store.profiles.add(
        "u1", "You like tag1.", [{"tag": "tag1", "weight": 1.0, "source": "meta"}], "m", "p", "h"
    )
    store.profiles.edit("u1", text="Mine", add_tags=["jazz"])
    store.upsert_items([ItemRecord("gone-item", "x")])
    store.add_events([EventRecord("leaver", "gone-item", "like", None, 5.0)])
    store.delete_user("leaver")  # moves the deletion stamp, which must travel too
    return store


def test_copy_into_postgresql_is_complete_idempotent_and_resumable(tmp_path: Path, pg_url: str) -> None:
    source = _small_home(tmp_path / "home")
    target = Store(pg_url)
    seen: list[tuple[str, int]] = []
    # Interrupted: stop after the first two batches of interactions, as if the process had died.

    def die_midway(table: str, n: int) -> None:
        seen.append((table, n))
        if table == "interactions" and sum(1 for t, _ in seen if t == "interactions") == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_store(source, target, batch_size=50, progress=die_midway)
    assert target.counts()["interactions"] == 100

    reports = {r.table: r for r in copy_store(source, target, batch_size=50)}
    assert set(reports) == {t.name for t, _ in COPY_ORDER}
    assert all(r.same for r in reports.values())
    assert reports["interactions"].copied == 201 and reports["interactions"].target_rows == 301
    assert reports["items"].copied == 0  # copied before the interruption: not again
    assert (
        reports["store_stamps"].target_rows == 1 and target.deletion_stamp() == source.deletion_stamp() == 1
    )

    again = copy_store(source, target, batch_size=50)
    assert sum(r.copied for r in again) == 0 and all(r.same for r in again)

    # The copy is a working store: reads match, ids continue, tags and vectors came along.
    assert target.user_events("u1") == source.user_events("u1")
    assert target.count_items(tag="tag3") == source.count_items(tag="tag3") > 0
    assert target.count_items(tag="cooking") == 1
    got, want = target.feature("i5", "fused", "v1"), source.feature("i5", "fused", "v1")
    assert got is not None and want is not None and np.array_equal(got[1], want[1])  # type: ignore[arg-type]
    assert target.profiles.edits("u1") == source.profiles.edits("u1")
    assert target.upsert_items([ItemRecord("after-copy", "New")]) == 1
    assert target.get_item("after-copy").id > source.get_item("gone-item").id  # type: ignore[union-attr]
    source.close()
    target.close()


def test_a_target_holding_other_rows_fails_clearly(tmp_path: Path, pg_url: str) -> None:
    source = _small_home(tmp_path / "home")
    target = Store(pg_url)
    target.upsert_items([ItemRecord("someone-else", "Other")])  # takes id 1
    with pytest.raises(CopyMismatch, match="items") as info:
        copy_store(source, target)
    assert not {r.table: r for r in info.value.reports}["items"].same
    source.close()
    target.close()


def test_the_cli_prints_counts_and_checksums(tmp_path: Path, pg_url: str) -> None:
    _small_home(tmp_path / "home").close()
    runner = CliRunner()
    args = ["--home", str(tmp_path / "home"), "store", "copy", "--to", pg_url]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "interactions" in first.output and "copy complete" in first.output
    line = next(x for x in first.output.splitlines() if x.startswith("interactions"))
    assert line.split()[1:4] == ["301", "301", "301"]
    second = runner.invoke(main, args)
    assert (
        second.exit_code == 0
        and next(x for x in second.output.splitlines() if x.startswith("interactions")).split()[3] == "0"
    )
    # The home, pointed at the copy, answers from it.
    Store(pg_url).upsert_items([ItemRecord("only-in-copy", "Only in the copy")])
    shown = runner.invoke(
        main, ["--home", str(tmp_path / "home"), "--store-url", pg_url, "items", "--limit", "100"]
    )
    assert shown.exit_code == 0, shown.output
    assert "Only in the copy" in shown.output and "Item 39" in shown.output
