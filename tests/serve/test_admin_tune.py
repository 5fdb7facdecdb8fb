"""``POST /admin/tune`` on a real server: starts the search, reports it, and the winner is served."""

from __future__ import annotations

import time
from pathlib import Path

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from tests.serve.helpers import assert_error, serving, without_settings_env


def test_admin_tune_runs_in_the_background_and_the_winner_becomes_the_default(tmp_path: Path) -> None:
    with without_settings_env():
        engine = MediaRec(tmp_path / "home")
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    with engine, serving(engine) as api:
        assert_error(api.client.post("/admin/tune"), 401)
        assert_error(api.client.post("/admin/tune", params={"budget": 0}, headers=api.auth), 422, "budget")
        r = api.client.post("/admin/tune", params={"budget": 60, "trials": 3}, headers=api.auth)
        assert r.status_code == 202, r.text
        again = api.client.post("/admin/tune", params={"budget": 60, "trials": 3}, headers=api.auth)
        state = api.client.get("/admin/tune", headers=api.auth).json()
        if state["status"] == "running":  # the tiny search may already be over
            assert_error(again, 409, "already running")
        deadline = time.monotonic() + 60
        while state["status"] == "running":
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
            state = api.client.get("/admin/tune", headers=api.auth).json()
        assert state["status"] == "done", state
        # The demo store has no item vectors: the collaborative models are searched, and it says why.
        assert state["note"] and state["model"] in {"ease", "als", "itemknn", "itemknn-bm25"}
        assert (engine.home / "tuned.json").is_file() and (engine.home / "tune" / "tune.md").is_file()
        assert engine.settings.default_model == state["model"]
        assert engine.tuned is not None and engine.tuned.params == state["params"]


def test_eval_page_shows_the_tuned_configuration_and_its_plot(tmp_path: Path) -> None:
    with without_settings_env():
        engine = MediaRec(tmp_path / "home")
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    with engine, serving(engine) as api:
        assert "Tuned configuration" not in api.client.get("/ui/eval").text
        assert api.client.get("/ui/tune.svg").status_code == 404
        from mediarec.eval.tune import TuneOptions
        from mediarec.eval.tune_home import tune_home

        outcome = tune_home(engine, TuneOptions(budget_seconds=60, trials=3))
        html = api.client.get("/ui/eval").text
        assert "Tuned configuration" in html and f"chose <strong>{outcome.result.model}</strong>" in html
        assert "use it as the default model" in html
        svg = api.client.get("/ui/tune.svg")
        assert svg.status_code == 200 and svg.text.startswith("<svg")


def test_dashboard_tune_button_needs_the_page_token_and_starts_the_runner(tmp_path: Path) -> None:
    import re

    with without_settings_env():
        engine = MediaRec(tmp_path / "home")
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    with engine, serving(engine) as api:
        page = api.client.get("/ui/eval").text
        assert 'id="tune-start"' in page
        assert api.client.post("/ui/api/tune", json={}).status_code == 403
        found = re.search(r'<meta name="csrf-token" content="([^"]*)">', page)
        assert found is not None
        r = api.client.post("/ui/api/tune", json={}, headers={"X-CSRF-Token": found.group(1)})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 120
        while api.client.get("/admin/tune", headers=api.auth).json()["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert api.client.get("/admin/tune", headers=api.auth).json()["status"] == "done"
