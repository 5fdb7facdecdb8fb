"""Shared set-up of the ``tests/test_cli_*.py`` files: a small home built through the library."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from mediarec.cli import main
from mediarec.engine import MediaRec
from mediarec.records import EventRecord, ItemRecord


def invoke(home: Path | None, *args: str) -> Result:
    """Run ``mediarec [--home HOME] ARGS``; stdout and stderr stay apart (``result.stderr``)."""
    prefix = ["--home", str(home)] if home is not None else []
    return CliRunner().invoke(main, [*prefix, *args])


def small_home(
    home: Path, n_items: int = 40, n_users: int = 30, titles: dict[str, str] | None = None
) -> Path:
    """A catalogue of two creators whose fans watch only their videos; ``titles`` overrides some."""
    titles = titles or {}
    items = [
        ItemRecord(
            external_id=f"v{i}",
            title=titles.get(f"v{i}", f"Video {i}"),
            kind="video" if i % 4 else "audio",
            creator="alice" if i < n_items // 2 else "bob",
            metadata={"tags": ["cooking" if i < n_items // 2 else "jazz"]},
        )
        for i in range(n_items)
    ]
    events = []
    for u in range(n_users):
        group = range(n_items // 2) if u % 2 == 0 else range(n_items // 2, n_items)
        events += [
            EventRecord(
                user=f"u{u}", item=f"v{i}", type="view", value=0.9, ts=1_700_000_000.0 + 60 * (u * 40 + i)
            )
            for i in group
            if (u * 7 + i) % 20 < 8
        ]
    with MediaRec(home) as engine:
        engine.add_items(items)
        inserted, rejected = engine.add_events(events)
        assert inserted == len(events) and not rejected
    return home
