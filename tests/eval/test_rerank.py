"""MMR rows in the evaluation: the diversity knob visibly trades accuracy for intra-list diversity."""

from __future__ import annotations

import numpy as np

from mediarec.eval import EvalOptions, evaluate
from mediarec.eval.rerank import mmr_rerank
from tests.eval.synthetic import communities


def test_mmr_rows_raise_diversity_as_lambda_falls() -> None:
    report = evaluate(
        communities(),
        "random",
        ["itemknn"],
        k=10,
        options=EvalOptions(mmr_lambdas=(0.7, 0.3)),
    )
    rows = {r.model: r.metrics for r in report.rows}
    assert list(rows) == ["itemknn", "itemknn+mmr0.7", "itemknn+mmr0.3"]
    ild = [rows[m]["ild"] for m in rows]
    assert ild[0] < ild[1] < ild[2], ild
    assert rows["itemknn+mmr0.3"]["recall"] <= rows["itemknn"]["recall"]


def test_rerank_keeps_the_pool_items_and_the_padding() -> None:
    vectors = np.eye(4, dtype=np.float32)
    vectors[1] = vectors[0]  # items 0 and 1 are the same direction
    pool = np.array([[0, 1, 2, -1], [-1, -1, -1, -1]])
    scores = np.array([[3.0, 2.9, 1.0, -np.inf], [-np.inf] * 4])
    top = mmr_rerank(pool, scores, vectors, 2, lam=0.3)
    assert top[0].tolist() == [0, 2], "the near-duplicate of the best item gives way"
    assert top[1].tolist() == [-1, -1]
    assert mmr_rerank(pool, scores, vectors, 2, lam=1.0)[0].tolist() == [0, 1]
