"""The library facade end to end on the built-in demo catalogue and a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.demo import DEMO_ALS
from mediarec.engine import MediaRec, UnknownItemError
from mediarec.records import EventRecord


@pytest.fixture
def engine(tmp_path: Path) -> MediaRec:
    e = MediaRec(tmp_path / "home")
    load_rows(e.store, demo.rows(), source="demo", fmt="demo")
    return e


def _topic(item_id: str) -> str:
    return item_id.rsplit("-", 1)[0]


def test_before_training_everyone_gets_popular_items(engine: MediaRec) -> None:
    recs = engine.recommend("user-01", n=5)
    assert len(recs) == 5
    assert all(r.reasons[0].kind == "popular" for r in recs)
    assert not {r.item_id for r in recs} & engine.store.seen_items("user-01")


def test_trained_model_follows_planted_tastes(engine: MediaRec) -> None:
    engine.train("als", **DEMO_ALS)
    shares = []
    for user, topics in demo.user_tastes().items():
        seen = engine.store.seen_items(user)
        recs = engine.recommend(user, n=5)
        assert recs and not {r.item_id for r in recs} & seen
        in_taste_left = sum(
            _topic(i.external_id) in topics and i.external_id not in seen for i in demo.items()
        )
        hits = sum(_topic(r.item_id) in topics for r in recs)
        shares.append(hits / min(5, in_taste_left))
    # A random ranking lands in the user's 1-2 of 8 topics about 19% of the time.
    assert sum(shares) / len(shares) > 0.7


def test_reasons_point_at_items_the_user_watched(engine: MediaRec) -> None:
    engine.train("itemknn")
    recs = engine.recommend("user-02", n=5, model="itemknn")
    seen = engine.store.seen_items("user-02")
    anchored = [r for r in recs if r.reasons and r.reasons[0].kind == "similar_to_seen"]
    assert anchored, "item-kNN recommendations should be explained by a watched item"
    assert all(r.reasons[0].evidence["item_id"] in seen for r in anchored)


def test_new_event_is_filtered_without_retraining(engine: MediaRec) -> None:
    engine.train("als", factors=16)
    top = engine.recommend("user-03", n=1)[0].item_id
    engine.add_events([EventRecord("user-03", top, "view", 1.0, 2e9)])
    assert top not in [r.item_id for r in engine.recommend("user-03", n=10)]


def test_filters_and_unknown_users(engine: MediaRec) -> None:
    engine.train("als", factors=16)
    audio = engine.recommend("user-04", n=5, kind="audio")
    assert audio and all(r.kind == "audio" for r in audio)
    by_creator = engine.recommend("nobody", n=3, creator="Code Cabin")
    assert by_creator and all(r.creator == "Code Cabin" for r in by_creator)
    assert all(r.reasons[0].kind == "popular" for r in by_creator)


def test_similar_items(engine: MediaRec) -> None:
    engine.train("itemknn")
    recs = engine.similar("cooking-1", n=3, model="itemknn")
    assert len(recs) == 3 and "cooking-1" not in [r.item_id for r in recs]
    assert sum(_topic(r.item_id) == "cooking" for r in recs) >= 2
    with pytest.raises(UnknownItemError):
        engine.similar("no-such-item", model="itemknn")


def test_similar_items_of_a_cold_item_come_from_content(engine: MediaRec) -> None:
    """An item nobody engaged with has a zero ALS vector: its neighbours come from content vectors
    and say so; with no content vector there are none, never arbitrary items scored 0."""
    from mediarec.records import ItemRecord
    from tests.rank.conftest import content_vector

    engine.add_items([ItemRecord("cold-garden", "Seed swaps"), ItemRecord("cold-blank", "No features")])
    for k, item in enumerate(demo.items()):
        vector = content_vector(_topic(item.external_id), k)
        engine.store.add_feature(item.external_id, "text", "t/1", vector=vector)
    engine.store.add_feature("cold-garden", "text", "t/1", vector=content_vector("gardening", 999))
    engine.train("als", factors=16, seed=3)  # both cold items are in the model, with no events
    recs = engine.similar("cold-garden", n=5, model="als")
    assert len(recs) == 5 and all(_topic(r.item_id) == "gardening" for r in recs)
    for r in recs:
        (reason,) = r.reasons
        assert reason.kind == "similar_content" and reason.evidence["space"] == "text"
        assert reason.evidence["similarity"] == pytest.approx(r.score, abs=1e-4) and r.score >= 0.55
    assert engine.similar("cold-blank", n=5, model="als") == []
    # A warm item keeps the model's neighbours, none at cosine 0 (the cold items' zero vectors).
    warm = engine.similar("gardening-1", n=79, model="als")
    assert warm and all(r.score > 0 for r in warm)
    assert {"cold-garden", "cold-blank"}.isdisjoint(r.item_id for r in warm)
    with pytest.raises(UnknownItemError):
        engine.similar("no-such-item", model="als")


def test_delete_user_reaches_store_and_models(engine: MediaRec) -> None:
    engine.train("als", factors=16)
    result = engine.delete_user("user-05")
    assert result["events_deleted"] > 0 and result["models_scrubbed"] == 1
    assert not engine.store.user_exists("user-05")
    loaded = engine.loaded("als")
    assert loaded is not None and "user-05" not in loaded.model.user_ids
    assert all(r.reasons[0].kind == "popular" for r in engine.recommend("user-05", n=3))
