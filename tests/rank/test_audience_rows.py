"""The audience batch keeps only what the bands read: centred content rows made when gathered and the
sampled users' taste vectors, equal bit for bit to the full matrices they replace (rank/audience.py)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from mediarec.engine import MediaRec
from mediarec.rank import audience
from mediarec.rank.audience import (
    AudienceRule,
    CentredRows,
    TasteSample,
    all_tastes,
    audiences,
    centred,
    sampled_tastes,
    taste_vector,
)
from tests.rank.conftest import make_engine


def test_centred_rows_equal_the_centred_matrix_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    content = rng.standard_normal((1_000, 384)).astype(np.float32)
    content /= np.linalg.norm(content, axis=1, keepdims=True)
    has = rng.random(1_000) > 0.2
    content[~has] = 0.0
    for mask in (has, np.ones(1_000, dtype=bool)):  # some items without vectors, and none
        catalog = SimpleNamespace(content=content, has_content=mask)
        full = centred(catalog)  # type: ignore[arg-type]
        rows = CentredRows(catalog, block=97)  # type: ignore[arg-type]
        picked = rng.integers(0, 1_000, 300)
        assert np.array_equal(rows[picked], full[picked])
        assert np.array_equal(rows[np.arange(1_000)], full)
        items, weights = picked[:12], rng.random(12).astype(np.float32)
        assert np.array_equal(
            taste_vector(rows, mask, items, weights), taste_vector(full, mask, items, weights)
        )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRec]:
    with make_engine(tmp_path_factory.mktemp("rows") / "home") as made:
        yield made


def test_sampled_tastes_are_the_rows_the_bands_read(
    engine: MediaRec, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = engine._ranker.catalogs.get(engine.store)
    full_content, rows = centred(catalog), CentredRows(catalog)
    everyone = all_tastes(engine.store, catalog, engine.weights, full_content)
    assert np.array_equal(all_tastes(engine.store, catalog, engine.weights, rows), everyone)
    monkeypatch.setattr(audience, "SAMPLE_USERS", 17)  # fewer than the 60 demo users: a sample
    sample = sampled_tastes(engine.store, catalog, engine.weights, rows)
    assert isinstance(sample, TasteSample) and len(sample) == len(everyone) and len(sample.rows) == 17
    # The sampled users' rows of everyone's (rows in external id order, as all_tastes gives them).
    names = dict(engine.store.conn.fetch_tuples("SELECT id, external_id FROM users"))
    assert sample.ids is not None
    picked = np.searchsorted(sorted(names.values()), [names[int(i)] for i in sample.ids])
    assert np.array_equal(sample.rows, everyone[picked])
    # The bands from the sample equal those from the same users' rows of the full matrix.
    now = float(catalog.since.max()) + 3600
    rule = AudienceRule(0.2, 7.0, -1.0, 400.0, 1_000)
    viewers = np.zeros(len(catalog), dtype=np.float32)
    want = audiences(TasteSample(len(everyone), everyone[picked]), catalog, viewers, rule, now, full_content)
    got = audiences(sample, catalog, viewers, rule, now, rows)
    assert want.new.any()
    for name in ("new", "high", "low", "period"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name


def test_the_cache_keeps_no_full_matrix(engine: MediaRec) -> None:
    catalog = engine._ranker.catalogs.get(engine.store)
    tastes, content = engine._ranker.audience.tastes(engine.store, catalog, engine.weights)
    assert isinstance(tastes, TasteSample) and isinstance(content, CentredRows)
    assert content.norms.nbytes < catalog.content.nbytes / 4  # one float per item, not a row


def test_the_taste_batch_reads_the_mapped_index_files_again(
    engine: MediaRec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch reads every event (GBs at 21 M): the index pages read before it may be gone."""
    from mediarec.rank import prefetch
    from mediarec.rank.audience import AudienceCache

    calls: list[int] = []
    monkeypatch.setattr(prefetch, "rewarm", lambda: calls.append(1) or [])
    catalog = engine._ranker.catalogs.get(engine.store)
    AudienceCache().tastes(engine.store, catalog, engine.weights)
    assert calls == [1]


def test_the_first_batch_of_a_big_snapshot_gives_back_the_events_read(
    engine: MediaRec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediarec.rank.audience import AudienceCache

    calls: list[int] = []
    monkeypatch.setattr(audience, "release_freed_memory", lambda: calls.append(1) or True)
    catalog = engine._ranker.catalogs.get(engine.store)
    AudienceCache().tastes(engine.store, catalog, engine.weights)
    assert calls == []  # a small catalogue: not worth the pause
    monkeypatch.setattr(audience, "BACKGROUND_RELOAD_ITEMS", 10)
    AudienceCache().tastes(engine.store, catalog, engine.weights)
    assert calls == [1]
