"""Content understanding over many files: discover, register, run the missing stages, store.

The parent process hashes and probes each file (cheap), registers its item by content hash, and
decides which stages still have to run; a process pool (or, with the ``ray_address`` setting, Ray
actors: :mod:`mediarec.pipeline_ray`) runs those stages, each worker loading every model once; only
the parent writes to the store. A file that fails gets an error record
and the batch goes on; nothing stored for other items changes. Whatever happens, the run ends in a
final state: 'done', or 'interrupted' (Ctrl-C, SIGTERM through the CLI) or 'failed' (a bug), and a
run killed outright is marked 'interrupted' when the next run starts (store/imports.py).

Paths go to the store in the form :mod:`mediarec.media.paths` defines (relative to the home inside
it), so that a home can be copied or moved; messages name files by :func:`display_path`, which any
file name (bytes that are not UTF-8 included) can be turned into.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mediarec.media.paths import display_name, display_path, stored_path
from mediarec.ray_cluster import ray_enabled
from mediarec.ray_cluster import validate as validate_ray
from mediarec.records import BadRow, ItemRecord, MediaInfo
from mediarec.settings import Settings
from mediarec.store import Store
from mediarec.understand.base import Extractor, Feature, ItemContext

MEDIA_SUFFIXES = frozenset(
    {
        *(".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp"),
        *(".ogv", ".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aif", ".aiff"),
    }
)
MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv")
PROBE_STAGE = "probe"


@dataclass(frozen=True)
class IngestOptions:
    """How ``ingest`` runs. The defaults use both cores of the reference machine."""

    workers: int = 2  # processes running stages; 0 runs everything in this process (tests, debugging)
    stages: tuple[str, ...] | None = None  # None = every stage; otherwise just these (plus nothing else)
    max_bytes: int = 20 * 1024**3  # larger files are refused with a clear error, not read


@dataclass(frozen=True)
class Entry:
    """A file to ingest and what a manifest said about it."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class FileOutcome:
    path: str  # for people: display_path(), valid text whatever bytes the name holds
    item_id: str | None
    status: str  # "processed" | "skipped" (nothing to do) | "failed"
    stages_run: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # stage -> reason
    warnings: list[str] = field(default_factory=list)  # stored, but something is off (a partial decode)
    seconds: dict[str, float] = field(default_factory=dict)
    media_seconds: float = 0.0
    created: bool = False  # this file made a new item (ingest prints its id)


@dataclass
class IngestSummary:
    run_id: int
    outcomes: list[FileOutcome] = field(default_factory=list)
    not_media: list[str] = field(default_factory=list)  # files in folders skipped by extension
    bad_rows: list[BadRow] = field(default_factory=list)  # manifest rows that name no usable file
    total: int = 0  # files attempted

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed" or o.errors]


# -- discovery -------------------------------------------------------------------------------


def discover(paths: Iterable[str | Path]) -> tuple[list[Entry], list[str], list[BadRow]]:
    """Files to ingest from files, folders (recursive, symlinks not followed into loops) and
    manifests. Returns (entries, files skipped for their extension, unreadable manifest rows)."""
    entries: list[Entry] = []
    skipped: list[str] = []
    bad: list[BadRow] = []
    for raw in paths:
        p = Path(raw)
        if p.is_file() and p.name.split(".")[0] == "manifest" and p.suffix in (".csv", ".jsonl"):
            found, problems = read_manifest(p)
            entries += found
            bad += problems
        elif p.is_dir():
            manifest_meta: dict[Path, dict[str, Any]] = {}
            for name in MANIFEST_NAMES:
                if (p / name).is_file():
                    found, problems = read_manifest(p / name)
                    manifest_meta.update({e.path.resolve(): e.meta for e in found})
                    bad += problems
            for f in _walk(p):
                if f.name in MANIFEST_NAMES:
                    continue
                if f.suffix.lower() in MEDIA_SUFFIXES:
                    entries.append(Entry(f, manifest_meta.get(_safe_resolve(f), {})))
                else:
                    skipped.append(str(f))
        else:
            entries.append(Entry(p))  # named explicitly: always attempted, errors reported per file
    return entries, skipped, bad


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def _safe_resolve(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return p


def read_manifest(path: Path) -> tuple[list[Entry], list[BadRow]]:
    """A CSV or JSONL manifest: ``file`` (relative to the manifest) plus id, title, creator, tags,
    description, kind; a ``truth`` key (a generator's ground truth) is not item metadata."""
    rows: list[tuple[int, dict[str, Any]]] = []
    bad: list[BadRow] = []
    if path.suffix == ".jsonl":
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                bad.append(BadRow(path.name, number, f"not valid JSON: {exc}", line[:300]))
                continue
            if isinstance(obj, dict):
                rows.append((number, obj))
            else:
                bad.append(BadRow(path.name, number, "a manifest line must be an object", line[:300]))
    else:
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            for number, rec in enumerate(csv.DictReader(fh), 2):
                rows.append((number, {k: v for k, v in rec.items() if k and v}))
    entries = []
    for number, obj in rows:
        name = obj.get("file")
        if not isinstance(name, str) or not name:
            bad.append(BadRow(path.name, number, "manifest row has no 'file'", json.dumps(obj)[:300]))
            continue
        meta = {k: v for k, v in obj.items() if k not in ("file", "truth")}
        if isinstance(meta.get("tags"), str):
            meta["tags"] = [t.strip() for t in meta["tags"].split("|") if t.strip()]
        entries.append(Entry(path.parent / name, meta))
    return entries, bad


# -- the stages ------------------------------------------------------------------------------


def default_extractors(settings: Settings) -> list[Extractor]:
    """Every stage in dependency order. Imports are lazy: constructing loads no model."""
    from mediarec.understand import stages

    return stages.all_stages(settings)


def effective_versions(extractors: list[Extractor]) -> dict[str, str]:
    """Each stage's stored version: its own plus those of the stages it reads, so a new upstream
    model invalidates exactly the stages downstream of it."""
    out: dict[str, str] = {}
    for ex in extractors:
        inputs = ",".join(f"{r}={out[r]}" for r in (*ex.requires, *ex.uses) if r in out)
        out[ex.name] = ex.version + (f" <- {inputs}" if inputs else "")
    return out


@dataclass(frozen=True)
class _Task:
    item_id: str
    path: str
    info: MediaInfo
    title: str
    description: str
    work_dir: str
    home: str
    run: tuple[str, ...]
    existing: dict[str, Feature]
    versions: dict[str, str]


@dataclass(frozen=True)
class _Result:
    item_id: str
    features: list[Feature]
    errors: dict[str, str]
    seconds: dict[str, float]
    warnings: list[str] = field(default_factory=list)


# Audio decoded to less than this share of the probed duration is reported as damaged.
PARTIAL_DECODE_SHARE = 0.5


_WORKER_EXTRACTORS: list[Extractor] | None = None


def pin_blas(threads: int) -> None:
    """Set the BLAS thread count of this (worker) process to its share, whatever it inherited.

    A forked pool worker inherits the parent's BLAS threads (the server pins them to 1, a CLI run
    leaves all cores), and a Ray actor starts its own; the BLAS thread count changes float sums enough
    to move results (Whisper's language probability by 0.01-0.03), so both engines pin it to the same
    share and store the same features."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=max(1, threads), user_api="blas")


def _init_worker(extractors: list[Extractor], threads: int) -> None:
    global _WORKER_EXTRACTORS
    import signal

    # Ctrl-C reaches the whole process group: the parent alone decides, and ends the workers (with
    # SIGTERM, which must kill them even where the CLI made SIGTERM interrupt like Ctrl-C).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Each worker gets its share of the cores; the models' own thread pools must not oversubscribe.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
    pin_blas(int(os.environ["OMP_NUM_THREADS"]) if os.environ["OMP_NUM_THREADS"].isdigit() else threads)
    # Stages arrive unloaded (settings and options only); each worker loads its own models.
    _WORKER_EXTRACTORS = extractors
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _run_task(task: _Task, extractors: list[Extractor] | None = None) -> _Result:
    exs = extractors if extractors is not None else _WORKER_EXTRACTORS
    assert exs is not None
    ctx = ItemContext(
        item_id=task.item_id,
        path=Path(task.path),
        info=task.info,
        title=task.title,
        description=task.description,
        work_dir=Path(task.work_dir),
        home=Path(task.home),
        features=dict(task.existing),
    )
    produced: list[Feature] = []
    errors: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for ex in exs:
        if ex.name not in task.run:
            continue
        missing = [r for r in ex.requires if r not in ctx.features]
        if missing:
            errors[ex.name] = f"needs {', '.join(missing)}, which did not run"
            continue
        started = time.perf_counter()
        try:
            feat = ex.run(ctx)
        except Exception as exc:  # one stage failing must not sink the item's other stages
            errors[ex.name] = f"{type(exc).__name__}: {exc}"
            continue
        finally:
            seconds[ex.name] = time.perf_counter() - started
        feat = Feature(feat.extractor, task.versions[ex.name], feat.payload, feat.vector)
        ctx.features[ex.name] = feat
        produced.append(feat)
    return _Result(task.item_id, produced, errors, seconds, _audio_warnings(ctx))


def _audio_warnings(ctx: ItemContext) -> list[str]:
    """A warning when the soundtrack decoded to far less than the file's probed duration: what the
    audio stages stored describes only that part (and they do not call the rest silence)."""
    short = ctx.audio_shortfall(PARTIAL_DECODE_SHARE)
    if short is None:
        return []
    got, expected = short
    return [
        f"audio: only {got:.2f} s of the {expected:.2f} s soundtrack could be decoded (damaged file?); "
        "audio tags and transcript cover that part only"
    ]


def ingest(
    store: Store,
    settings: Settings,
    paths: Iterable[str | Path],
    options: IngestOptions | None = None,
    extractors: list[Extractor] | None = None,
    progress: Callable[[int, int, FileOutcome], None] | None = None,
) -> IngestSummary:
    """Ingest media files; see the module docstring for the guarantees."""
    from mediarec.media import MediaError

    o = options or IngestOptions()
    exs = extractors if extractors is not None else default_extractors(settings)
    if o.stages is not None:
        unknown = set(o.stages) - {e.name for e in exs}
        if unknown:
            raise ValueError(
                f"unknown stage(s) {', '.join(sorted(unknown))}; stages: {', '.join(e.name for e in exs)}"
            )
    versions = effective_versions(exs)
    use_ray = ray_enabled(settings)
    if use_ray:
        validate_ray(settings)  # a bad address or a missing package fails before any file is read
    entries, not_media, bad = discover(paths)
    run_id = store.start_import(", ".join(display_path(p) for p in paths)[:500], "ingest")
    shown = [display_path(p) for p in not_media]
    summary = IngestSummary(run_id, not_media=shown, bad_rows=bad, total=len(entries))
    status = "failed"
    try:
        store.add_import_errors(run_id, bad)
        home = os.path.abspath(settings.home_path)
        tasks: list[tuple[_Task, FileOutcome]] = []
        for entry in entries:
            outcome = FileOutcome(path=display_path(entry.path), item_id=None, status="failed")
            try:
                task = _prepare(store, entry, exs, versions, o, home, outcome)
            except MediaError as exc:
                outcome.errors["probe"] = str(exc)
                task = None
            except Exception as exc:  # any file name or content must fail alone, never the batch
                outcome.errors["register"] = f"{type(exc).__name__}: {exc}"
                task = None
            if task is None:
                _finish(store, summary, outcome, progress)
            else:
                tasks.append((task, outcome))
        if use_ray:
            from mediarec.pipeline_ray import execute as ray_execute

            results = ray_execute(settings, [t for t, _ in tasks], exs, o, uses_kit=extractors is None)
        else:
            results = _execute(tasks, exs, o)
        for (task, outcome), result in zip(tasks, results, strict=True):
            try:
                # One transaction per file: its features are stored together or not at all.
                store.add_features(
                    [(task.item_id, f.extractor, f.version, f.payload, f.vector) for f in result.features]
                )
                outcome.stages_run = [f.extractor for f in result.features]
            except Exception as exc:  # e.g. a payload the store refuses: this item only
                outcome.errors["store"] = f"{type(exc).__name__}: {exc}"
            outcome.errors.update(result.errors)
            outcome.warnings += result.warnings
            outcome.seconds = result.seconds
            outcome.status = "processed" if outcome.stages_run else "failed"
            _finish(store, summary, outcome, progress)
        status = "done"
    except (KeyboardInterrupt, SystemExit):
        status = "interrupted"
        raise
    finally:
        counts = {s: summary.count(s) for s in ("processed", "skipped", "failed")}
        warned = sum(1 for x in summary.outcomes if x.warnings)
        store.finish_import(run_id, status, counts | {"not_media": len(not_media), "warnings": warned})
    return summary


def _prepare(
    store: Store,
    entry: Entry,
    exs: list[Extractor],
    versions: dict[str, str],
    o: IngestOptions,
    home: str,
    outcome: FileOutcome,
) -> _Task | None:
    """Probe, hash and register one file; the task of its missing stages, or None when none are."""
    from mediarec.media import content_hash, probe
    from mediarec.media.probe import ProbeOptions

    info = probe(entry.path, ProbeOptions(max_bytes=o.max_bytes))
    digest = content_hash(entry.path)
    record = _item_record(entry, info, digest, home)
    item_id, outcome.created = store.register_media(digest, record)
    outcome.item_id = item_id
    outcome.media_seconds = info.duration
    have = store.feature_keys(item_id)
    if PROBE_STAGE not in have:
        store.add_feature(item_id, PROBE_STAGE, "pyav", asdict(info) | {"path": record.uri})
    wanted = [e for e in exs if e.applies(info) and (o.stages is None or e.name in o.stages)]
    todo = tuple(e.name for e in wanted if versions[e.name] not in have.get(e.name, set()))
    if not todo:
        outcome.status = "skipped"
        return None
    existing = {}
    for e in exs:
        if e.name not in todo and versions[e.name] in have.get(e.name, set()):
            found = store.feature(item_id, e.name, versions[e.name])
            if found is not None:
                existing[e.name] = Feature(e.name, versions[e.name], found[0], found[1])
    stored = store.get_item(item_id)
    return _Task(
        item_id=item_id,
        path=str(entry.path),
        info=info,
        title=stored.title if stored else record.title,
        description=str((stored.metadata if stored else {}).get("description", "")),
        work_dir=os.path.join(home, "media", digest[:16]),
        home=home,
        run=todo,
        existing=existing,
        versions=versions,
    )


def _execute(
    tasks: list[tuple[_Task, FileOutcome]], exs: list[Extractor], o: IngestOptions
) -> Iterator[_Result]:
    """Results in task order: in-process for ``workers=0``, else from a process pool."""
    if not tasks:
        return
    if o.workers <= 0 or len(tasks) == 1:
        for task, _ in tasks:
            yield _run_task(task, exs)
        return
    workers = min(o.workers, len(tasks))
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(exs, threads))
    try:
        futures: list[Future[_Result]] = [pool.submit(_run_task, task) for task, _ in tasks]
        for fut, (task, _) in zip(futures, tasks, strict=True):
            try:
                yield fut.result()
            except Exception as exc:  # a worker that died (e.g. out of memory) fails only its item
                yield _Result(task.item_id, [], {"worker": f"{type(exc).__name__}: {exc}"}, {})
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM) or abandoned: stop the workers now rather than let them
        # finish every queued file for a run that is over.
        # The executor forgets its processes on shutdown, so they are taken first.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _item_record(entry: Entry, info: MediaInfo, digest: str, home: str) -> ItemRecord:
    meta = dict(entry.meta)
    ext_id = str(meta.pop("id", "") or f"media-{digest[:12]}")
    # The manifest's title first, then the file's own title tag, then its name.
    title = str(meta.pop("title", "") or info.title or display_name(entry.path))
    creator = meta.pop("creator", None)
    kind = str(meta.pop("kind", "") or info.kind)
    if kind not in ("video", "audio"):
        kind = info.kind
    return ItemRecord(
        external_id=ext_id,
        title=title,
        kind=kind,
        duration=info.duration,
        uri=stored_path(entry.path, home),
        creator=None if creator is None else str(creator),
        metadata=meta,
    )


def _finish(
    store: Store,
    summary: IngestSummary,
    outcome: FileOutcome,
    progress: Callable[[int, int, FileOutcome], None] | None,
) -> None:
    summary.outcomes.append(outcome)
    # Messages can quote a file name; display_path makes any such text storable.
    rows = [BadRow(outcome.path, 0, display_path(f"{stage}: {why}")) for stage, why in outcome.errors.items()]
    # Warnings go with the file's errors, told apart by their first word.
    rows += [BadRow(outcome.path, 0, f"warning: {display_path(w)}") for w in outcome.warnings]
    if rows:
        store.add_import_errors(summary.run_id, rows)
    if progress:
        progress(len(summary.outcomes), summary.total, outcome)
