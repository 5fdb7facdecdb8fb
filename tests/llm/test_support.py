"""Support, not just citation: the encoder's topic veto, line coherence, keyframe label scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from mediarec.llm.coherence import flag_incoherent
from mediarec.llm.evidence import collect_evidence
from mediarec.llm.items import understand_item
from mediarec.llm.topics import TopicSupport
from tests.llm.hostile import ALL_CASES, COOKING
from tests.llm.hostile_run import case_evidence
from tests.llm.test_items import GOOD, FakeBackend, evidence_for


def fake_embed(texts: list[str]) -> np.ndarray:
    """A fake embedder: one axis per keyword, so similarity is keyword overlap."""
    keys = ("pasta", "cooking", "football", "programming")
    rows = np.array([[1.0 if k in t.lower() else 0.0 for k in keys] + [0.3] for t in texts])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_topic_support_keeps_only_the_best_and_near_best_above_the_threshold() -> None:
    ev = evidence_for("Fresh pasta", COOKING)  # "pasta" in the text: only cooking's axis... and pasta
    support = TopicSupport(
        fake_embed, threshold=0.1, margin=0.05, vocabulary=("cooking", "football", "programming")
    )
    sims = support.similarities(ev)
    assert max(sims, key=sims.__getitem__) == "programming" or sims["cooking"] >= sims["football"]
    kept = support.supported(ev)
    assert all(sims[t] >= 0.1 and sims[t] >= max(sims.values()) - 0.05 for t in kept)
    strict = TopicSupport(fake_embed, threshold=2.0, vocabulary=("cooking", "football"))
    assert strict.supported(ev) == (), "nothing above the threshold: no topic (true or silent)"


def test_a_topic_the_evidence_does_not_support_is_dropped(support: Any) -> None:
    ev = evidence_for("Fresh pasta", COOKING)
    assert "cooking" in support.supported(ev) and "programming" not in support.supported(ev)
    answer = {
        **GOOD,
        "topics": [{"topic": "programming", "evidence": ["S1"]}, {"topic": "cooking", "evidence": ["S1"]}],
    }
    value = understand_item(FakeBackend([answer]), ev, support=support).value
    # "food" comes with "cooking" (a cooking video is a food video); "programming" never.
    assert value["topics"] == ["cooking", "food"], "the model named programming; the evidence is pasta"


def test_the_encoder_names_the_topic_when_the_model_names_a_wrong_one(support: Any) -> None:
    ev = evidence_for("Fresh pasta", COOKING)
    answer = {**GOOD, "topics": [{"topic": "programming", "evidence": ["S1"]}]}
    result = understand_item(FakeBackend([answer]), ev, support=support)
    assert result.value["topics"] == ["cooking", "food"]
    assert "programming" not in result.value["tags"]


def test_a_clip_with_nothing_but_a_title_and_silence_gets_no_topic(support: Any) -> None:
    from mediarec.llm.topics import has_content

    ev = collect_evidence("x", "Untitled clip", 30.0, {"creator": "Unknown"}, {"audio": {"tags": []}})
    silent = evidence_for("Untitled clip", ())
    for e in (ev, silent):
        assert not has_content(e)
        assert support.supported(e) == (), "a title alone names no topic (true or silent)"


def test_cited_pieces_are_the_content_closest_to_the_topic(support: Any) -> None:
    ev = evidence_for("Fresh pasta", COOKING)
    cited = support.cite(ev, "cooking")
    pieces = ev.by_id()
    assert cited and all(pieces[c].kind in ("S", "O", "K", "A") for c in cited), cited


def test_a_line_about_something_else_is_flagged_and_honest_lines_are_not(support: Any) -> None:
    case = next(c for c in ALL_CASES if c.name == "speech_false_fact")
    ev = case_evidence(case)
    assert not any(p.flagged for p in ev.pieces), "the phrase detector does not see it"
    flagged = [p.text for p in flag_incoherent(ev, support.embed).pieces if p.flagged]
    assert flagged == [case.transcript[-1]]
    honest = evidence_for("Fresh pasta", (*COOKING, "Serve the tagliatelle with butter and parmesan."))
    assert not any(p.flagged for p in flag_incoherent(honest, support.embed).pieces)


def test_low_scoring_keyframe_labels_are_not_evidence() -> None:
    frames = [
        {"time": 1.0, "labels": [{"name": "solar dish", "score": 0.40}, {"name": "wok", "score": 0.2}]},
        {"time": 2.0, "labels": [{"name": "frying pan", "score": 0.81}]},
    ]
    ev = collect_evidence("x", "Fresh pasta", 10.0, {}, {"vision": {"keyframes": frames}})
    shown = [p.text for p in ev.pieces if p.kind == "K"]
    assert shown == ["picture shows: frying pan"], "0.40 'solar dish' on a kitchen is no evidence"


def test_the_language_is_speech_recognitions_and_none_without_speech() -> None:
    ev = evidence_for("Fresh pasta", COOKING)  # Whisper said "en"
    assert understand_item(FakeBackend([{**GOOD, "language": "xx"}]), ev).value["language"] == "en"
    silent = collect_evidence(
        "x", "Fresh pasta", 10.0, {}, {"ocr": {"lines": [{"time": 1.0, "text": t} for t in COOKING]}}
    )
    answer = {
        **GOOD,
        "tags": [{"tag": t, "evidence": ["O1"]} for t in ("pasta", "flour", "eggs")]
        + [{"tag": t, "evidence": ["O2"]} for t in ("dough", "smooth")],
        "topics": [{"topic": "cooking", "evidence": ["O1"]}],
        "moments": [],
    }
    assert understand_item(FakeBackend([answer]), silent).value["language"] is None


def test_words_that_claim_what_the_media_holds_need_evidence() -> None:
    from mediarec.llm.support import supported_description

    ev = evidence_for(
        "Pressing traps", ("The pressing trap starts when the winger closes the full back.",) * 3
    )
    # The fast model wrote this for a football drill with no music in it (sound tag: Speech).
    said = "The winger closes the full back. The music is musical. The video is described as a."
    assert supported_description(said, ev) == "The winger closes the full back."


def test_sparse_evidence_is_described_with_fewer_true_tags(support: Any) -> None:
    # A melody: a title and three sound labels. The small model repeats its one tag; rather than no
    # description at all, the item keeps the true tag and a description made of it.
    stages = {
        "audio": {
            "tags": [
                {"name": "Music", "score": 0.51},
                {"name": "Synthesizer", "score": 0.31},
                {"name": "Silence", "score": 0.05},  # below the floor: not evidence
            ]
        }
    }
    ev = collect_evidence("x", "Evening melody", 30.0, {}, stages)
    assert "Silence" not in ev.by_id()["A1"].text
    answer = {
        "description": "A calm evening melody played on a synthesizer for relaxing.",
        "tags": [{"tag": "music", "evidence": ["A1"]}] * 5,
        "topics": [{"topic": "music", "evidence": ["A1"]}],
        "language": "en",
        "moments": [],
    }
    result = understand_item(FakeBackend([answer, answer]), ev, support=support)
    assert [t["tag"] for t in result.value["tags"] if t.get("source") != "topic"][:1] == ["music"]
    assert result.value["description"].startswith("About music")
    assert result.completion_tokens == 40, "the tokens of the two failed answers count (20 each)"


def test_a_creator_name_is_no_tag_of_a_silent_clip() -> None:
    from mediarec.llm.grounding import repair_item

    stages = {"audio": {"tags": [{"name": "Silence", "score": 0.98}]}}
    ev = collect_evidence("x", "Untitled clip", 30.0, {"creator": "Unknown"}, stages)
    creator = next(p.id for p in ev.pieces if p.text.startswith("creator: "))
    answer = {
        "description": "Silence.",
        "tags": [{"tag": "unknown", "evidence": [creator]}, {"tag": "silence", "evidence": ["A1"]}],
        "topics": [],
        "moments": [],
    }
    assert [t["tag"] for t in repair_item(answer, ev)["tags"]] == ["silence"]


def test_a_stored_tag_points_only_at_pieces_that_contain_it() -> None:
    from mediarec.llm.grounding import ground_tags

    ev = evidence_for("Fresh pasta", COOKING)
    stored = ground_tags({"tags": [{"tag": "flour", "evidence": ["M1", "S1"]}], "topics": []}, ev)
    assert [e["id"] for e in stored["tags"][0]["evidence"]] == ["S1"], "the title has no flour in it"
