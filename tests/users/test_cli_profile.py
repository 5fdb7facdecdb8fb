"""`mediarec profile`: show, edit, regenerate (with no LLM reachable here) and delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediarec.cli import main
from tests.users.helpers import GOOD, FakeProfileBackend, engine_with_history


def _cli(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--home", str(home), "profile", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_profile_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAREC_LLM_URL", raising=False)
    home = tmp_path / "home"
    with engine_with_history(home, llm=FakeProfileBackend([GOOD])) as engine:
        engine.regenerate_profile("u1")

    code, out = _cli(home, "u1")
    assert code == 0, out
    assert "taste profile of u1 (version 1 by fake/profile-1)" in out and GOOD["profile"] in out
    assert "interests: cooking 1.00, pasta 0.67" in out

    code, out = _cli(
        home, "u1", "--text", "Mostly pasta.", "--remove-tag", "jazz", "--add-tag", "Opera", "--json"
    )
    assert code == 0, out
    shown = json.loads(out)
    assert shown["text"] == "Mostly pasta." and shown["edited"] and shown["version"] == 1
    assert "opera" in {i["tag"] for i in shown["interests"]}
    assert "jazz" not in {i["tag"] for i in shown["interests"]}

    code, out = _cli(home, "u1", "--add-tag", "!")
    assert code == 1 and "not usable" in out

    # Nothing listens on port 9: regeneration fails cleanly and the stored profile is untouched.
    monkeypatch.setenv("MEDIAREC_LLM_URL", "http://127.0.0.1:9/v1?model=none")
    code, out = _cli(home, "u1", "--regenerate")
    assert code == 1 and "Error:" in out and "127.0.0.1:9" in out and "Traceback" not in out
    assert json.loads(_cli(home, "u1", "--json")[1])["text"] == "Mostly pasta."

    code, out = _cli(home, "u1", "--delete", "--text", "x")
    assert code == 2 and "cannot be combined" in out
    code, out = _cli(home, "u1", "--delete")
    assert code == 0 and "deleted the profile of u1: 1 versions, 1 edits" in out
    # No text profile any more: the interest tags computed from the history are still shown.
    code, out = _cli(home, "u1")
    assert code == 0 and "no text yet" in out and "interests from the history: cooking 1.00" in out
    code, out = _cli(home, "ghost")
    assert code == 1 and "unknown user 'ghost'" in out
    code, out = _cli(home, "ghost", "--text", "hi")
    assert code == 1 and "unknown user 'ghost'" in out


def test_profile_shows_interest_tags_before_any_text_profile(tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine_with_history(home).close()
    code, out = _cli(home, "u1", "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["text"] == "" and shown["version"] == 0
    tags = [i["tag"] for i in shown["interests"]]
    assert tags[0] == "cooking" and "jazz" in tags
    # A tag removed before any profile exists is gone from the computed interests too.
    code, out = _cli(home, "u1", "--remove-tag", "jazz", "--json")
    assert code == 0, out
    assert "jazz" not in {i["tag"] for i in json.loads(out)["interests"]}
    assert "cooking" in {i["tag"] for i in json.loads(out)["interests"]}
