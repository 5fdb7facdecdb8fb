"""The mediarec command as a user runs it: CliRunner for most, a real subprocess for the demo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mediarec.cli import main
from mediarec.media import content_hash

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, home: Path, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A small platform export in the generic format, with two broken rows."""
    folder = tmp_path / "export"
    folder.mkdir()
    items = ["id,title,kind,creator"]
    items += [f"v{i},Video {i},video,{'alice' if i < 20 else 'bob'}" for i in range(40)]
    (folder / "items.csv").write_text("\n".join(items) + "\n")
    events = ["user,item,type,value,timestamp"]
    for u in range(30):
        # Even users watch 8 of alice's 20 videos, odd users 8 of bob's.
        group = range(20) if u % 2 == 0 else range(20, 40)
        events += [
            f"u{u},v{i},view,0.9,{1_700_000_000 + 60 * (u * 40 + i)}" for i in group if (u * 7 + i) % 20 < 8
        ]
    events.insert(3, "u0,v1,view,not-a-number,1")
    events.insert(7, "u1,v99,like,,1700000000")
    (folder / "interactions.csv").write_text("\n".join(events) + "\n")
    return folder


def test_every_command_is_in_the_readme_with_an_example() -> None:
    readme = (REPO / "README.md").read_text()
    for name, command in main.commands.items():
        assert f"mediarec {name}" in readme, f"`mediarec {name}` is missing from the README"
        assert "Example: mediarec" in (command.epilog or ""), f"`mediarec {name} --help` has no example"
        help_text = CliRunner().invoke(main, [name, "--help"]).output
        assert "Example: mediarec" in help_text


def test_import_reports_bad_rows_with_line_numbers_and_is_idempotent(export: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = run("import", str(export), home=home, code=3)
    assert "as generic" in out and "2 bad rows" in out
    assert "interactions.csv:4: value is not a number" in out
    assert "interactions.csv:8: unknown item 'v99'" in out
    again = run("import", str(export), home=home, code=3)
    assert "0 new" in again and re.search(
        r"\((\d+) new, \1 already stored\)|0 new, \d+ already stored", again
    )


def test_train_recommend_similar(export: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run("import", str(export), home=home, code=3)
    assert "trained itemknn" in run("train", "--model", "itemknn", home=home)
    recs = json.loads(run("recommend", "u0", "-n", "3", "--model", "itemknn", "--json", home=home))
    assert len(recs) == 3 and all(r["creator"] == "alice" for r in recs), "u0 watches alice's videos"
    assert all(r["reasons"] and r["reasons"][0]["evidence"] for r in recs)
    assert "Video" in run("similar", "v0", "-n", "2", "--model", "itemknn", home=home)
    result = CliRunner().invoke(main, ["--home", str(home), "similar", "nope", "--model", "itemknn"])
    assert result.exit_code != 0 and "unknown item 'nope'" in result.output


def test_train_with_bad_option_is_a_clear_error(export: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    run("import", str(export), home=home, code=3)
    result = CliRunner().invoke(main, ["--home", str(home), "train", "--model", "als", "--param", "colour=1"])
    assert result.exit_code != 0 and "no option(s) colour" in result.output


def test_evaluate_writes_markdown_and_json(export: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    out = run(
        "evaluate",
        str(export),
        "--split",
        "random",
        "--models",
        "random,itemknn",
        "-k",
        "5",
        "--out",
        str(out_dir),
        home=tmp_path / "home",
    )
    assert "| random |" in out and "| itemknn |" in out
    report = json.loads((out_dir / "report.json").read_text())
    recall = {row["model"]: row["metrics"]["recall"] for row in report["rows"]}
    assert recall["itemknn"] > recall["random"]
    assert (out_dir / "report.md").read_text().startswith("# Evaluation")


def test_evaluate_store_with_feature_models_and_cold_items(export: Path, tmp_path: Path) -> None:
    """Without PATH the content models read the store's vectors; --cold adds the second table."""
    import numpy as np

    from mediarec.engine import MediaRec

    home = tmp_path / "home"
    run("import", str(export), home=home, code=3)
    store = MediaRec(home).store
    rng = np.random.default_rng(0)
    for i in range(40):  # alice's videos point one way, bob's the other
        store.add_feature(f"v{i}", "fused", "t/1", vector=np.eye(4)[0 if i < 20 else 1] + 0.2 * rng.random(4))
    out_dir = tmp_path / "report"
    args = ["--split", "random", "--models", "random,content,hybrid", "--cold", "0.25", "--out", str(out_dir)]
    out = run("evaluate", *args, "-k", "5", home=home)
    assert "cold-items" in out and "ranking only the 10 held-out items" in out
    cold = json.loads((out_dir / "report-cold-items.json").read_text())
    recall = {row["model"]: row["metrics"]["recall"] for row in cold["rows"]}
    assert recall["content"] > recall["random"] and recall["hybrid"] > recall["random"]
    assert cold["features"].startswith("stored fused vectors, 40 of 40 items")


def test_missing_path_and_unknown_store_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "import", str(tmp_path / "missing")])
    assert result.exit_code != 0 and "does not exist" in result.output
    monkeypatch.setenv("MEDIAREC_STORE_URL", "mysql://db/mediarec")
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "recommend", "u1"])
    assert result.exit_code != 0 and "not supported" in str(result.exception)
    # A PostgreSQL store that cannot be reached says so (port 1: refused at once), password hidden.
    monkeypatch.setenv("MEDIAREC_STORE_URL", "postgresql://me:secret@127.0.0.1:1/mediarec")
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "recommend", "u1"])
    assert result.exit_code != 0 and "cannot open the store" in str(result.exception)
    assert "secret" not in str(result.exception) and "***" in str(result.exception)


@pytest.mark.heavy
def test_demo_runs_end_to_end_as_a_subprocess(tmp_path: Path) -> None:
    """`mediarec demo` from an empty folder: real media through the real pipeline, then
    recommendations; a second run reuses every finished stage."""
    # Keep the session's shared model kit (MEDIAREC_KIT_DIR); nothing else from the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAREC_") or k == "MEDIAREC_KIT_DIR"}

    def demo() -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "mediarec", "demo"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    out = demo()
    assert (tmp_path / "mediarec-data" / "mediarec.db").is_file(), "the default home is ./mediarec-data"
    assert re.search(r"3\. ingested: 27 processed, 0 already done, 0 failed", out), out
    assert "transcript (en" in out and "on-screen text: Fresh pasta" in out and "Speech" in out
    llm = re.compile(r"3b\. the fast local LLM described (\d+) clips \((\d+) already done")
    first = llm.search(out)
    if "3b. LLM descriptions skipped" not in out:  # only without llama-cpp-python or the fast model
        assert first and int(first[1]) >= 2, out  # of 3 clips, one per topic
    shown = re.findall(r"— (\d)/(\d) in taste", out)
    assert len(shown) == 3
    assert sum(int(a) for a, _ in shown) / sum(int(b) for _, b in shown) >= 0.8
    assert "because you watched" in out and "Recall@10" in out
    assert (tmp_path / "mediarec-data" / "reports" / "demo" / "report.json").is_file(), "for the dashboard"
    again = demo()
    assert "3. ingested: 0 processed, 27 already done, 0 failed" in again
    second = llm.search(again)
    if first:
        assert second and int(second[2]) >= int(first[1]), "described clips are not described again"


@pytest.mark.heavy
def test_ingest_and_show_on_real_media(demo_media: Any, shared_kit: Any, tmp_path: Path) -> None:
    pytest.importorskip(
        "faster_whisper", reason="needs the understand extra: pip install 'mediarec[understand]'"
    )
    clips = [c for c in demo_media.clips if c.id in ("cooking-2", "science-1")]
    env = {"MEDIAREC_KIT_DIR": shared_kit.kit_dir}
    home = tmp_path / "home"
    runner = CliRunner(env=env)
    args = [
        "--home",
        str(home),
        "ingest",
        "--workers",
        "0",
        *(str(c.path) for c in clips),
        str(tmp_path / "gone.mp4"),
    ]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 3, result.output  # some files failed: cli.EXIT_SOME_FAILED
    assert "2 processed, 0 skipped (already done), 1 failed" in result.output
    assert "gone.mp4" in result.output and "file not found" in result.output
    item = f"media-{content_hash(clips[0].path)[:12]}"
    shown = runner.invoke(main, ["--home", str(home), "show", item], catch_exceptions=False).output
    assert "transcript (en" in shown and "shots (" in shown and "audio tags: Speech" in shown
    words = set(re.findall(r"[a-z]+", clips[0].truth.script.lower()))
    assert len(words & set(re.findall(r"[a-z]+", shown.lower()))) >= 5, shown
    again = runner.invoke(main, args, catch_exceptions=False).output
    assert "0 processed, 2 skipped (already done), 1 failed" in again
