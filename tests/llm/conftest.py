"""Fixtures of the LLM tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def support() -> Any:
    """The real text encoder's checks (MiniLM from the kit): topic support and line coherence."""
    import os
    from pathlib import Path

    from mediarec.llm.topics import TopicSupport

    folder = Path(os.environ.get("MEDIAREC_KIT_DIR", "")) / "minilm"
    if not (folder / "model.safetensors").is_file():
        pytest.skip("no MiniLM in the kit: set MEDIAREC_KIT_DIR")
    from mediarec.understand.text import MiniLM

    model = MiniLM(folder)
    seen: dict[str, Any] = {}

    def embed(texts: list[str]) -> Any:
        import numpy as np

        missing = [t for t in texts if t not in seen]
        if missing:
            seen.update(zip(missing, model.encode(missing), strict=True))
        return np.stack([seen[t] for t in texts])

    return TopicSupport(embed)
