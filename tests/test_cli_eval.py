"""``mediarec evaluate`` says when its figures mean little (cold protocol on a small store, tied
scores), and split imports take the items' kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediarec.datasets import load_dataset
from mediarec.engine import MediaRec
from mediarec.eval import evaluate
from mediarec.eval.report import to_markdown
from mediarec.eval.splits import cold_item_count
from tests.cli_helpers import invoke, small_home
from tests.datasets.helpers import write


def test_cold_protocol_holding_out_no_more_items_than_k_is_refused_before_any_work(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    result = invoke(home, "evaluate", "--split", "random", "--models", "random,itemknn", "--cold", "0.25")
    assert result.exit_code == 2, result.output
    assert "holds out 10 of the items with events, not more than -k 20" in result.output
    assert "Recall@20 = 1.0" in result.output
    assert not (home / "reports").exists()


def test_small_cold_table_warns_and_marks_models_that_only_break_ties(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    out = tmp_path / "report"
    args = ["--split", "random", "--models", "random,popularity,itemknn", "--cold", "0.25", "-k", "5"]
    result = invoke(home, "evaluate", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    cold_table = result.stdout.split("## Evaluation")[1]
    assert "| itemknn (ties) |" in cold_table and "| popularity (ties) |" in cold_table
    assert "| random |" in cold_table
    assert "**Warning:** Only 10 items are ranked at K = 5: a random list already holds 50%" in cold_table
    assert "popularity, itemknn: the model gave every item it ranked the same score" in cold_table
    assert "warning (cold-items): Only 10 items" in result.stderr
    # The main table ranks the whole catalogue with trained scores: no tie marks, no warning.
    main_table = result.stdout.split("## Evaluation")[0]
    assert "(ties)" not in main_table and "Warning" not in main_table
    cold = json.loads((out / "report-cold-items.json").read_text())
    tied = {row["model"]: row["tied_scores"] for row in cold["rows"]}
    assert tied == {"random": False, "popularity": True, "itemknn": True}
    assert len(cold["warnings"]) == 2
    assert "(ties)" in (out / "report.md").read_text()


def test_runner_refuses_a_cold_split_with_no_more_items_than_k(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    with MediaRec(home) as engine:
        dataset = engine.dataset()
    said: list[str] = []
    held_out = cold_item_count(dataset, 0.2)
    with pytest.raises(ValueError, match=f"holds out {held_out} items, not more than K = {held_out}"):
        evaluate(dataset, "cold-items", ["random", "itemknn"], k=held_out, progress=said.append)
    assert not any(line.startswith("fitting") for line in said)
    report = evaluate(dataset, "cold-items", ["random"], k=1)
    assert report.warnings == [] and "Warning" not in to_markdown(report)


def _split_folder(tmp_path: Path, with_map: bool) -> Path:
    files: dict[str, str | bytes] = {"train.txt": "0 0 1\n1 2\n", "test.txt": "0 2\n1 0 1\n"}
    if with_map:
        files["item_map.txt"] = "a 0\nb 1\nc 2\n"
    return write(tmp_path / ("mapped" if with_map else "bare"), files)


@pytest.mark.parametrize("with_map", [True, False])
def test_split_import_takes_the_kind(tmp_path: Path, with_map: bool) -> None:
    folder = _split_folder(tmp_path, with_map)
    audio, video = tmp_path / "audio-home", tmp_path / "video-home"
    result = invoke(audio, "import", str(folder), "--kind", "audio")
    assert result.exit_code == 0, result.output
    assert invoke(video, "import", str(folder)).exit_code == 0
    with MediaRec(audio) as engine:
        kinds = {i.external_id: i.kind for i in engine.store.list_items(limit=100)}
    assert len(kinds) == 3 and set(kinds.values()) == {"audio"}, kinds
    with MediaRec(video) as engine:
        assert {i.kind for i in engine.store.list_items(limit=100)} == {"video"}
    listed = json.loads(invoke(audio, "items", "--kind", "audio", "--json").stdout)
    assert listed["total"] == 3
    # Re-importing as audio changes nothing and adds nothing.
    again = invoke(audio, "import", str(folder), "--kind", "audio")
    assert "0 new" in again.output


def test_kind_is_refused_for_formats_that_say_it_themselves(tmp_path: Path) -> None:
    export = write(
        tmp_path / "export",
        {"items.csv": "id,title,kind\nv1,One,video\n", "interactions.csv": "user,item,type\nu1,v1,like\n"},
    )
    result = invoke(tmp_path / "home", "import", str(export), "--kind", "audio")
    assert result.exit_code == 1
    assert "a kind can be set for split imports only" in result.output
    assert load_dataset(export).items[0].kind == "video"
