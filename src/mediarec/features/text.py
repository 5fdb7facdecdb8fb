"""Text vectors for a dataset's items (MiniLM), cached on disk so a catalogue is embedded once.

An item's text is its written description when it has one (the LLM-written descriptions of the
ml-1m-llm split already name the title, genres, cast and plot), else its title, genres and tags
(ml-latest-small). The cache file name carries a hash of the model and of every item's text, so a
changed description, a different catalogue or another model can never be served a stale vector:
``<cache_dir>/<dataset>-<model>-<hash>.npy`` (float32 rows) beside ``.json`` (the item ids).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.features.base import ItemVectors
from mediarec.records import ItemRecord

if TYPE_CHECKING:
    from mediarec.settings import Settings


@dataclass(frozen=True)
class TextFeatureOptions:
    """How item text is built and embedded."""

    max_tags: int = 20  # most-used tags first; the long tail of one-off tags adds noise
    # The description alone when present: it already restates title and genres, and what follows
    # a ~250-word-piece description would be cut by MiniLM's 256-piece window anyway.
    description_first: bool = True
    batch_size: int = 32  # texts per MiniLM forward pass
    # Word pieces embedded per text (MiniLM reads at most 256). 128 halves the embedding time of
    # the ~220-piece ML-1M descriptions, whose head holds title, year, genres, director and cast;
    # 0 keeps the model's own window.
    max_tokens: int = 128
    chunk: int = 256  # texts embedded between two progress reports / partial cache writes


def item_text(item: ItemRecord, options: TextFeatureOptions | None = None) -> str:
    """The text embedded for ``item``; empty when it has none."""
    o = options or TextFeatureOptions()
    meta: dict[str, Any] = dict(item.metadata or {})
    description = str(meta.get("description") or "").strip()
    if description and o.description_first:
        return " ".join(description.split())
    parts: list[str] = []
    if item.title.strip():
        parts.append(item.title.strip())
    genres = [str(g) for g in meta.get("genres") or []]
    if genres:
        parts.append("Genres: " + ", ".join(genres))
    tags = [str(t) for t in meta.get("tags") or []][: o.max_tags]
    if tags:
        parts.append("Tags: " + ", ".join(tags))
    if description:
        parts.append(description)
    return " ".join(". ".join(p.rstrip(".") for p in parts).split())


def dataset_text_vectors(
    items: Sequence[ItemRecord],
    dataset: str,
    settings: Settings,
    cache_dir: str | os.PathLike[str] | None = None,
    options: TextFeatureOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ItemVectors:
    """MiniLM vectors of ``items``' texts (see :func:`item_text`), from the cache when present.

    ``cache_dir`` defaults to ``<home>/features``. Items without any text are left out (an empty
    string would embed to a generic vector that makes every such item look alike). Embedding
    progress is saved every ``options.chunk`` texts, so an interrupted run resumes where it stopped.
    """
    o = options or TextFeatureOptions()
    texts = {it.external_id: item_text(it, o) for it in items}
    texts = {k: v for k, v in texts.items() if v}
    ids = list(texts)
    model_name = _model_name(settings) + (f"-t{o.max_tokens}" if o.max_tokens else "")
    digest = hashlib.sha256(model_name.encode())
    for k in ids:
        digest.update(k.encode("utf-8", "surrogateescape") + b"\x00")
        digest.update(texts[k].encode("utf-8", "surrogateescape") + b"\x01")
    folder = Path(cache_dir) if cache_dir is not None else settings.home_path / "features"
    stem = f"{_slug(dataset)}-{_slug(model_name)}-{digest.hexdigest()[:16]}"
    npy, meta = folder / f"{stem}.npy", folder / f"{stem}.json"
    source = f"text:{model_name}"
    if npy.is_file() and meta.is_file():
        cached_ids = json.loads(meta.read_text())["item_ids"]
        vectors = np.load(npy, allow_pickle=False)
        if cached_ids == ids and vectors.shape[0] == len(ids):
            return ItemVectors(np.asarray(ids, dtype=str), vectors.astype(np.float32), source)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{stem}.partial.npy"
    done = np.load(partial, allow_pickle=False) if partial.is_file() else None
    start = 0 if done is None else len(done)
    chunks = [[texts[k] for k in ids[lo : lo + o.chunk]] for lo in range(start, len(ids), o.chunk)]
    if _on_ray(settings) and chunks:
        from mediarec.features.text_ray import encode_on_ray

        encoded = encode_on_ray(settings, o, chunks)  # MiniLM in Ray actors, chunks in order
    else:
        encoded = (model.encode(chunk) for model in [text_model(settings, o)] for chunk in chunks)
    out = [] if done is None else [done]
    for n, vecs in enumerate(encoded):
        out.append(vecs)
        _save(partial, np.vstack(out))
        if progress is not None:
            progress(min(start + (n + 1) * o.chunk, len(ids)), len(ids))
    if not out:  # no item has text: an empty matrix of the model's width
        out.append(np.zeros((0, text_model(settings, o).dim), np.float32))
    vectors = np.vstack(out).astype(np.float32)
    _save(npy, vectors)
    tmp = meta.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"item_ids": ids, "model": model_name, "dataset": dataset}))
    tmp.replace(meta)
    partial.unlink(missing_ok=True)
    return ItemVectors(np.asarray(ids, dtype=str), vectors, source)


def text_model(settings: Settings, options: TextFeatureOptions) -> Any:
    """MiniLM set up as dataset embedding uses it (batch size, word-piece window)."""
    from mediarec.understand.text import MiniLM

    model = MiniLM.from_settings(settings, batch_size=options.batch_size)
    if options.max_tokens:
        model.max_tokens = min(model.max_tokens, options.max_tokens)
        model.tokenizer.enable_truncation(model.max_tokens)
    return model


def _on_ray(settings: Settings) -> bool:
    from mediarec.ray_cluster import ray_enabled

    return ray_enabled(settings)


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    tmp.replace(path)  # never a half-written cache file


def _model_name(settings: Settings) -> str:
    from mediarec.understand.text import TextExtractor

    return TextExtractor(settings).version


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "dataset"
