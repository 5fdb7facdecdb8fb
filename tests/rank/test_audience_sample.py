"""Above SAMPLE_USERS users the taste batch reads a uniform sample of users and only their events,
in small batches, rather than every event (rank/audience.py): the same rows as everyone's for the
sampled users, a sample that only moves where it must, and a deleted user gone at the next refresh."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from mediarec.engine import MediaRec
from mediarec.rank import audience
from mediarec.rank.audience import AudienceCache, CentredRows, all_tastes, sampled_tastes
from mediarec.rank.user_sample import sample_users
from tests.rank.conftest import make_engine


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[MediaRec]:
    with make_engine(tmp_path / "home") as made:
        yield made


def _rows_of(engine: MediaRec, everyone: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The rows of all_tastes (external id order) of the users with these internal ids."""
    names = dict(engine.store.conn.fetch_tuples("SELECT id, external_id FROM users"))
    sql = "SELECT DISTINCT u.external_id FROM users u JOIN interactions e ON e.user_id = u.id"
    with_events = sorted(str(r[0]) for r in engine.store.conn.fetch_tuples(sql))
    assert len(with_events) == len(everyone)
    return everyone[np.searchsorted(with_events, [names[int(i)] for i in ids])]


def test_the_sample_reads_only_the_sampled_users_events_and_equals_their_full_rows(
    engine: MediaRec, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = engine._ranker.catalogs.get(engine.store)
    content = CentredRows(catalog)
    everyone = all_tastes(engine.store, catalog, engine.weights, content)  # the full read, as before
    monkeypatch.setattr(audience, "SAMPLE_USERS", 17)  # 60 demo users: a sample
    monkeypatch.setattr(audience, "USERS_PER_READ", 5)
    asked: list[list[int]] = []
    events_of_users = engine.store.events_of_users

    def recording(ids: Sequence[int]) -> object:
        asked.append(list(ids))
        return events_of_users(ids)

    def every_event(*_: object) -> object:
        raise AssertionError("the sampled batch read every event")

    monkeypatch.setattr(engine.store, "event_columns", every_event)
    monkeypatch.setattr(engine.store, "events_of_users", recording)
    sample = sampled_tastes(engine.store, catalog, engine.weights, content)
    assert sample.ids is not None and len(sample.ids) == 17 and len(sample) == 60
    assert np.array_equal(sample.rows, _rows_of(engine, everyone, sample.ids))
    assert (np.linalg.norm(sample.rows, axis=1) > 0).all()
    # In batches of at most USERS_PER_READ users, each asked once.
    assert max(len(a) for a in asked) <= 5
    assert sorted(i for a in asked for i in a) == sorted(sample.ids.tolist())


class FakeUsers:
    """A fake store holding only user ids (a unit test of the sampling, not of the store)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = {int(i) for i in ids}

    def stored_user_ids(self, ids: Sequence[int]) -> set[int]:
        return {int(i) for i in ids if int(i) in self.ids}


def test_the_sample_is_uniform_over_stored_users_and_moves_only_where_it_must() -> None:
    stored = np.arange(1, 60_001)
    stored = stored[stored % 3 != 0]  # every third id deleted: 40,000 users
    store = FakeUsers(stored)
    sample = sample_users(store, 60_000, 2_000)
    assert len(sample) == 2_000 and len(set(sample.tolist())) == 2_000
    assert all(int(i) in store.ids for i in sample)
    assert np.array_equal(sample, sample_users(store, 60_000, 2_000))
    # Uniform: each tenth of the id range holds about a tenth (binomial sd ~13 of 200).
    counts = np.bincount((sample - 1) // 6_000, minlength=10)
    assert counts.min() > 150 and counts.max() < 250, counts
    # Neither ends of the range nor residues are favoured (neighbouring ids are scattered).
    assert 0.4 < np.mean(sample % 2) < 0.6
    # A deleted sampled user is replaced by one other user; the rest stay.
    gone = int(sample[123])
    store.ids.discard(gone)
    after = sample_users(store, 60_000, 2_000)
    assert gone not in after.tolist() and len(np.setdiff1d(after, sample)) == 1
    # New users (ids within the same power of two) enter only where their place comes first.
    store.ids.update(range(60_001, 61_001))
    grown = sample_users(store, 61_000, 2_000)
    newcomers = np.setdiff1d(grown, after)
    assert len(newcomers) < 120 and (newcomers > 60_000).all()


def test_a_deleted_sampled_user_leaves_the_batch_at_the_next_refresh(
    engine: MediaRec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audience, "SAMPLE_USERS", 17)
    store, cache = engine.store, engine._ranker.audience
    catalog = engine._ranker.catalogs.get(store)
    before, _ = cache.tastes(store, catalog, engine.weights)
    assert before.ids is not None and len(before) == 60
    gone = int(before.ids[0])
    name = dict(store.conn.fetch_tuples("SELECT id, external_id FROM users"))[gone]
    engine.delete_user(name)  # no event arrives: the newest event id may stay as it was
    assert cache.tastes(store, catalog, engine.weights)[0] is before  # refreshing meanwhile
    deadline = time.monotonic() + 30
    while cache._refreshing and time.monotonic() < deadline:
        time.sleep(0.01)
    after, content = cache.tastes(store, catalog, engine.weights)
    assert after is not before and after.ids is not None
    assert gone not in after.ids.tolist() and len(after) == 59 and len(after.ids) == 17
    everyone = all_tastes(store, catalog, engine.weights, content)
    assert np.array_equal(after.rows, _rows_of(engine, everyone, after.ids))


def test_a_deletion_while_a_refresh_reads_makes_the_next_request_refresh_again(
    engine: MediaRec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh that read the deleted user's events before the deletion is not the last one."""
    monkeypatch.setattr(audience, "SAMPLE_USERS", 17)
    store, cache = engine.store, AudienceCache()
    catalog = engine._ranker.catalogs.get(store)
    _, content = cache.tastes(store, catalog, engine.weights)
    newest = store.newest_event_id()
    read = audience.sampled_tastes

    def deleted_meanwhile(*args: object) -> object:
        found = read(*args)  # type: ignore[arg-type]
        cache.forget()  # the deletion lands after the read
        return found

    monkeypatch.setattr(audience, "sampled_tastes", deleted_meanwhile)
    cache.forget()
    cache._refreshing = True
    cache._refresh(store, catalog, engine.weights, content, newest)
    assert cache.peek(catalog, newest) is None  # due again, though no event arrived
