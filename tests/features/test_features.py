"""Item text, the on-disk vector cache, alignment, and vectors read back from the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mediarec.features import ItemVectors, align, dataset_text_vectors, item_text, store_item_vectors
from mediarec.features import text as text_module
from mediarec.records import ItemRecord
from mediarec.settings import Settings


def test_item_text_prefers_the_description() -> None:
    described = ItemRecord(
        "1",
        "Toy Story (1995)",
        metadata={"description": "A  cowboy doll\nis jealous.", "genres": ["Animation"]},
    )
    assert item_text(described) == "A cowboy doll is jealous."
    listed = ItemRecord("2", "Heat (1995)", metadata={"genres": ["Action", "Crime"], "tags": ["heist", "LA"]})
    assert item_text(listed) == "Heat (1995). Genres: Action, Crime. Tags: heist, LA"
    assert item_text(ItemRecord("3")) == ""


def test_align_fills_missing_items_with_zeros() -> None:
    vecs = ItemVectors(np.array(["b", "a"]), np.array([[1, 2], [3, 4]], dtype=np.float32), "test")
    out = align(vecs, np.array(["a", "c", "b"]))
    np.testing.assert_array_equal(out, [[3, 4], [0, 0], [1, 2]])
    with pytest.raises(ValueError):
        ItemVectors(np.array(["a"]), np.zeros((2, 3), np.float32), "bad")


class _FakeMiniLM:
    """Stands in for MiniLM: deterministic vectors from the text, and a count of calls."""

    calls = 0
    dim = 4
    max_tokens = 256

    class tokenizer:
        @staticmethod
        def enable_truncation(n: int) -> None:
            pass

    @classmethod
    def from_settings(cls, settings: Settings, batch_size: int = 32) -> _FakeMiniLM:
        return cls()

    def encode(self, texts: list[str]) -> np.ndarray:
        _FakeMiniLM.calls += len(texts)
        return np.array([[len(t), t.count("a"), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_text_vectors_are_cached_and_keyed_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mediarec.understand.text as understand_text

    monkeypatch.setattr(understand_text, "MiniLM", _FakeMiniLM)
    monkeypatch.setattr(text_module, "_model_name", lambda settings: "fake/1")
    settings = Settings(home=str(tmp_path / "home"))
    items = [ItemRecord("1", "Alpha"), ItemRecord("2", "Banana split"), ItemRecord("3")]
    first = dataset_text_vectors(items, "toy set", settings)
    assert list(first.item_ids) == ["1", "2"]  # item 3 has no text: left out, not embedded
    assert _FakeMiniLM.calls == 2
    cached = sorted(p.name for p in (tmp_path / "home" / "features").iterdir())
    assert len(cached) == 2 and cached[0].startswith("toy_set-fake_1-t128-") and cached[1].endswith(".npy")
    again = dataset_text_vectors(items, "toy set", settings)
    assert _FakeMiniLM.calls == 2  # served from the cache
    np.testing.assert_array_equal(first.vectors, again.vectors)
    changed = [ItemRecord("1", "Alpha"), ItemRecord("2", "Banana bread")]
    dataset_text_vectors(changed, "toy set", settings)
    assert _FakeMiniLM.calls == 4  # another text: another cache entry, never a stale vector
    assert not list((tmp_path / "home" / "features").glob("*.partial.npy"))


def test_store_vectors_feed_the_engine(tmp_path: Path) -> None:
    from mediarec.engine import MediaRec
    from mediarec.records import EventRecord

    engine = MediaRec(tmp_path / "home")
    engine.add_items([ItemRecord(f"i{n}", f"item {n}") for n in range(6)])
    rng = np.random.default_rng(0)
    for n in range(5):  # i5 stays without a vector; i4 has text but no fused vector
        if n < 4:
            engine.store.add_feature(f"i{n}", "fused", "fused/1", vector=rng.standard_normal(8))
        engine.store.add_feature(f"i{n}", "text", "t/1", vector=rng.standard_normal(4))
    found = store_item_vectors(engine.store, [f"i{n}" for n in range(6)])
    assert found is not None and found.source == "stored fused vectors"
    assert list(found.item_ids) == ["i0", "i1", "i2", "i3"] and found.dim == 8
    text_only = store_item_vectors(engine.store, ["i4", "i5"])
    assert text_only is not None and list(text_only.item_ids) == ["i4"] and text_only.dim == 4
    assert store_item_vectors(engine.store, ["i5"]) is None

    engine.store.add_events(
        [EventRecord(f"u{u}", f"i{(u + j) % 4}", ts=float(j)) for u in range(4) for j in range(2)]
    )
    path, model = engine.train("content")
    assert path.is_dir() and model.n_items == 6
    ids, _ = model.recommend([0], n=3)
    assert (ids[0] >= 0).all()
