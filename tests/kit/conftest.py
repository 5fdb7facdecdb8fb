"""Helpers for the kit tests; the session-wide ``shared_kit`` fixture lives in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

from mediarec.settings import Settings


def kit_path(settings: Settings) -> Path:
    return Path(settings.kit_dir)
