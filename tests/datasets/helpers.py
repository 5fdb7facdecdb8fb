"""Helpers shared by the importer tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mediarec.records import BadRow


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Write each file (text as UTF-8, bytes as given) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def assert_bad_rows(bad_rows: Sequence[BadRow], expected: dict[tuple[str, int], str]) -> None:
    """Exactly the expected (file, line) pairs were rejected, each for a reason containing the phrase."""
    got = {(b.source, b.line): b.reason for b in bad_rows}
    assert got.keys() == expected.keys()
    for key, phrase in expected.items():
        assert phrase in got[key], (key, got[key])
