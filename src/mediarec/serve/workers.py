"""The app of one of several ``mediarec serve --workers N`` processes.

uvicorn starts each worker by import path, so the settings the command resolved (data home, store
URL, listen address) reach the workers through the environment variables below. Each worker has its
own engine and result cache; all of them check each answer against the shared store, so they stay
as true as one process (rank/cache.py).
"""

from __future__ import annotations

import os
from typing import Any

HOME_VAR = "MEDIAREC_SERVE_WORKER_HOME"
STORE_VAR = "MEDIAREC_SERVE_WORKER_STORE_URL"
HOST_VAR = "MEDIAREC_SERVE_WORKER_HOST"


def worker_env(home: str, store_url: str | None, host: str) -> dict[str, str]:
    return {HOME_VAR: home, STORE_VAR: store_url or "", HOST_VAR: host}


def app() -> Any:
    """uvicorn's factory (``mediarec.serve.workers:app``)."""
    from mediarec.engine import MediaRec
    from mediarec.serve import create_app
    from mediarec.settings import load_settings

    settings = load_settings(os.environ[HOME_VAR], store_url=os.environ.get(STORE_VAR) or None)
    return create_app(MediaRec(settings=settings), host=os.environ[HOST_VAR])
