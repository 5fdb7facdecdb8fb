"""The catalogue snapshot holds a repeated value (a tag, a kind, a creator) once, not once per item:
at a million items the per-item copies of the metadata tags alone were ~700 MB (rank/catalog.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.engine import MediaRec
from mediarec.rank.catalog import CatalogCache, ItemTag, load_catalog, release_freed_memory
from mediarec.records import ItemRecord


def test_repeated_metadata_values_are_one_object_each(tmp_path: Path) -> None:
    with MediaRec(tmp_path / "home") as engine:
        engine.add_items(
            [
                ItemRecord(
                    f"i{k}",
                    f"Title {k}",
                    kind="audio" if k % 2 else "video",
                    creator="Same Creator",
                    metadata={"tags": ["Jazz", "live"], "genres": ["Music"]},
                )
                for k in range(4)
            ]
            + [ItemRecord("other", "Other", metadata={"tags": ["rock"]})]
        )
        catalog = load_catalog(engine.store)
    first, third = catalog.index["i0"], catalog.index["i2"]
    # The same values as before...
    assert catalog.tags[first] == (
        ItemTag("jazz", "metadata"),
        ItemTag("live", "metadata"),
        ItemTag("music", "metadata"),
    )
    assert catalog.topics[first] == ("music",) and catalog.kinds[first] == "video"
    assert catalog.tags[catalog.index["other"]] == (ItemTag("rock", "metadata"),)
    # ...each held once.
    assert all(a is b for a, b in zip(catalog.tags[first], catalog.tags[third], strict=True))
    assert catalog.topics[first] is catalog.topics[third]
    assert catalog.kinds[first] is catalog.kinds[third]
    assert catalog.creators[first] is catalog.creators[catalog.index["i1"]]


def _anon_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no RssAnon")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="Linux /proc only")
def test_freed_heap_memory_goes_back_to_the_system() -> None:
    """Chunks freed between survivors stay in glibc's heap (resident) until trimmed."""
    freed = [b"x" * 20_000 + bytes([k % 256]) for k in range(5_000)]
    kept = [b"y" * 600 + bytes([k % 256]) for k in range(5_000)]
    del freed
    before = _anon_mb()
    if not release_freed_memory():
        pytest.skip("no malloc_trim in this C library")
    assert _anon_mb() < before - 50, before
    assert len(kept) == 5_000


def test_a_big_snapshot_load_gives_back_what_it_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mediarec.rank import catalog as catalog_module

    calls: list[int] = []
    monkeypatch.setattr(catalog_module, "release_freed_memory", lambda: calls.append(1) or True)
    with MediaRec(tmp_path / "home") as engine:
        engine.add_items([ItemRecord(f"i{k}", f"Title {k}") for k in range(5)])
        CatalogCache().get(engine.store)
        assert calls == []  # small: not worth the pause
        monkeypatch.setattr(catalog_module, "BACKGROUND_RELOAD_ITEMS", 3)
        CatalogCache().get(engine.store)
        assert calls == [1]
