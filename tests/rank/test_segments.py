"""Search over timed text (transcripts, on-screen text per shot, LLM moments and tag evidence) and
moments for a user, through the library on a real SQLite store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest

from mediarec.engine import MediaRec
from mediarec.rank.segments import Segment, SegmentIndex, group_by_item
from tests.rank.conftest import make_engine

SPEECH = {
    "cooking-1": [
        (0.1, 4.4, "Fresh pasta needs only flour, eggs and salt."),
        (4.4, 11.3, "Knead the dough for ten minutes until it is smooth."),
        (11.3, 15.7, "Roll it thin and cut it into ribbons."),
    ],
    "science-1": [
        (0.0, 10.5, "Sunlight contains every colour of the rainbow."),
        (10.5, 17.0, "Scattered blue light reaches our eyes, so the sky looks blue."),
    ],
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRec]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL", "MEDIAREC_KIT_DIR"):
            mp.delenv(var, raising=False)
        e = make_engine(tmp_path_factory.mktemp("segments") / "home")
    e.settings = dataclasses.replace(e.settings, ask_parser="rules")
    for item, segments in SPEECH.items():
        payload = {
            "language": "en",
            "language_probability": 0.9,
            "segments": [{"start": a, "end": b, "text": t} for a, b, t in segments],
        }
        e.store.add_feature(item, "speech", "test/1", payload)
    e.store.add_feature(
        "cooking-1", "shots", "test/1", {"shots": [{"start": 0.0, "end": 4.6}, {"start": 4.6, "end": 11.4}]}
    )
    e.store.add_feature("cooking-1", "ocr", "test/1", {"lines": [{"time": 9.7, "shot": 1, "text": "DOUGH"}]})
    with e:
        yield e


def test_search_returns_the_item_and_the_time_range_that_says_it(engine: MediaRec) -> None:
    hits = engine.search("kneading dough", n=5)
    assert hits[0].item_id == "cooking-1"
    ranges = {(r["start"], r["end"], r["source"]) for r in hits[0].ranges}
    assert (4.4, 11.3, "transcript") in ranges and (4.6, 11.4, "on-screen") in ranges
    assert engine.search("why is the sky blue", n=5)[0].ranges[0]["start"] == 10.5


def test_search_with_nothing_relevant_is_empty_and_bad_queries_are_refused(engine: MediaRec) -> None:
    assert engine.search("quantum chromodynamics") == []
    with pytest.raises(ValueError, match="empty"):
        engine.search("  ")
    with pytest.raises(ValueError, match="at most 200"):
        engine.search("q" * 201)


def test_llm_moments_and_tag_evidence_are_searchable(engine: MediaRec) -> None:
    # The fixture's LLM payloads: a "<topic> tips" tag citing a segment at 12.5 s, a moment 12.5-20.
    hits = engine.search("gardening tips", n=3)
    assert hits and hits[0].item_id.startswith("gardening-")
    assert {r["source"] for r in hits[0].ranges} >= {"tag"}
    assert hits[0].ranges[0]["start"] == 12.5


def test_cosine_alone_matches_only_above_the_floor() -> None:
    segs = [Segment(0, 0, 5, "alpha", "transcript"), Segment(1, 0, 5, "beta", "transcript")]

    def fake_encoder(texts: list[str]) -> np.ndarray:
        table = {"alpha": [1.0, 0.0], "beta": [0.0, 1.0], "query": [0.9, 0.1]}
        return np.asarray([table[t] for t in texts], dtype=np.float32)

    found = SegmentIndex(segs, fake_encoder).search("query")
    assert [m.segment.pos for m in found] == [0]  # beta's cosine (0.11) is under the floor
    assert group_by_item(found, 5)[0][0] == 0


def test_moments_point_into_recommended_items_that_carry_an_interest(engine: MediaRec) -> None:
    user = "user-01"
    interests = {i.tag for i in engine.interests(user)}
    hits = engine.moments(user, n=5)
    assert hits and hits[0].ranges[0]["start"] == 12.5  # the fixture's LLM key moment of the item
    for hit in hits:
        assert hit.extra["interest"] in interests and hit.why and hit.extra["interest"] in hit.why
        assert hit.ranges and hit.ranges[0]["start"] <= hit.ranges[0]["end"]
