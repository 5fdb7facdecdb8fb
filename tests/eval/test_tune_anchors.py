"""``mediarec tune`` scores every shipped baseline's own configuration, not only a seeded draw.

On ml-100k the draw (81 of ~2,000 hybrid configurations) missed plain DLAE, and the tuned hybrid
then trailed DLAE alone on the test fold as it would have on validation.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mediarec import recommenders
from mediarec.eval.tune import TuneOptions, anchors, search_space, tune
from tests.eval.synthetic import communities
from tests.recommenders.test_content_hybrid import _topic_world

BASE = {"hybrid": {"threads": 1}, "als": {"threads": 1}}
FAST = TuneOptions(budget_seconds=120, trials=6, rungs=2, min_users=30, cold_fraction=0.0)


@pytest.mark.parametrize("model", ["ease", "dlae", "itemknn", "itemknn-bm25", "als"])
def test_each_baseline_anchor_scores_warm_items_as_that_baseline(model: str) -> None:
    """The anchor of a shipped model is that model at its registry defaults, as a hybrid without
    the content term: the same scores on every item with events."""
    core = {"ease": "ease", "dlae": "dlae", "als": "als"}.get(model, model)
    matches = [
        p for name, p in anchors(True) if name == "hybrid" and p["core"] == core and not p.get("core2")
    ]
    assert len(matches) == 1
    train, features, cold, _ = _topic_world()
    hybrid = recommenders.create("hybrid", threads=1, **matches[0]).fit(train, item_features=features)
    plain = recommenders.create(model, **({"threads": 1} if model == "als" else {})).fit(train)
    warm = np.setdiff1d(np.arange(train.n_items), cold)
    users = np.arange(30)
    np.testing.assert_allclose(
        hybrid._score(users)[:, warm], plain._score(users)[:, warm], rtol=1e-4, atol=1e-4
    )


def test_every_anchor_is_in_the_search_space_and_in_the_first_rung() -> None:
    space = [json.dumps(c, sort_keys=True) for c in search_space(True)]
    for config in anchors(True):
        assert json.dumps(config, sort_keys=True) in space
    assert anchors(False) == []  # without features the whole (small) space is drawn
    ds = communities(users_per=20, per_user=12)
    rng = np.random.default_rng(5)
    features = rng.standard_normal((len(ds.item_ids), 8)).astype(np.float32)
    result = tune(ds, features, outer_split="random", options=FAST, base_params=BASE)
    first = [(t.model, json.dumps(t.params, sort_keys=True)) for t in result.trials if t.rung == 0]
    for name, params in anchors(True):
        assert (name, json.dumps(params, sort_keys=True)) in first
    # The seeded draw still comes on top of them, and the search stays deterministic.
    assert len(first) == 1 + len(anchors(True)) + FAST.trials
    again = tune(ds, features, outer_split="random", options=FAST, base_params=BASE)
    assert [(t.model, t.params, t.recall) for t in again.trials] == [
        (t.model, t.params, t.recall) for t in result.trials
    ]
