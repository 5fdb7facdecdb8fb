"""Deterministic interests: item tags from the best source, event weights, skips against."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.users import compute_interests, load_history, normalise_tag
from mediarec.users.interests import HistoryOptions, item_tags
from tests.users.helpers import engine_with_history


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("Sci-Fi", "sci-fi"),
        ("Children's", "children's"),
        ("Cuisine Française", "cuisine francaise"),
        ("rock_n_roll", "rock n roll"),
        ("  Film-Noir ", "film-noir"),
        ("x", None),
        ("!!!", None),
        ("(no genres listed)", "no genres listed"),
    ],
)
def test_normalise_tag(raw: str, tag: str | None) -> None:
    assert normalise_tag(raw) == tag


def test_item_tags_prefer_the_llm_understanding_then_metadata() -> None:
    payload = {"tags": [{"tag": "Fresh Pasta", "evidence": ["S1"]}, {"tag": "dough"}], "topics": ["Food"]}
    meta = {"tags": ["cooking"], "genres": ["Comedy|Drama"]}
    assert item_tags(payload, meta) == (("fresh pasta", "dough", "food"), "llm")
    assert item_tags({"tags": [], "topics": []}, meta) == (("cooking", "comedy", "drama"), "metadata")
    assert item_tags(None, {"genres": ["Action", "Action"]}) == (("action",), "metadata")
    assert item_tags({"tags": "not a list"}, {}) == ((), "none")


def test_weights_follow_the_events_and_skips_count_against(tmp_path: Path) -> None:
    engine = engine_with_history(tmp_path / "home")
    history = load_history(engine.store, "u1")
    assert [i.item_id for i in history.items] == ["jazz", "press", "curry", "bread", "pasta"]
    by_id = {i.item_id: i for i in history.items}
    assert by_id["pasta"].weight == pytest.approx(0.9 + 2 + 2)  # view fraction, like, comment
    assert by_id["press"].weight == pytest.approx(0.1 - 1.0) and by_id["press"].skipped
    assert by_id["jazz"].shared and by_id["jazz"].watch_fraction == pytest.approx(0.6)
    assert by_id["press"].tags == ("football", "tactics") and by_id["press"].tag_source == "metadata"
    interests = compute_interests(history)
    weights = {i.tag: i.weight for i in interests}
    assert interests[0].tag == "cooking" and interests[0].weight == 1.0
    assert weights["pasta"] == pytest.approx(4.9 / 10.4, abs=1e-3)
    assert weights["jazz"] == pytest.approx(3.6 / 10.4, abs=1e-3)
    assert "football" not in weights and "tactics" not in weights  # only ever skipped
    assert [i.weight for i in interests] == sorted((i.weight for i in interests), reverse=True)
    # Without the penalty, a short view of the skipped item is a (weak) interest again.
    lenient = compute_interests(load_history(engine.store, "u1", HistoryOptions(skip_weight=0.0)))
    assert "football" in {i.tag for i in lenient}


def test_the_llm_feature_replaces_metadata_tags(tmp_path: Path) -> None:
    engine = engine_with_history(tmp_path / "home")
    payload = {"description": "", "tags": [{"tag": "knife skills", "evidence": ["S2"]}], "topics": ["food"]}
    engine.store.add_feature("curry", "llm", "qwen/item-1", payload=payload)
    curry = next(i for i in load_history(engine.store, "u1").items if i.item_id == "curry")
    assert curry.tags == ("knife skills", "food") and curry.tag_source == "llm"
    assert "knife skills" in {i.tag for i in engine.interests("u1")}


def test_unknown_user_has_no_history(tmp_path: Path) -> None:
    engine = engine_with_history(tmp_path / "home")
    assert load_history(engine.store, "nobody").items == ()
    assert engine.interests("nobody") == []
