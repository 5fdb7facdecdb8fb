"""``describe`` with the LLM work on Ray actors (setting ``ray_address``).

The parent reads the evidence from the store, skips current items, and stores every answer, exactly
as :func:`mediarec.llm.describe.describe_items` does (it is that function, with this runner). Each
actor loads the LLM (llama.cpp, or a client of an HTTP server) and MiniLM once and runs
:meth:`Describer.compute`, the code the local path runs, so the answers are the same.

The result cache (SQLite under the home) stays with the parent: a cached final answer found there
is sent with its job (the actor only embeds it), and what an actor's calls produce comes back with
its answer and is written to the cache by the parent. Parts of long transcripts that an interrupted
run had cached are not looked up on Ray (their keys are known only inside the map step), so they
are paid again there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mediarec.llm.backends import LLMBackend, Usage, backend_from_url
from mediarec.llm.describe import (
    DescribeJob,
    DescribeOptions,
    DescribeOutcome,
    Describer,
    DescribeSummary,
    describe_items,
)
from mediarec.llm.items import PROMPT_VERSION
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
from mediarec.store import Store

DEFAULT_WORKERS = 2  # LLM actors of a local Ray instance when `ray_workers` is 0


class _Recorder:
    """A result cache inside an actor: it answers from the hits the parent sent and keeps what is
    put, for the parent to write to the real cache."""

    def __init__(self) -> None:
        self.hits: dict[tuple[str, str], Any] = {}
        self.puts: list[tuple[str, str, str, Any, Usage | None]] = []

    def get(self, model_id: str, prompt_version: str, data: Any) -> Any | None:
        return self.hits.get((prompt_version, str(data)))

    def put(
        self, model_id: str, prompt_version: str, data: Any, value: Any, usage: Usage | None = None
    ) -> None:
        self.hits[(prompt_version, str(data))] = value
        self.puts.append((model_id, prompt_version, str(data), value, usage))


class DescribeWorker:
    """One Ray actor: one LLM backend and one MiniLM, loaded once, reused for every item."""

    def __init__(
        self, llm: str | LLMBackend, settings: Settings, options: DescribeOptions, env: dict[str, str]
    ) -> None:
        os.environ.update(env)
        threads = int(env.get("OMP_NUM_THREADS", "0") or 0)
        settings = settings.with_overrides(llm_threads=threads or None)
        # llama.cpp loads the model on the first call, in this actor.
        backend = backend_from_url(llm, settings) if isinstance(llm, str) else llm
        embed = None
        if options.embed:
            from mediarec.kit.locate import ModelNotInstalled
            from mediarec.understand.text import MiniLM

            try:
                embed = MiniLM.from_settings(settings).encode
            except ModelNotInstalled:
                embed = None  # as on the local path: the vector is a bonus
        self.cache = _Recorder()
        # compute() never touches the store; prepare() and save() run in the parent.
        self.describer = Describer(None, backend, self.cache, options, embed)  # type: ignore[arg-type]

    def compute(self, job: DescribeJob, hits: dict[tuple[str, str], Any]) -> tuple[Any, list[Any]]:
        self.cache.hits, self.cache.puts = dict(hits), []
        return self.describer.compute(job), self.cache.puts


def describe_on_ray(
    store: Store,
    settings: Settings,
    llm: str | LLMBackend,
    items: Sequence[str] | None = None,
    options: DescribeOptions | None = None,
    cache: Any = None,
    progress: Callable[[int, int, DescribeOutcome], None] | None = None,
) -> DescribeSummary:
    """:func:`describe_items` with the LLM on Ray actors. ``llm``: an LLM URL, which each actor
    opens itself (a llama.cpp model cannot be sent), or a backend object that can be pickled (an
    HTTP client), which each actor gets a copy of."""
    o = options or DescribeOptions()
    # For its model id only: a local model is not loaded here.
    backend = backend_from_url(llm, settings) if isinstance(llm, str) else llm

    def runner(describer: Describer, targets: list[str]) -> Iterator[DescribeOutcome]:
        return _run(describer, targets, settings, llm, o, cache)

    return describe_items(store, backend, items, o, cache, None, progress, runner=runner)


def _run(
    describer: Describer,
    targets: list[str],
    settings: Settings,
    llm: str | LLMBackend,
    options: DescribeOptions,
    cache: Any,
) -> Iterator[DescribeOutcome]:
    prepared: list[DescribeJob | DescribeOutcome] = []
    for item_id in targets:
        try:
            prepared.append(describer.prepare(item_id))
        except KeyError:
            prepared.append(DescribeOutcome(item_id, "failed", error="unknown item"))
    jobs = [p for p in prepared if isinstance(p, DescribeJob)]
    if not jobs:
        yield from (p for p in prepared if isinstance(p, DescribeOutcome))
        return
    model = describer.backend.model_id
    session = connect(settings, DEFAULT_WORKERS)
    actors: list[Any] = []
    try:
        check_nodes(session, _needed_paths(settings, llm, options))
        env = worker_env(local_threads(session, settings))
        remote = session.ray.remote(**actor_options(settings, env))(DescribeWorker)

        def make() -> Any:
            return remote.remote(llm, settings, options, env)

        actors += [make() for _ in range(min(session.workers, len(jobs)))]

        def call(actor: Any, job: DescribeJob) -> Any:
            hit = cache.get(model, PROMPT_VERSION, job.evidence.digest()) if cache is not None else None
            hits = {} if hit is None else {(PROMPT_VERSION, job.evidence.digest()): hit}
            return actor.compute.remote(job, hits)

        results = ordered_map(session, actors, call, jobs, replace=make)
        for entry in prepared:
            if isinstance(entry, DescribeOutcome):
                yield entry
                continue
            result = next(results)
            if isinstance(result, Failed):
                error = f"worker: {result.message}"
                yield DescribeOutcome(entry.item_id, "failed", error=error)
                continue
            answer, puts = result
            if cache is not None:
                for model_id, prompt_version, key, value, usage in puts:
                    cache.put(model_id, prompt_version, key, value, usage)
            yield describer.save(entry, answer)
    finally:
        for actor in actors:
            session.ray.kill(actor)
        session.close()


def _needed_paths(
    settings: Settings, llm: str | LLMBackend, options: DescribeOptions
) -> list[tuple[str, Any, str]]:
    """What every node must read: the kit when a kit model runs there (the LLM, MiniLM for the
    vectors), or the GGUF file an LLM URL names. An HTTP LLM or a sent backend needs neither."""
    import urllib.parse

    from mediarec.kit.install import kit_root

    kit: tuple[str, Any, str] = ("model kit folder", str(kit_root(settings.home_path, settings)), "r")
    wanted: list[tuple[str, Any, str]] = [kit] if options.embed else []
    if isinstance(llm, str):
        parts = urllib.parse.urlsplit(llm or "llama://")
        if parts.scheme == "llama" and parts.path not in ("", "/"):
            wanted.append(("LLM file", urllib.parse.unquote(parts.path), "r"))
        elif parts.scheme == "llama" and kit not in wanted:
            wanted.append(kit)
    return wanted
