"""Steering and search read the store (durations from the items table, speech and shot features)
with plain queries: the same results on a real PostgreSQL store as on SQLite."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.settings import load_settings
from tests.serve.helpers import without_settings_env


def _engine(home: Path, store_url: str) -> MediaRec:
    with without_settings_env():
        settings = load_settings(home, store_url=store_url)
        engine = MediaRec(settings=settings)
    engine.settings = dataclasses.replace(engine.settings, ask_parser="rules", kit_dir=str(home / "no-kit"))
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    engine.store.add_feature(
        "cooking-1",
        "speech",
        "test/1",
        {
            "language": "en",
            "language_probability": 0.9,
            "segments": [{"start": 4.4, "end": 11.3, "text": "Knead the dough for ten minutes."}],
        },
    )
    engine.train("als", factors=16, seed=3)
    return engine


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_steering_and_search_on_both_stores(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else ""
    engine = _engine(tmp_path / "home", url)
    with engine:
        assert engine.store.dialect.postgresql == (backend == "postgresql")
        durations = {i.external_id: i.duration for i in demo.items()}
        steered = engine.rank_steered("user-01", "under 5 minutes, no football", n=8)
        assert steered.result.items
        for r in steered.result.items:
            seconds = durations[r.item_id]
            assert seconds is not None and seconds <= 300
            assert not r.item_id.startswith("football-")
        # Only cooking-1 has a detected language.
        english = engine.rank_steered("user-01", "in English", n=5, exclude_seen=False)
        assert [r.item_id for r in english.result.items] == ["cooking-1"]
        hits = engine.search("kneading dough")
        assert hits[0].item_id == "cooking-1" and hits[0].ranges[0]["start"] == 4.4
