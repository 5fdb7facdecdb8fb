"""``mediarec tune``: a thin shell over :func:`mediarec.eval.tune.tune` (the search lives there)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from mediarec.cli_options import split_option
from mediarec.cli_progress import Bar
from mediarec.cli_text import echo


def parse_budget(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m`` or ``1h``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(
            f"expected a duration like 10m, 90s or 1h, got {text!r}", param_hint="--budget"
        )
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


@click.command(
    epilog="Example: mediarec tune ../shared/data/ml-100k --split random --budget 10m   "
    "(then: mediarec evaluate ../shared/data/ml-100k --split random --models itemknn-bm25,ease,hybrid,tuned)"
)
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default=None, help="Source format (default: detected).")
@split_option(
    "The split `evaluate` will test on, whose test side tune drops unread: ",
    " Without PATH (the store's own data) every event is training and no split is made.",
)
@click.option(
    "--cold",
    default=0.0,
    type=click.FloatRange(0.0, 0.9),
    help="The --cold share `evaluate` will test with: the items it holds out (same seed) are dropped "
    "unread here too. Without it, the cold figures of a later `evaluate --cold` are not held out.",
)
@click.option("--budget", default="10m", show_default=True, help="Time for the search, e.g. 3m, 600s, 1h.")
@click.option("--trials", default=81, show_default=True, help="Configurations drawn for the first rung.")
@click.option("-k", default=20, show_default=True, help="Cut-off of the validation Recall.")
@click.option(
    "--save/--no-save", default=True, show_default=True, help="Save the winner as this home's default."
)
@click.pass_context
def tune(
    ctx: click.Context,
    path: Path | None,
    fmt: str | None,
    split: str | None,
    cold: float,
    budget: str,
    trials: int,
    k: int,
    save: bool,
) -> None:
    """Search models and their main knobs on validation carved from training events; save the best.

    Writes tune.md, tune.json and tune.svg under <home>/tune, and <home>/tuned.json, the
    configuration `train` and `serve` then use (unless the default_model setting names another
    model). The test fold is never read.
    """
    from mediarec.cli import _engine
    from mediarec.datasets import ImportFormatError, load_dataset
    from mediarec.eval.splits import SPLITS
    from mediarec.eval.tune import TuneOptions
    from mediarec.eval.tune_home import tune_home
    from mediarec.eval.tune_report import to_markdown

    seconds = parse_budget(budget)
    if trials < 1:
        raise click.BadParameter("at least one trial", param_hint="--trials")
    if k < 1:
        raise click.BadParameter("the cut-off must be at least 1", param_hint="-k")
    if split is not None and (split not in SPLITS or split == "cold-items"):
        raise click.BadParameter(f"unknown split {split!r}", param_hint="--split")
    engine = _engine(ctx, create=path is not None)
    started = time.perf_counter()
    try:
        dataset = load_dataset(path, fmt) if path else engine.dataset()
    except ImportFormatError as exc:
        raise click.ClickException(str(exc)) from None
    outer = (split or ("given" if dataset.has_folds else "temporal")) if path else ""

    if cold and not path:
        raise click.BadParameter(
            "needs a dataset PATH (the store's own data has no test fold)", param_hint="--cold"
        )
    options = TuneOptions(
        budget_seconds=seconds, seed=engine.settings.seed, k=k, trials=trials, outer_cold=cold
    )
    with Bar("embedding item texts", unit=" texts") as embed, Bar("tune", total=1, unit=" trials") as bar:

        def progress(done: int, planned: int, message: str) -> None:
            bar.moveto(done, planned)
            bar.note(message)

        try:
            outcome = tune_home(
                engine,
                options,
                dataset=dataset if path else None,
                outer_split=outer,
                save=save,
                progress=progress,
                embed_progress=embed.moveto,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if outcome.features_note:
        echo(
            f"note: no item features ({outcome.features_note}); searched the collaborative models only",
            err=True,
        )
    result, written = outcome.result, outcome.written
    echo(to_markdown(result))
    if save:
        echo(f"saved: `train` and `serve` now use {result.model} with these options")
    echo(f"wrote {', '.join(str(p) for p in written)} in {time.perf_counter() - started:.1f}s total")
