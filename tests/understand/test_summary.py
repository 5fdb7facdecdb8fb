"""What `mediarec show` prints: only the labels confident enough to be evidence."""

from __future__ import annotations

from mediarec.understand.summary import describe


def _stage(payload: dict) -> dict:
    return {"payload": payload, "version": "v1", "dim": None}


def test_low_scoring_labels_are_not_shown_as_facts() -> None:
    stages = {
        "vision": _stage(
            {"labels": [{"name": "solar dish", "score": 0.40}, {"name": "web site", "score": 0.2}]}
        ),
        "audio": _stage({"tags": [{"name": "Speech", "score": 0.84}, {"name": "Silence", "score": 0.08}]}),
    }
    lines = list(describe(None, stages))
    visual = next(line for line in lines if "visual tags" in line)
    audio = next(line for line in lines if "audio tags" in line)
    assert "solar dish" not in visual and "none confident (of 2" in visual
    assert "Speech (0.84)" in audio and "Silence" not in audio


def test_confident_labels_are_shown_with_their_scores() -> None:
    stages = {"vision": _stage({"labels": [{"name": "football", "score": 0.91}]})}
    assert "  visual tags: football (0.91)" in list(describe(None, stages))
