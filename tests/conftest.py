"""Shared fixtures. Datasets under ../shared/data are read by path, never copied into the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDIAREC_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_dataset(name: str) -> Path:
    """Path of a shared dataset folder, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared dataset {name!r} not found at {path} (set MEDIAREC_SHARED_DATA)")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh data home."""
    return tmp_path / "home"
