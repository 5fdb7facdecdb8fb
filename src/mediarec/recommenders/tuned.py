"""The configuration ``mediarec tune`` chose for this home: ``<home>/tuned.json``.

Kept apart from the tuner (``mediarec.eval.tune``) so that ``train`` and ``serve`` read it without
importing the evaluation code. The winner becomes the default model unless the ``default_model``
setting names another one, and its options apply whenever that model is trained here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediarec.recommenders import create

TUNED_FILE = "tuned.json"


@dataclass(frozen=True)
class TunedConfig:
    """What ``train`` / ``serve`` read: the model tune chose and its options."""

    model: str
    params: dict[str, Any]
    dataset: str = ""
    tuned_at: float = 0.0


def save_tuned(model: str, params: dict[str, Any], dataset: str, home: str | Path) -> Path:
    """Write the winner where ``train`` / ``serve`` look for it."""
    create(model, **params)  # refuse to save what could not be loaded
    path = Path(home) / TUNED_FILE
    data = {"model": model, "params": params, "dataset": dataset, "tuned_at": time.time()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)  # a server reading it never sees half a file
    return path


def load_tuned(home: str | Path) -> TunedConfig | None:
    """The saved winner, or None when tune never ran here. A file naming an unknown model or
    option is refused with the reason (silently serving something else would be false)."""
    path = Path(home) / TUNED_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        config = TunedConfig(
            str(data["model"]),
            dict(data["params"]),
            str(data.get("dataset", "")),
            float(data.get("tuned_at", 0.0)),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a tune result ({exc}); rerun `mediarec tune` or delete it") from None
    create(config.model, **config.params)  # raises ValueError naming the bad model or option
    return config
