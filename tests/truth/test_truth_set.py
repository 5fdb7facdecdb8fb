"""The labelled truth set (bench/truth), its scorer (bench/bench_truth.py) and the extra clips it labels."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections import Counter
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from mediarec.datasets import demo
from mediarec.datasets.media_demo import MANIFEST, plan_clips
from mediarec.datasets.media_extra import EXTRA_CLIPS, build_extra_media
from mediarec.datasets.media_scripts import SAMPLES
from mediarec.llm.item_schema import TOPIC_VOCABULARY

REPO = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_truth", REPO / "bench" / "bench_truth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()


# -- the truth files --------------------------------------------------------------------------------


def test_every_demo_and_extra_clip_is_labelled_with_vocabulary_topics() -> None:
    clips = bench.load_topics()
    assert bench.topic_problems(clips, TOPIC_VOCABULARY) == []
    narrated = {p.id for p in plan_clips()}
    assert len(narrated) == 24 and narrated <= set(clips)
    assert {str(s.row["id"]) for s in SAMPLES} <= set(clips)
    extra = {c.id for c in EXTRA_CLIPS}
    assert extra <= set(clips)
    assert len([c for c in EXTRA_CLIPS if not c.id.startswith("new-")]) >= 10
    assert len([c for c in EXTRA_CLIPS if c.id.startswith("new-")]) >= 4
    assert {"melody", "silence", "bars"} <= {c.recipe for c in EXTRA_CLIPS}
    # Non-content clips: the right answer is no topic, or only "music" for the melody.
    assert clips["extra-silence"]["accept"] == [] and clips["extra-test-card"]["accept"] == []
    assert clips["extra-music-only"]["accept"] == ["music"]
    for clip, row in clips.items():
        assert set(row["accept"]).isdisjoint(row["wrong"]), clip
        if clip in narrated:  # every narrated demo clip names its catalogue topic as expected
            assert clip.split("-")[0] in row["expect"], clip


def test_topic_problems_catches_bad_labels() -> None:
    bad = {
        "a": {"accept": ["cooking", "cookery"], "expect": ["food"], "wrong": ["cooking"], "note": "x"},
        "b": {"accept": ["music"], "expect": [], "debatable": ["music"], "wrong": [], "note": ""},
    }
    problems = " | ".join(bench.topic_problems(bad, TOPIC_VOCABULARY))
    for part in (
        "'cookery' is not in the vocabulary",
        "accepted and wrong",
        "expected topics not accepted",
        "debatable topics also",
        "b: no note",
    ):
        assert part in problems


def test_reason_triples_are_well_formed_and_varied() -> None:
    triples = bench.load_triples()
    assert len(triples) >= 30
    keys = [bench.stored_triple_key(t) for t in triples]
    assert len(set(keys)) == len(keys)  # each triple is matched unambiguously
    users = set(demo.user_tastes())
    items = (
        {i.external_id for i in demo.items()}
        | {c.id for c in EXTRA_CLIPS}
        | {str(s.row["id"]) for s in SAMPLES}
    )
    for t in triples:
        assert isinstance(t["true"], bool) and t["how_decided"].strip() and t["text"].strip()
        assert t["item"] in items
        assert t["user"] in users or t["kind"] == "popular"  # the fallback list's user has no events
        assert t["confidence"] in ("clear", "judgement")
        if t["kind"] == "similar_to_seen":
            assert t["anchor"] in items and t["text"].startswith("because you watched")
        if t["kind"] == "interest_tag":
            assert t["tag"]
    kinds = Counter(t["kind"] for t in triples)
    assert len(kinds) >= 5
    assert {t["true"] for t in triples if t["kind"] == "similar_to_seen"} == {True, False}


# -- the scorer ------------------------------------------------------------------------------------------


def test_score_topics_on_a_hand_made_case() -> None:
    labels: dict[str, dict[str, Any]] = {
        "pasta": {
            "accept": ["cooking", "food"],
            "expect": ["cooking"],
            "debatable": ["education"],
            "wrong": ["programming"],
        },
        "bars": {"accept": [], "expect": [], "wrong": ["art"]},
        "chess": {"accept": ["gaming"], "expect": [], "wrong": []},
        "git": {
            "accept": ["programming", "technology"],
            "expect": ["programming", "technology"],
            "wrong": [],
        },
    }
    stored = {
        "pasta": ["cooking", "education", "programming"],  # 1 right, 1 debatable, 1 wrong entry
        "bars": [],  # silent: right
        "chess": ["gaming"],  # right, nothing expected
        "git": ["programming"],  # right, one expected missing
    }
    s = bench.score_topics(stored, labels)
    assert s["topics_stored"] == 5
    assert s["precision"] == pytest.approx(3 / 5)
    assert s["precision_lenient"] == pytest.approx(4 / 5)
    assert s["recall"] == pytest.approx(2 / 3)  # cooking, programming of cooking, programming, technology
    assert s["wrong_hits"] == 1 and s["clips_with_wrong"] == ["pasta"]
    assert s["silent_clips"] == ["bars"]
    rows = {r["clip"]: r for r in s["rows"]}
    assert rows["git"]["missing"] == ["technology"] and rows["pasta"]["unaccepted"] == [
        "education",
        "programming",
    ]


def test_score_reasons_finds_violations_and_sub_threshold_similarity() -> None:
    triples = [
        {"user": "u1", "item": "chess", "kind": "similar_to_seen", "anchor": "beds", "true": False},
        {"user": "u1", "item": "pasta", "kind": "interest_tag", "tag": "cooking", "true": True},
        {"user": "u2", "item": "pasta", "kind": "interest_tag", "tag": "cooking", "true": False},
    ]

    def watched(anchor: str, sim: float, space: str) -> dict[str, Any]:
        return {
            "kind": "similar_to_seen",
            "text": f"because you watched {anchor}",
            "evidence": {"item_id": anchor, "similarity": sim, "space": space},
        }

    lists = {
        "u1": [
            {"item_id": "chess", "reasons": [watched("beds", 0.34, "fused")]},
            {
                "item_id": "pasta",
                "reasons": [
                    {"kind": "interest_tag", "text": "t", "evidence": {"tag": "cooking"}},
                    watched("sauce", 0.6, "als"),
                ],
            },
        ],
        "u2": [
            {
                "item_id": "pasta",
                "reasons": [{"kind": "interest_tag", "text": "t", "evidence": {"tag": "food"}}],
            }
        ],
    }
    s = bench.score_reasons(lists, triples, 0.55, 0.67, ["als"])
    assert s["reasons_given"] == 4 and s["matched"] == 2 and s["confirmed"] == 1
    assert [v["key"] for v in s["violations"]] == [["u1", "chess", "similar_to_seen", "beds"]]
    assert s["true_share_of_matched"] == pytest.approx(0.5)
    # 0.34 < 0.55 in a content space; 0.6 < 0.67 in the ALS space
    assert sorted(b["similarity"] for b in s["below_threshold"]) == [0.34, 0.6]
    assert bench.score_reasons(lists, triples, None, None, ["als"])["below_threshold"] == []


def test_similar_by_rule_needs_a_watched_anchor_on_the_same_topic() -> None:
    labels = {"chess": {"accept": ["gaming", "education"], "expect": []}}
    topics = {"beds": "gardening", "bulbs": "gardening", "seeds": "gardening"}

    def because(anchor: str) -> dict[str, Any]:
        return {"kind": "similar_to_seen", "text": "t", "evidence": {"item_id": anchor}}

    lists = {
        "u1": [
            {"item_id": "chess", "reasons": [because("beds")]},
            {"item_id": "bulbs", "reasons": [because("beds"), {"kind": "new", "text": "t"}]},
            {"item_id": "bulbs", "reasons": [because("seeds")]},
        ]
    }
    s = bench.similar_by_rule(lists, labels, topics, {"u1": {"beds"}})
    assert s["given"] == 3 and s["false"] == 2
    assert s["false_examples"] == [["u1", "chess", "beds"], ["u1", "bulbs", "seeds"]]


# -- the extra clips: real, decodable files ---------------------------------------------------------------


def _tools() -> None:
    missing = [] if shutil.which("espeak-ng") else ["espeak-ng"]
    missing += [m for m in ("imageio_ffmpeg", "PIL", "av") if find_spec(m) is None]
    if missing:
        pytest.skip(f"media tools missing: {', '.join(missing)}")


def _audio(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as c:
        rate = c.streams.audio[0].rate
        parts = [f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]
    return np.concatenate(parts), rate


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def _video(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_test_card_and_melody_render_as_real_streams(tmp_path: Path) -> None:
    _tools()
    import av

    built = build_extra_media(tmp_path, only=["extra-test-card", "extra-music-only"])
    rows = [json.loads(line) for line in (tmp_path / MANIFEST).read_text().splitlines()]
    assert [r["id"] for r in rows] == ["extra-music-only", "extra-test-card"]  # EXTRA_CLIPS' order
    melody, card = built.clips
    frames = _video(card.path)
    assert len(frames) == card.truth.frames == 200
    top = frames[0][
        : frames[0].shape[0] // 2
    ]  # the seven bars: grey, yellow, cyan, green, magenta, red, blue
    bars = [top[:, int((i + 0.5) * top.shape[1] / 7)].mean(axis=0) for i in range(7)]
    assert bars[1][2] < 100 < bars[1][0] and bars[6][2] > 100 > bars[6][0]  # yellow left, blue right
    samples, rate = _audio(card.path)
    assert abs(_peak_hz(samples, rate) - 1000) < 10
    with av.open(str(melody.path)) as c:
        assert len(c.streams.video) == 0 and len(c.streams.audio) == 1
    samples, rate = _audio(melody.path)
    assert len(samples) / rate == pytest.approx(melody.truth.duration, abs=0.1)
    first, later = samples[int(0.1 * rate) : int(0.4 * rate)], samples[int(5.6 * rate) : int(5.9 * rate)]
    assert abs(_peak_hz(first, rate) - 262) < 8 and abs(_peak_hz(later, rate) - 523) < 8  # notes 1 and 12


def test_silence_is_black_and_silent(tmp_path: Path) -> None:
    _tools()
    (clip,) = build_extra_media(tmp_path, only=["extra-silence"]).clips
    samples, _ = _audio(clip.path)
    assert np.abs(samples).max() < 1e-3
    frames = _video(clip.path)
    assert len(frames) == 200 and max(float(f.mean()) for f in frames) < 20


def test_unknown_clip_id_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown extra clip ids: \\['nope'\\]"):
        build_extra_media(tmp_path, only=["nope"])


@pytest.mark.heavy
def test_every_extra_clip_renders_with_the_streams_its_kind_needs(tmp_path: Path) -> None:
    _tools()
    import av

    built = build_extra_media(tmp_path)
    assert [c.id for c in built.clips] == [c.id for c in EXTRA_CLIPS]
    recipes = {c.id: c.recipe for c in EXTRA_CLIPS}
    for clip in built.clips:
        with av.open(str(clip.path)) as c:
            video, audio = len(c.streams.video), len(c.streams.audio)
            seconds = float(c.duration or 0) / av.time_base
        assert audio == 1, clip.id
        assert video == (0 if recipes[clip.id] in ("melody", "podcast") else 1), clip.id
        assert seconds == pytest.approx(clip.truth.duration, abs=0.2), clip.id
        if recipes[clip.id] in ("narrated", "podcast", "silent-intro"):
            samples, rate = _audio(clip.path)
            assert np.abs(samples).max() > 0.1, clip.id  # speech is there
        if recipes[clip.id] == "silent-intro":
            samples, rate = _audio(clip.path)
            assert np.abs(samples[: int(19 * rate)]).max() < 1e-3  # the first 19 s are silent
