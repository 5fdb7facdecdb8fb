"""``mediarec import``, ``ingest``, ``describe`` and ``show``: data in, and what was understood."""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from mediarec.cli_progress import Bar
from mediarec.cli_text import dumps, echo, echo_json, safe_line


@click.command("import", epilog="Example: mediarec import ../shared/data/movielens-latest-small")
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
    from mediarec.cli import EXIT_SOME_FAILED, _engine
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
        echo(f"  ... and {len(report.bad_rows) - show_errors} more (all kept in the store's import_errors)")
    if report.bad_rows:
        ctx.exit(EXIT_SOME_FAILED)


@click.command(epilog="Example: mediarec ingest ./videos ./podcasts/manifest.jsonl")
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
    from mediarec.cli import EXIT_SOME_FAILED, _engine
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


@click.command(epilog="Example: mediarec describe --model quality cooking-1 travel-2")
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
    from mediarec.cli import EXIT_SOME_FAILED, _engine
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


@click.command(epilog="Example: mediarec show media-3f2a9c0d1e4b")
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help="Print every stage's payload as JSON.")
@click.pass_context
def show(ctx: click.Context, item: str, as_json: bool) -> None:
    """What mediarec understood about ITEM: shots, transcript, visual, OCR and audio tags."""
    from mediarec.cli import _engine
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
