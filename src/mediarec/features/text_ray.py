"""Dataset text embedding (MiniLM) on Ray actors (setting ``ray_address``).

:func:`mediarec.features.text.dataset_text_vectors` hands its chunks of texts here; each actor loads
MiniLM once (set up by the same :func:`text_model` as the local path, so the same batches and
word-piece window give the same vectors) and the chunks come back in order, so the caller's partial
cache file grows exactly as it does locally and an interrupted run resumes the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from mediarec.features.text import TextFeatureOptions, text_model
from mediarec.ray_cluster import (
    Failed,
    actor_options,
    check_nodes,
    connect,
    local_threads,
    ordered_map,
    worker_env,
)
from mediarec.settings import Settings

DEFAULT_WORKERS = 2  # MiniLM actors of a local Ray instance when `ray_workers` is 0


class TextWorker:
    """One Ray actor holding one MiniLM."""

    def __init__(self, settings: Settings, options: TextFeatureOptions, env: dict[str, str]) -> None:
        os.environ.update(env)  # before onnxruntime starts: its thread pool reads OMP_NUM_THREADS
        self.model = text_model(settings, options)

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts), dtype=np.float32)


def encode_on_ray(
    settings: Settings, options: TextFeatureOptions, chunks: list[list[str]]
) -> Iterator[np.ndarray]:
    """The vectors of each chunk, in order. A chunk that fails raises (the caller keeps the chunks
    done before it in its partial file, as after any interruption)."""
    from mediarec.kit.install import kit_root

    session = connect(settings, DEFAULT_WORKERS)
    actors: list[Any] = []
    try:
        if not settings.text_model:  # a model folder of the user's own is checked where it is loaded
            check_nodes(session, [("model kit folder", kit_root(settings.home_path, settings), "r")])
        env = worker_env(local_threads(session, settings))
        remote = session.ray.remote(**actor_options(settings, env))(TextWorker)
        actors += [remote.remote(settings, options, env) for _ in range(min(session.workers, len(chunks)))]
        for result in ordered_map(session, actors, lambda actor, texts: actor.encode.remote(texts), chunks):
            if isinstance(result, Failed):
                raise RuntimeError(f"text embedding on Ray failed: {result.error}") from result.error
            yield result
    finally:
        for actor in actors:
            session.ray.kill(actor)
        session.close()
