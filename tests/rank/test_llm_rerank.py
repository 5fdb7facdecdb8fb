"""The gated LLM re-ranking stage: who gets it, what it may change, and that failures change nothing.
A fake LLM (named as a fake) stands in for the model; the real one is tested in tests/llm."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from mediarec.engine import MediaRec
from mediarec.rank.llm_rerank import RerankGate, item_text, rerank_result
from mediarec.rank.records import RankResult, Reason, Recommendation
from mediarec.settings import load_settings
from tests.llm.rerank_fakes import FakeDown, FakeJudge


def ranked(n: int = 6) -> RankResult:
    items = [
        Recommendation(
            f"i{k}", 1.0 - k / 10, f"Title {k}", creator="Lab", reasons=(Reason("trending", f"r{k}"),)
        )
        for k in range(n)
    ]
    return RankResult(items)


def test_the_gate_follows_the_setting() -> None:
    assert not RerankGate().enabled  # off by default: no group where it measurably wins
    cold = RerankGate("cold", cold_events=10)
    assert cold.applies(0) and cold.applies(10) and not cold.applies(11)
    assert RerankGate("all").applies(5000)
    assert not RerankGate("off").applies(0)
    got = RerankGate.from_settings(load_settings("/nonexistent-h12", llm_rerank="Cold", llm_rerank_k=5))
    assert got == RerankGate("cold", 10, 5)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"mode": "sometimes"}, "llm_rerank"),
        ({"k": 1}, "llm_rerank_k"),
        ({"k": 21}, "llm_rerank_k"),
        ({"cold_events": -1}, "llm_rerank_cold_events"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        RerankGate(**kwargs)


def test_a_bad_setting_fails_when_the_engine_starts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'llm_rerank'"):
        MediaRec(settings=load_settings(tmp_path / "home", llm_rerank="sometimes"))


def test_only_the_head_is_reordered_and_scores_keep_their_places() -> None:
    before = ranked(6)
    texts = [item_text(r) for r in before.items[:4]]
    fake = FakeJudge(texts[::-1])
    after = rerank_result(before, ["Old Title"], fake, RerankGate("all", k=4), "u1")
    assert fake.calls == 2
    assert [r.item_id for r in after.items] == ["i3", "i2", "i1", "i0", "i4", "i5"]
    assert [r.score for r in after.items] == [r.score for r in before.items]  # non-increasing still
    assert after.items[0].reasons == before.items[3].reasons  # reasons travel with their item
    assert "Old Title" in fake.prompts[0]


def test_failures_and_fallbacks_leave_the_list_alone() -> None:
    before = ranked(4)
    assert rerank_result(before, [], FakeDown(), RerankGate("all"), "u1") is before
    popular = dataclasses.replace(before, fallback=True)
    fake = FakeJudge([item_text(r) for r in before.items][::-1])
    assert rerank_result(popular, [], fake, RerankGate("all"), "u1") is popular and fake.calls == 0
    one = RankResult(before.items[:1])
    assert rerank_result(one, [], fake, RerankGate("all"), "u1") is one


def test_the_engine_reranks_only_the_gated_users(engine: MediaRec) -> None:
    user = "user-01"
    plain = engine.rank(user, n=6)
    assert not plain.fallback and len(plain.items) == 6
    texts = [item_text(r) for r in plain.items[:5]]
    fake = FakeJudge(texts[::-1])
    engine._llm = fake  # the engine asks this fake instead of a real model
    try:
        engine._rerank_gate = RerankGate("cold", cold_events=0, k=5)  # user-01 has events: not cold
        engine.results.clear()
        assert [r.item_id for r in engine.rank(user, n=6).items] == [r.item_id for r in plain.items]
        assert fake.calls == 0
        engine._rerank_gate = RerankGate("all", k=5)
        engine.results.clear()
        got = engine.rank(user, n=6).items
        assert fake.calls == 2
        assert [r.item_id for r in got] == [r.item_id for r in plain.items[4::-1]] + [plain.items[5].item_id]
    finally:
        engine._rerank_gate = RerankGate()
        engine._llm = None
        engine.results.clear()
