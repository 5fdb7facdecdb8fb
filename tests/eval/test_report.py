from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mediarec.eval import ModelResult, Report, to_json, to_markdown, write_report
from mediarec.eval.report import PLOT_MISSING


def sample_report() -> Report:
    metrics = {
        "recall": 0.25,
        "ndcg": 0.125,
        "map": 0.0625,
        "hit_rate": 0.5,
        "mrr": 0.3,
        "coverage": 0.01,
        "novelty": 7.5,
        "ild": 0.8,
    }
    return Report(
        dataset="tiny",
        split="temporal",
        split_description="events before the 80% time quantile train, the rest test",
        k=20,
        seed=42,
        n_users_evaluated=28,
        n_items=9742,
        n_train=80668,
        n_test=20168,
        cold_users_skipped=88,
        n_train_users=522,
        n_test_pairs=1921,
        cold_events_skipped=18247,
        rows=[
            ModelResult("als", {"factors": 64}, metrics, fit_seconds=1.234, recommend_seconds=0.01),
            ModelResult(
                "empty", {}, {**metrics, "recall": float("nan")}, fit_seconds=0.0, recommend_seconds=0.0
            ),
        ],
    )


def test_markdown_table() -> None:
    md = to_markdown(sample_report())
    lines = md.splitlines()
    header = (
        "| model | Recall@20 | NDCG@20 | MAP@20 | HitRate@20 | MRR@20 | coverage | novelty | ILD "
        "| fit s | rec s |"
    )
    assert header in lines
    assert (
        "| als | 0.2500 | 0.1250 | 0.0625 | 0.5000 | 0.3000 | 0.0100 | 7.5000 | 0.8000 | 1.23 | 0.01 |"
        in lines
    )
    assert any(line.startswith("| empty | n/a |") for line in lines)
    assert "tiny" in md
    assert "Split **temporal**" in md
    assert "80,668 train events" in md
    assert "28 users evaluated" in md
    assert "9,742 items" in md
    assert "Cold users skipped (test events but no training data): 88" in md


def test_json_round_trip_with_nan_as_null() -> None:
    text = to_json(sample_report())
    assert "NaN" not in text
    data = json.loads(text)
    assert data["dataset"] == "tiny"
    assert data["k"] == 20
    assert data["rows"][0]["model"] == "als"
    assert data["rows"][0]["params"] == {"factors": 64}
    assert data["rows"][0]["metrics"]["ndcg"] == 0.125
    assert data["rows"][1]["metrics"]["recall"] is None


def test_write_report_with_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    paths = write_report(sample_report(), tmp_path / "out")
    assert [p.name for p in paths] == ["report.md", "report.json", "report.png"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "report.png" in paths[0].read_text()
    assert json.loads(paths[1].read_text())["split"] == "temporal"


def test_write_report_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import raise ImportError, as if not installed.
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    paths = write_report(sample_report(), tmp_path)
    assert [p.name for p in paths] == ["report.md", "report.json"]
    assert not (tmp_path / "report.png").exists()
    assert PLOT_MISSING in paths[0].read_text()


def test_extra_reports_become_sections_and_files(tmp_path: Path) -> None:
    import dataclasses

    warm = sample_report()
    cold = dataclasses.replace(
        sample_report(), split="cold-items", split_description="held-out items", n_candidates=40,
        ild_space="the item feature vectors", features="synthetic",
    )
    written = write_report(warm, tmp_path, extra=[cold])
    names = {p.name for p in written}
    assert {"report.md", "report.json", "report-cold-items.json"} <= names
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Evaluation: tiny") and "## Evaluation: tiny, cold-items" in md
    assert "ranking only the 40 held-out items (of 9,742)" in md and "Item features: synthetic" in md
    assert json.loads((tmp_path / "report.json").read_text())["split"] == "temporal"  # main report alone
    assert json.loads((tmp_path / "report-cold-items.json").read_text())["n_candidates"] == 40
