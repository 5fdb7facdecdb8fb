"""``mediarec recommend --ask``, ``similar --ask``, ``search`` and ``moments`` on a real home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import invoke
from tests.rank.conftest import make_engine


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL"):
            mp.delenv(var, raising=False)
        engine = make_engine(tmp_path_factory.mktemp("cli-steer") / "home")
    engine.store.add_feature(
        "cooking-1",
        "speech",
        "test/1",
        {"segments": [{"start": 4.4, "end": 11.3, "text": "Knead the dough for ten minutes."}]},
    )
    engine.close()
    return engine.home


@pytest.fixture(autouse=True)
def _rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAREC_ASK_PARSER", "rules")  # no LLM, whatever kit the shell points at


def test_recommend_ask_prints_what_was_understood(home: Path) -> None:
    r = invoke(home, "recommend", "user-01", "-n", "3", "--ask", "about cooking, no football")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("understood: topic cooking, not football")
    assert sum("[cooking-" in line for line in lines) == 3


def test_unsatisfiable_and_over_long_requests(home: Path) -> None:
    r = invoke(home, "recommend", "user-01", "--ask", "in Japanese")
    assert (
        r.exit_code == 0
        and "nothing to recommend: no item in the catalogue satisfies: language ja" in r.stdout
    )
    r = invoke(home, "recommend", "user-01", "--ask", "x" * 301)
    assert r.exit_code == 2 and "at most 300" in r.stderr


def test_similar_ask_and_search(home: Path) -> None:
    r = invoke(home, "similar", "cooking-1", "-n", "3", "--ask", "like this but audio", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["steering"]["query"] == {"kinds": ["audio"]}
    assert out["items"] and all(i["kind"] == "audio" for i in out["items"])
    r = invoke(home, "search", "kneading dough", "-n", "2")
    assert r.exit_code == 0 and "[cooking-1]" in r.stdout and "4.40-11.30" in r.stdout
    r = invoke(home, "moments", "user-01", "-n", "2")
    assert r.exit_code == 0 and "one of your interests" in r.stdout
