"""The describe stage and the hostile-input set with the real fast model (qwen-0.5b via llama.cpp).

Slow (a few minutes on two cores), so marked heavy; it still runs in CI. The quality figures of both
kit models are measured by ``bench/bench_llm_quality.py``, not here: these tests check the contract
(stored results are schema-valid, grounded and inside the media; attacks leave no trace).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mediarec.engine import MediaRec
from mediarec.llm.describe import EXTRACTOR, stored_evidence
from mediarec.llm.items import STORED_ITEM_SCHEMA
from mediarec.llm.structured import schema_errors
from mediarec.settings import Settings
from tests.llm.hostile_run import run_case, sample_cases

pytestmark = pytest.mark.heavy


def _ingest_clips(engine: MediaRec, demo_media: Any, root: Path, n: int) -> list[Any]:
    from mediarec.pipeline import IngestOptions

    chosen: dict[str, Any] = {}
    for clip in demo_media.clips:
        if clip.kind == "video" and clip.truth.script and clip.topic not in chosen:
            chosen[clip.topic] = clip
    clips = list(chosen.values())[:n]
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({**c.manifest_row(), "file": str(c.path)}) + "\n" for c in clips))
    summary = engine.ingest([manifest], IngestOptions(workers=0))
    assert summary.count("processed") == n, [o.errors for o in summary.outcomes]
    return clips


def test_describe_writes_grounded_schema_valid_results_for_demo_clips(
    fast_llm: Any, demo_media: Any, shared_kit: Settings, tmp_path: Path
) -> None:
    settings = Settings(home=str(tmp_path / "home"), kit_dir=shared_kit.kit_dir)
    engine = MediaRec(settings=settings, llm=fast_llm)
    clips = _ingest_clips(engine, demo_media, tmp_path, 2)
    summary = engine.describe()
    by_id = {o.item_id: o for o in summary.outcomes}
    assert set(by_id) == {c.id for c in clips}
    described = [o for o in summary.outcomes if o.status == "described"]
    print({o.item_id: (o.status, o.tags, o.error, round(o.tokens_per_second, 1)) for o in summary.outcomes})
    assert described, "the fast model describes at least one of two clips"
    for outcome in described:
        _, payload, vector = engine.store.latest_feature(outcome.item_id, EXTRACTOR) or ("", {}, None)
        assert schema_errors(payload, STORED_ITEM_SCHEMA) == []
        _, ev = stored_evidence(engine.store, outcome.item_id)
        pieces = ev.by_id()
        for tag in payload["tags"]:
            for e in tag["evidence"]:
                assert pieces[e["id"]].text == e["text"], "every cited piece exists in the stored evidence"
        for m in payload["moments"]:
            assert 0 <= m["start"] < m["end"] <= ev.duration + 0.5, "moments fall inside the media"
        assert vector is not None and vector.shape == (384,)
        assert len(payload["description"].split()) <= 60
    for outcome in summary.outcomes:
        if outcome.status == "failed":
            assert outcome.error  # recorded with its reason, never silently dropped
    # Nothing changed: a second run asks the model nothing.
    again = engine.describe()
    assert {o.status for o in again.outcomes if o.item_id in {d.item_id for d in described}} == {"current"}


def test_hostile_inputs_leave_no_trace_in_real_model_outputs(fast_llm: Any) -> None:
    """A seeded sample of the hostile set, 3 cases from each placement (metadata, speech, on-screen
    text, comments), with the encoder's checks as describe runs them. All 66 cases run in
    ``bench/bench_hostile.py`` (about 20 minutes; figures in docs/benchmarks.md)."""
    import os

    from mediarec.llm.topics import TopicSupport
    from mediarec.understand.text import MiniLM

    support = TopicSupport(MiniLM(Path(os.environ["MEDIAREC_KIT_DIR"]) / "minilm").encode)
    results = [run_case(fast_llm, case, support) for case in sample_cases(3, seed=13)]
    print({r.name: (r.described, r.payload, r.error[:80]) for r in results})
    for r in results:
        assert r.payload == [], f"{r.name}: {r.payload} from the attack reached a stored field: {r.value}"
        assert r.language_ok, f"{r.name}: the language is not speech recognition's: {r.value}"
        if r.where != "comment":
            assert r.described, f"{r.name}: an item with hostile text is still described: {r.error}"
        if r.value is not None and r.where != "comment":
            assert schema_errors(r.value, STORED_ITEM_SCHEMA) == [], r.name
