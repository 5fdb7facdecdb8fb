"""``POST /admin/tune`` and ``GET /admin/tune``: a thin shell over :func:`mediarec.eval.tune_home.tune_home`.

A search takes minutes, so POST starts it on a background thread and answers 202 at once; GET says
whether one runs and what the last one chose. One search at a time per server (a second POST while
one runs is answered 409): two would halve each other's budget on the same cores. The dashboard's
evaluation page starts the same runner (``app.state.tuner``).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.params import Depends

if TYPE_CHECKING:
    from mediarec.engine import MediaRec

MAX_BUDGET_SECONDS = 6 * 3600.0
DEFAULT_BUDGET_SECONDS = 600.0
DEFAULT_TRIALS = 81


class TuneRunner:
    """The server's one background tune and what the last one said."""

    def __init__(self, engine: MediaRec) -> None:
        self.engine = engine
        self._state: dict[str, Any] = {"status": "idle"}
        self._lock = threading.Lock()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def start(self, budget: float = DEFAULT_BUDGET_SECONDS, trials: int = DEFAULT_TRIALS) -> dict[str, Any]:
        """Start a search on the store's events; HTTPException 409 while one runs."""
        with self._lock:
            if self._state.get("status") == "running":
                raise HTTPException(409, "a tune is already running; GET /admin/tune for its progress")
            self._state = {"status": "running", "started": time.time(), "budget": budget}
        threading.Thread(target=self._run, args=(budget, trials), name="mediarec-tune", daemon=True).start()
        return {"status": "running", "budget": budget}

    def _run(self, budget: float, trials: int) -> None:
        from mediarec.eval.tune import TuneOptions
        from mediarec.eval.tune_home import tune_home

        def progress(done: int, planned: int, message: str) -> None:
            with self._lock:
                self._state.update(done=done, planned=planned, step=message)

        try:
            options = TuneOptions(budget_seconds=budget, seed=self.engine.settings.seed, trials=trials)
            outcome = tune_home(self.engine, options, progress=progress)
            r = outcome.result
            summary = {
                "status": "done",
                "model": r.model,
                "params": r.params,
                "validation_recall": r.recall,
                "default_validation_recall": r.default_recall,
                "cold_recall": r.cold_recall,
                "budget_hit": r.budget_hit,
                "trials": len(r.trials),
                "seconds": r.seconds,
                "report": str(self.engine.home / "tune" / "tune.md"),
                "note": outcome.features_note,
            }
        except Exception as exc:  # reported through GET, never lost in a thread
            summary = {"status": "failed", "error": str(exc)}
        with self._lock:
            self._state = {**summary, "finished": time.time()}


def install_tune(app: FastAPI, engine: MediaRec, writes: list[Depends]) -> None:
    runner = app.state.tuner = TuneRunner(engine)

    @app.post("/admin/tune", status_code=202, dependencies=writes, tags=["admin"])
    def start_tune(
        budget: float = Query(
            DEFAULT_BUDGET_SECONDS, gt=0, le=MAX_BUDGET_SECONDS, description="Seconds the search may take."
        ),
        trials: int = Query(
            DEFAULT_TRIALS, ge=1, le=10_000, description="Configurations drawn for the first rung."
        ),
    ) -> dict[str, Any]:
        """Start `mediarec tune` on the store's events; the winner becomes the default model."""
        return runner.start(budget, trials)

    @app.get("/admin/tune", dependencies=writes, tags=["admin"])
    def tune_status() -> dict[str, Any]:
        """The running search's progress, or what the last one chose."""
        return runner.status()
