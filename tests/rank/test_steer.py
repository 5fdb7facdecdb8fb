"""Steered ranking through the library: hard constraints hold for every returned item, an
unsatisfiable request is an empty list with a message, the soft part moves items, and unknown
facts (duration, language) fail the filters on them."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import numpy as np
import pytest

from mediarec.datasets import demo
from mediarec.engine import MediaRec
from mediarec.rank.query import QueryError, SteerQuery
from mediarec.rank.steer import constraint_masks, prepare
from tests.rank.conftest import TOPICS, make_engine, topic_of

USERS = ("user-01", "user-02", "user-03")


@pytest.fixture(scope="module")
def steer_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRec]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL", "MEDIAREC_ASK_PARSER"):
            mp.delenv(var, raising=False)
        e = make_engine(tmp_path_factory.mktemp("steer") / "home")
    # No LLM in these tests, whatever kit the environment points at: the rules parse.
    e.settings = dataclasses.replace(e.settings, ask_parser="rules")
    # Spoken language known for some items only (the speech stage's output).
    for k, item in enumerate(demo.items()[:12]):
        lang = "fr" if k % 3 == 0 else "en"
        e.store.add_feature(
            item.external_id, "speech", "test/1", {"language": lang, "language_probability": 0.9}
        )
    with e:
        yield e


def _check_all(engine: MediaRec, ask: str, users: tuple[str, ...] = USERS) -> int:
    returned = 0
    for user in users:
        steered = engine.rank_steered(user, ask, n=10)
        catalog = engine._ranker.catalogs.get(engine.store)
        facts = engine.steerer.facts.get(engine.store, catalog)
        masks = constraint_masks(steered.parsed.query, catalog, facts, time.time())
        assert masks, "the request should have hard constraints"
        for rec in steered.result.items:
            pos = catalog.index[rec.item_id]
            assert all(m[pos] for _, m in masks), (ask, rec.item_id)
        returned += len(steered.result.items)
        assert steered.message is None or not steered.result.items
    return returned


@pytest.mark.parametrize(
    "ask",
    [
        "about cooking, no football",
        "only audio",
        "under 5 minutes",
        "at least 8 minutes, not by Touchline TV",
        "in French",
        "no music and no travel, videos only",
    ],
)
def test_every_returned_item_satisfies_the_hard_constraints(steer_engine: MediaRec, ask: str) -> None:
    assert _check_all(steer_engine, ask) > 0


def test_topic_request_returns_only_that_topic(steer_engine: MediaRec) -> None:
    steered = steer_engine.rank_steered("user-01", "about music", n=5)
    assert steered.parsed.query.topics == ("music",)
    assert [topic_of(r.item_id) for r in steered.result.items] == ["music"] * 5
    assert steered.steering()["understood"] == "topic music"


def test_unsatisfiable_request_is_an_empty_list_with_a_message(steer_engine: MediaRec) -> None:
    steered = steer_engine.rank_steered("user-01", "in Japanese", n=5)
    assert steered.result.items == [] and "language ja" in str(steered.message)
    both = steer_engine.rank_steered("user-01", "longer than 20 minutes and under 1 minute", n=5)
    assert both.result.items == [] and "at least" in str(both.message)


def test_unknown_language_fails_a_language_filter(steer_engine: MediaRec) -> None:
    catalog = steer_engine._ranker.catalogs.get(steer_engine.store)
    facts = steer_engine.steerer.facts.get(steer_engine.store, catalog)
    ((_, english),) = constraint_masks(SteerQuery(languages=("en",)), catalog, facts, time.time())
    known = {catalog.index[i.external_id] for i in demo.items()[:12]}
    assert english.sum() == 8 and all(int(p) in known for p in np.flatnonzero(english))


def test_over_long_and_empty_requests_are_refused(steer_engine: MediaRec) -> None:
    with pytest.raises(QueryError, match="at most 300"):
        steer_engine.rank_steered("user-01", "x" * 301)
    with pytest.raises(QueryError, match="empty"):
        steer_engine.rank_steered("user-01", "   ")


def test_steered_similar_keeps_only_satisfying_neighbours(steer_engine: MediaRec) -> None:
    item = next(i.external_id for i in demo.items() if topic_of(i.external_id) == "cooking")
    steered = steer_engine.similar_steered(item, "like this but audio", n=5)
    assert steered.result.items and all(r.kind == "audio" for r in steered.result.items)
    d = steer_engine.steerer.facts.get(
        steer_engine.store, steer_engine._ranker.catalogs.get(steer_engine.store)
    ).durations
    shorter = steer_engine.similar_steered(item, "like this but shorter", n=5)
    mine = d[steer_engine._ranker.catalogs.get(steer_engine.store).index[item]]
    assert shorter.parsed.query.max_duration_s == mine
    catalog = steer_engine._ranker.catalogs.get(steer_engine.store)
    assert all(d[catalog.index[r.item_id]] <= mine for r in shorter.result.items)


def test_soft_part_moves_items_towards_the_text(steer_engine: MediaRec) -> None:
    """With a fake encoder (one-hot topic vectors, the space of this fixture's text vectors), "more
    like science" lifts science items: a shift, not a filter."""
    catalog = steer_engine._ranker.catalogs.get(steer_engine.store)
    facts = steer_engine.steerer.facts.get(steer_engine.store, catalog)

    def fake_encoder(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(TOPICS) + 4), dtype=np.float32)
        for k, t in enumerate(texts):
            out[k, TOPICS.index(t)] = 1.0
        return out

    s = prepare(SteerQuery(towards=("science",)), catalog, facts, time.time(), fake_encoder)
    assert s.mask.all() and s.shift is not None
    science = np.asarray([topic_of(str(i)) == "science" for i in catalog.item_ids])
    assert s.shift[science].min() > s.shift[~science].max()
    none = prepare(SteerQuery(towards=("science",)), catalog, facts, time.time(), None)
    assert none.shift is None and "not applied" in str(none.soft_note)


def test_soft_part_from_another_encoder_is_not_applied(steer_engine: MediaRec) -> None:
    """Items embedded by one text model, the request by another (384 against this fixture's
    dimensions): no shift and a note, never a matmul error (a 500 in the API)."""
    catalog = steer_engine._ranker.catalogs.get(steer_engine.store)
    facts = steer_engine.steerer.facts.get(steer_engine.store, catalog)
    assert facts.text is not None and facts.text.shape[1] != 384

    def fake_other_encoder(texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), 384), dtype=np.float32)

    s = prepare(SteerQuery(towards=("science",)), catalog, facts, time.time(), fake_other_encoder)
    assert s.mask.all() and s.shift is None
    assert "not applied" in str(s.soft_note) and "384" in str(s.soft_note)
