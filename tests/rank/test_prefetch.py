"""Mapped index files are read into the page cache on a background thread when a process opens
them, and Ranker.pending names that read until it ends (rank/prefetch.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from mediarec.rank import cf_index, neighbours, prefetch
from mediarec.rank.ranker import Ranker


def test_a_file_is_read_whole_and_pending_until_the_read_ends(tmp_path: Path) -> None:
    data = tmp_path / "index.usearch"
    data.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    assert prefetch._read(str(data)) == data.stat().st_size
    # A pipe holds the reader until the writer is done: the read is reported while it lasts.
    pipe = tmp_path / "slow.usearch"
    os.mkfifo(pipe)
    thread = prefetch.warm(pipe)
    ranker = Ranker()
    assert prefetch.running() == [str(pipe)] and "index-pages" in ranker.pending()
    with open(pipe, "wb") as writer:
        writer.write(b"x" * 1000)
    thread.join(5)
    assert not thread.is_alive()
    assert prefetch.running() == [] and "index-pages" not in ranker.pending()


def test_opening_a_saved_index_starts_reading_its_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    monkeypatch.setattr(prefetch, "warm", lambda path: read.append(str(path)))
    monkeypatch.setattr(neighbours, "EXACT_MAX_ITEMS", 100)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    present = np.ones(500, dtype=bool)
    content = tmp_path / "content-abc.usearch"
    neighbours.VectorIndex.saved(vectors, present, content)
    assert read == []  # built here: in memory already, nothing to read
    mapped = neighbours.VectorIndex.saved(vectors, present, content)
    assert not mapped.exact and read == [str(content)]
    factors = rng.standard_normal((400, 8)).astype(np.float32)
    cf_index.FactorIndex.build(factors).save(tmp_path / cf_index.FILE)
    assert cf_index.FactorIndex.open(tmp_path / cf_index.FILE, factors) is not None
    assert read == [str(content), str(tmp_path / cf_index.FILE)]


def test_a_missing_file_ends_the_read_quietly(tmp_path: Path) -> None:
    thread = prefetch.warm(tmp_path / "gone.usearch")
    thread.join(5)
    deadline = time.monotonic() + 5
    while prefetch.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert prefetch.running() == []


def test_rewarm_reads_again_the_files_still_there(tmp_path: Path) -> None:
    kept, gone = tmp_path / "kept.usearch", tmp_path / "gone.usearch"
    for path in (kept, gone):
        path.write_bytes(b"pages" * 100)
        prefetch.warm(path).join(5)
    gone.unlink()
    again = prefetch.rewarm()
    for thread in again:
        thread.join(5)
    assert len(again) >= 1 and prefetch.running() == []
    assert str(kept) in prefetch._warmed and not any(t.is_alive() for t in again)
