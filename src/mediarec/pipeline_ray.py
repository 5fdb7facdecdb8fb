"""``ingest``'s stage work on Ray (setting ``ray_address``); everything else is pipeline.py's.

The parent does what it does without Ray: discovery, hashing and probing, registration, deciding
the missing stages per file, and every store write (per item, as results arrive, through the same
code). Only the stage work moves: each task (a file path, its probe, the stored features it reads:
never media bytes) goes to a pool of actors that run :func:`mediarec.pipeline._run_task`, the very
function the process pool runs, so the results, per-file errors, resume and idempotence are the
local path's by construction.

Why an actor per worker running the whole chain of stages, not one actor pool per model stage:
each actor loads every model once (on first use) and keeps it, like a process-pool worker; the item's
decoded audio (230 MB per hour at 16 kHz) and frames stay inside the actor that decoded them, where
per-stage pools would either decode a file once per stage or ship decoded audio through the object
store; and on a 2-core machine a pipeline of six small pools would oversubscribe the cores and blur
what "N workers" means. Per-stage pools start to pay when stages need different hardware (Whisper
on a GPU node); the task/result types here are what such pools would exchange.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediarec.pipeline import IngestOptions, _Result, _run_task, _Task, pin_blas
from mediarec.ray_cluster import (
    Failed,
    RaySession,
    actor_options,
    check_nodes,
    connect,
    local_threads,
    ordered_map,
    worker_env,
)
from mediarec.settings import Settings
from mediarec.understand.base import Extractor


class StageWorker:
    """One Ray actor: the stages, unloaded until first use, and the thread share it was given."""

    def __init__(self, extractors: list[Extractor], env: dict[str, str]) -> None:
        os.environ.update(env)  # before any model loads: its thread pool reads OMP_NUM_THREADS
        pin_blas(int(env.get("OMP_NUM_THREADS", "1")))
        self.extractors = extractors

    def run(self, task: _Task) -> _Result:
        return _run_task(task, self.extractors)


def reachability(settings: Settings, tasks: list[_Task], kit: bool) -> list[tuple[str, str, str]]:
    """What every node must reach: the data home (keyframes are written under it), the model kit
    (when the kit's stages run) and the first media file this process itself can read."""
    from mediarec.kit.install import kit_root

    home = tasks[0].home if tasks else str(settings.home_path)
    wanted = [("data home", home, "w")]
    if kit:
        wanted.append(("model kit folder", str(kit_root(home, settings)), "r"))
    readable = next((t.path for t in tasks if os.access(t.path, os.R_OK) and Path(t.path).is_file()), None)
    if readable is not None:
        wanted.append(("media file", readable, "r"))
    return wanted


def execute(
    settings: Settings,
    tasks: list[_Task],
    exs: list[Extractor],
    o: IngestOptions,
    uses_kit: bool,
) -> Iterator[_Result]:
    """Results in task order, from Ray actors; a task whose actor died fails alone."""
    if not tasks:
        return
    session = connect(settings, o.workers)
    actors: list[Any] = []
    try:
        check_nodes(session, reachability(settings, tasks, uses_kit))
        yield from _run(session, settings, tasks, exs, actors)
    finally:
        # Interrupted or done: no actor outlives the run (an actor would finish its queued file
        # for a run that is over, and hold its models' memory).
        for actor in actors:
            session.ray.kill(actor)
        session.close()


def _run(
    session: RaySession, settings: Settings, tasks: list[_Task], exs: list[Extractor], actors: list[Any]
) -> Iterator[_Result]:
    ray = session.ray
    env = worker_env(local_threads(session, settings))
    remote = ray.remote(**actor_options(settings, env))(StageWorker)
    ref = ray.put(exs)  # the unloaded stages, shipped once for all actors

    def make() -> Any:
        return remote.remote(ref, env)

    actors += [make() for _ in range(min(session.workers, len(tasks)))]
    # An actor killed under a file (out of memory, a crash in a decoder) fails that file alone and is
    # replaced by a fresh one, which reloads its models, for the next files.
    results = ordered_map(session, actors, _call, tasks, replace=make)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, Failed):
            yield _Result(task.item_id, [], {"worker": result.message}, {})
        else:
            yield result


def _call(actor: Any, task: _Task) -> Any:
    return actor.run.remote(task)
