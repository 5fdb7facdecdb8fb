"""The describe stage: the LLM's description, tags with evidence and key moments for stored items.

It runs after the content stages (``mediarec ingest``) and reads only what they stored, so it can
be re-run with another model or prompt without touching the media. One item at a time:

* the evidence is collected from the newest transcript, keyframe labels, on-screen text and audio
  tags (long transcripts go through :mod:`mediarec.llm.longform`);
* the stored result's version names the model, the prompt version and a hash of the evidence, so
  an item whose evidence, model and prompt are unchanged is skipped, and a changed transcript makes
  its item run again;
* every answer is also written to the result cache as soon as it exists, so a batch killed half-way
  resumes without paying the LLM again for what it had done;
* an item that fails (no valid answer after the retry, a dead server) gets an error record in the
  store's ``import_errors`` (run format ``describe``) and the batch goes on; nothing stored for it
  before is changed.

The stored feature is extractor ``llm``; its payload is the validated answer with each tag's
evidence attached, its vector the MiniLM embedding of description + tags (for content models),
when the text model is installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mediarec.llm.backends import CompletionOptions, LLMBackend, LLMError, Usage
from mediarec.llm.items import (
    PROMPT_VERSION,
    EvidenceOptions,
    ItemEvidence,
    collect_evidence,
    understand_item,
)
from mediarec.llm.longform import (
    PART_PROMPT_VERSION,
    PART_SCHEMA,
    LongformOptions,
    needs_parts,
    part_problems,
    reduce_evidence,
    understand_parts,
)
from mediarec.records import BadRow
from mediarec.store import Store

EXTRACTOR = "llm"
STAGES = ("speech", "vision", "ocr", "audio")
log = logging.getLogger("mediarec.llm")


@dataclass(frozen=True)
class DescribeOptions:
    """How ``describe`` runs; the defaults suit the bundled small models on CPU."""

    force: bool = False  # describe again even when the stored result is current
    retries: int = 1  # a rejected answer is shown to the model with the reasons this many times
    max_tokens: int = 700  # the longest answer allowed; a cut answer is invalid JSON
    evidence: EvidenceOptions = field(default_factory=EvidenceOptions)
    longform: LongformOptions = field(default_factory=LongformOptions)
    embed: bool = True  # store a MiniLM vector of description + tags (skipped if MiniLM is absent)


@dataclass
class DescribeOutcome:
    item_id: str
    status: str  # "described" | "cached" (answer from the result cache) | "current" | "failed"
    seconds: float = 0.0
    completion_tokens: int = 0
    attempts: int = 0
    parts: int = 0  # map calls for a long transcript (0: one call)
    error: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass
class DescribeSummary:
    model_id: str
    outcomes: list[DescribeOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def tokens_per_second(self) -> float:
        ran = [o for o in self.outcomes if o.status == "described"]
        secs = sum(o.seconds for o in ran)
        return sum(o.completion_tokens for o in ran) / secs if secs > 0 else 0.0


@dataclass(frozen=True)
class DescribeJob:
    """What the LLM work on one item needs, read from the store (so that it can run elsewhere)."""

    item_id: str
    stages: dict[str, dict[str, Any]]
    evidence: ItemEvidence
    metadata: dict[str, Any]  # the item's metadata, for the reduce step of long content only


@dataclass
class DescribeAnswer:
    """The LLM work's result for one item, before it is stored."""

    status: str  # "described" | "cached" | "failed"
    seconds: float
    value: dict[str, Any] | None = None
    usage: Usage = field(default_factory=Usage)
    attempts: int = 0
    parts: int = 0
    vector: Any = None
    error: str | None = None


def stored_evidence(
    store: Store, item_id: str, options: EvidenceOptions | None = None
) -> tuple[dict[str, Any], ItemEvidence]:
    """The content stages' newest payloads for one item and the numbered evidence made of them."""
    from mediarec.llm.scrub import scrub_pii

    item = store.get_item(item_id)
    if item is None:
        raise KeyError(item_id)
    stages: dict[str, dict[str, Any]] = {}
    for stage in (*STAGES, "probe"):
        found = store.latest_feature(item_id, stage)
        if found is not None:
            stages[stage] = found[1]
    # The probe measured the file; a catalogue's nominal duration may disagree with it.
    duration = float(stages.get("probe", {}).get("duration") or item.duration or 0.0)
    metadata = dict(item.metadata)
    if item.creator and "creator" not in metadata:
        metadata["creator"] = item.creator
    ev = collect_evidence(item_id, item.title, duration, metadata, stages, options, scrub=scrub_pii)
    return stages, ev


def result_version(model_id: str, evidence_digest: str) -> str:
    return f"{model_id}|{PROMPT_VERSION}|in={evidence_digest[:16]}"


class Describer:
    """Runs items through one backend with one cache; reuse it for many items."""

    def __init__(
        self,
        store: Store,
        backend: LLMBackend,
        cache: Any = None,  # a ResultCache, or None for no cache
        options: DescribeOptions | None = None,
        embed: Callable[[list[str]], Any] | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.cache = cache
        self.options = options or DescribeOptions()
        self.embed = embed
        self._ranker: Any = None  # a TopicRanker, made on first use (topic phrases embedded once)

    def current(self, item_id: str, evidence: ItemEvidence) -> bool:
        versions = self.store.feature_versions(item_id, EXTRACTOR)
        return bool(versions) and versions[-1] == result_version(self.backend.model_id, evidence.digest())

    def describe(self, item_id: str) -> DescribeOutcome:
        job = self.prepare(item_id)
        if isinstance(job, DescribeOutcome):
            return job
        return self.save(job, self.compute(job))

    # describe() in three steps, so the LLM work (compute) can run where the store is not (a Ray
    # actor, mediarec.llm.describe_ray): prepare and save read and write the store, compute does not.
    def prepare(self, item_id: str) -> DescribeJob | DescribeOutcome:
        """The item's evidence, or its outcome when it is current. KeyError: no such item."""
        o = self.options
        stages, ev = stored_evidence(self.store, item_id, o.evidence)
        if not o.force and self.current(item_id, ev):
            return DescribeOutcome(item_id, "current")
        metadata: dict[str, Any] = {}
        if needs_parts(stages, o.evidence):
            item = self.store.get_item(item_id)
            assert item is not None
            metadata = dict(item.metadata)
        return DescribeJob(item_id, stages, ev, metadata)

    def compute(self, job: DescribeJob) -> DescribeAnswer:
        """The LLM's answer (and its vector) for one prepared item; reads the cache, never the store."""
        o = self.options
        started = time.perf_counter()
        ev = job.evidence
        parts = 0
        try:
            if needs_parts(job.stages, o.evidence):
                notes = self._map(job.item_id, job.stages, ev)
                parts = len(notes)
                ev_final = reduce_evidence(
                    job.item_id, ev.title, ev.duration, dict(job.metadata), job.stages, notes, o.evidence,
                    o.longform, _scrub,
                )  # fmt: skip
            else:
                ev_final = ev
            value, status, usage, attempts = self._final(ev_final)
        except LLMError as exc:
            return DescribeAnswer("failed", time.perf_counter() - started, parts=parts, error=str(exc))
        vector = None
        if self.embed is not None:
            text = value["description"] + " Tags: " + ", ".join(t["tag"] for t in value["tags"])
            vector = self.embed([text])[0]
        return DescribeAnswer(status, time.perf_counter() - started, value, usage, attempts, parts, vector)

    def save(self, job: DescribeJob, answer: DescribeAnswer) -> DescribeOutcome:
        """Store an answer (a failed one changes nothing stored) and say what happened."""
        item_id = job.item_id
        if answer.status == "failed" or answer.value is None:
            return DescribeOutcome(item_id, "failed", answer.seconds, parts=answer.parts, error=answer.error)
        value, usage = answer.value, answer.usage
        # The version is keyed on the full evidence (not the reduced one), so "current" is cheap.
        payload = {
            **value,
            "model": self.backend.model_id,
            "prompt_version": PROMPT_VERSION,
            "attempts": answer.attempts,
            "parts": answer.parts,
        }
        version = result_version(self.backend.model_id, job.evidence.digest())
        self.store.add_feature(item_id, EXTRACTOR, version, payload, answer.vector)
        out = DescribeOutcome(
            item_id,
            answer.status,
            answer.seconds,
            usage.completion_tokens,
            answer.attempts,
            answer.parts,
            tags=[t["tag"] for t in value["tags"]],
        )
        if answer.status == "described":
            log.info(
                "%s: %.1f s, %d tokens, %.1f tokens/s, %d attempt(s)",
                item_id,
                answer.seconds,
                usage.completion_tokens,
                out.tokens_per_second,
                answer.attempts,
            )
        return out

    def _final(self, ev: ItemEvidence) -> tuple[dict[str, Any], str, Usage, int]:
        model = self.backend.model_id
        key = ev.digest()
        if self.cache is not None:
            hit = self.cache.get(model, PROMPT_VERSION, key)
            if hit is not None:
                return hit["value"], "cached", Usage(), int(hit.get("attempts", 0))
        topics = None
        if self.embed is not None:
            from mediarec.llm.topics import TOPICS_SHOWN, TopicSupport

            if self._ranker is None:
                self._ranker = TopicSupport(self.embed)
            topics = self._ranker.rank(ev)[:TOPICS_SHOWN]
        result = understand_item(
            self.backend, ev, self.options.retries, self.options.max_tokens, topics, self._ranker
        )
        usage = Usage(0, result.completion_tokens, result.seconds)
        if self.cache is not None:
            value = {"value": result.value, "attempts": result.attempts}
            self.cache.put(model, PROMPT_VERSION, key, value, usage)
        return result.value, "described", usage, result.attempts

    def _map(self, item_id: str, stages: dict[str, dict[str, Any]], ev: ItemEvidence) -> list[Any]:
        from mediarec.llm.structured import generate

        model = self.backend.model_id
        options = CompletionOptions(
            max_tokens=self.options.longform.part_max_tokens, schema_name="part", distinct_keys=("tag",)
        )

        def one_part(part: ItemEvidence, messages: list[dict[str, str]]) -> dict[str, Any]:
            key = part.digest()
            if self.cache is not None:
                hit = self.cache.get(model, PART_PROMPT_VERSION, key)
                if hit is not None:
                    return dict(hit)
            result = generate(
                self.backend,
                messages,
                PART_SCHEMA,
                validate=lambda obj: part_problems(obj, part),
                retries=self.options.retries,
                options=options,
            )
            if self.cache is not None:
                self.cache.put(model, PART_PROMPT_VERSION, key, result.value, result.usage)
            return dict(result.value)

        return understand_parts(
            one_part,
            item_id,
            ev.title,
            ev.duration,
            stages,
            self.options.evidence,
            self.options.longform,
            _scrub,
        )


def _scrub(text: str) -> str:
    from mediarec.llm.scrub import scrub_pii

    return scrub_pii(text)


def describable_items(store: Store) -> list[str]:
    """Items some content stage has run on (the LLM needs evidence beyond a title)."""
    rows = store.conn.execute(
        f"""SELECT DISTINCT i.external_id FROM items i JOIN item_features f ON f.item_id = i.id
            WHERE f.extractor IN ({",".join("?" * len(STAGES))}) ORDER BY i.id""",
        STAGES,
    )
    return [str(r[0]) for r in rows]


def describe_items(
    store: Store,
    backend: LLMBackend,
    items: Sequence[str] | None = None,
    options: DescribeOptions | None = None,
    cache: Any = None,
    embed: Callable[[list[str]], Any] | None = None,
    progress: Callable[[int, int, DescribeOutcome], None] | None = None,
    runner: Callable[[Describer, list[str]], Iterator[DescribeOutcome]] | None = None,
) -> DescribeSummary:
    """Describe ``items`` (default: every item with content features), one at a time, recording
    failures in the store and going on. ``runner``: where the LLM work runs (default: here, one
    item after the other; :mod:`mediarec.llm.describe_ray` runs it on Ray actors), yielding one
    outcome per target, in order."""
    started = time.perf_counter()
    targets = list(items) if items is not None else describable_items(store)
    describer = Describer(store, backend, cache, options, embed)
    summary = DescribeSummary(backend.model_id)
    failures: list[BadRow] = []
    run_id = store.start_import(f"describe with {backend.model_id}", "describe")
    try:
        outcomes = (runner or _one_by_one)(describer, targets)
        for n, (item_id, outcome) in enumerate(zip(targets, outcomes, strict=True), 1):
            assert outcome.item_id == item_id
            summary.outcomes.append(outcome)
            if outcome.status == "failed":
                failures.append(BadRow(item_id, 0, f"describe: {outcome.error}"))
                store.add_import_errors(run_id, failures[-1:])
            if progress is not None:
                progress(n, len(targets), outcome)
    finally:
        counts = {s: summary.count(s) for s in ("described", "cached", "current", "failed")}
        store.finish_import(
            run_id, "done" if len(summary.outcomes) == len(targets) else "interrupted", counts
        )
    summary.seconds = time.perf_counter() - started
    return summary


def _one_by_one(describer: Describer, targets: list[str]) -> Iterator[DescribeOutcome]:
    for item_id in targets:
        try:
            yield describer.describe(item_id)
        except KeyError:
            yield DescribeOutcome(item_id, "failed", error="unknown item")
