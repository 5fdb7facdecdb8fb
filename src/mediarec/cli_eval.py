"""``mediarec evaluate``: models side by side on one split, with the cold-item protocol on request."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from mediarec.cli_options import split_option
from mediarec.cli_progress import Bar
from mediarec.cli_text import echo


@click.command(
    epilog="Example: mediarec evaluate ../shared/data/ml-1m-llm --split given "
    "--models random,popularity,itemknn-bm25,als,bpr,content,hybrid --cold 0.2"
)
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", default=None, help="Source format (default: detected).")
@split_option()
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
    "among themselves (e.g. 0.2); a second table in the same report. It must hold out more items "
    "than -k.",
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
    from mediarec.cli import _engine, _model_names, _parse_params, _uses_features
    from mediarec.datasets import ImportFormatError, load_dataset
    from mediarec.eval import EvalOptions, Report, to_markdown, write_report
    from mediarec.eval import evaluate as run_evaluation
    from mediarec.eval.splits import cold_item_count

    names = [m.strip() for m in models.split(",") if m.strip()]
    # "tuned": the configuration `mediarec tune` saved in this home, as its own row.
    unknown = [n for n in names if n not in _model_names() and n != "tuned"]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(_model_names())}",
            param_hint="--models",
        )
    per_model_params = _model_options(params, names, _parse_params)
    if k < 1:
        raise click.BadParameter("the cut-off must be at least 1", param_hint="-k")
    try:
        lambdas = tuple(float(x) for x in mmr.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"expected lambdas like 0.7,0.4, got {mmr!r}", param_hint="--mmr") from None
    if any(not 0 <= lam <= 1 for lam in lambdas):
        raise click.BadParameter("lambdas lie between 0 and 1", param_hint="--mmr")

    engine = _engine(ctx, create=path is not None)
    started = time.perf_counter()
    try:
        dataset = load_dataset(path, fmt) if path else engine.dataset()
    except ImportFormatError as exc:
        raise click.ClickException(str(exc)) from None
    if dataset.bad_rows:
        echo(f"note: {len(dataset.bad_rows)} bad rows skipped while reading {path}", err=True)
    if cold:
        held_out = cold_item_count(dataset, cold)
        if held_out <= k:
            # Checked before the main table is computed: minutes of work would end in a table of 1.0s.
            raise click.BadParameter(
                f"{cold:g} holds out {held_out} of the items with events, not more than "
                f"-k {k}: every model's list would hold all of them and score Recall@{k} = 1.0. "
                "Hold out a larger share or lower -k.",
                param_hint="--cold",
            )
    split_name = split or ("given" if dataset.has_folds else "temporal")
    aliases: dict[str, str] = {}
    if "tuned" in names:
        if engine.tuned is None:
            raise click.BadParameter(
                f"no tuned configuration in {engine.home}; run `mediarec tune` first", param_hint="--models"
            )
        aliases["tuned"] = engine.tuned.model
        if engine.tuned.dataset and engine.tuned.dataset != dataset.name:
            echo(f"note: the tuned configuration was chosen on {engine.tuned.dataset}, not here", err=True)
    per_model: dict[str, dict[str, Any]] = {
        name: engine.model_params(aliases.get(name, name)) for name in names
    }
    if "tuned" in names and engine.tuned is not None:
        per_model["tuned"].update(engine.tuned.params)
    for name, options in per_model_params.items():
        per_model[name].update(options)

    features, source = None, ""
    if any(_uses_features(aliases.get(n, n)) for n in names):
        from mediarec.features import dataset_item_features

        with Bar("embedding item texts", unit=" texts") as bar:
            try:
                features, source = dataset_item_features(
                    dataset, engine.settings, store=None if path else engine.store, progress=bar.moveto
                )
            except Exception as exc:  # ModelNotInstalled, no vectors: say why and stop
                raise click.ClickException(f"item features for the content models: {exc}") from None
        echo(f"item features: {source}", err=True)

    runs = [(split_name, EvalOptions(mmr_lambdas=lambdas))]
    if cold:
        runs.append(("cold-items", EvalOptions(test_fraction=cold)))
    reports: list[Report] = []
    # One step per model fitted and ranked; the estimate assumes models of equal cost.
    with Bar("evaluate", total=len(runs) * len(names), unit=" models") as bar:
        fitted = [0]

        def progress(message: str) -> None:
            if message.startswith("fitting "):
                bar.moveto(fitted[0])
                fitted[0] += 1
            bar.note(message)

        try:
            for name, run_options in runs:
                reports.append(
                    run_evaluation(
                        dataset,
                        name,
                        names,
                        k=k,
                        seed=engine.settings.seed,
                        model_params=per_model,
                        progress=progress,
                        item_features=features,
                        features_source=source,
                        options=run_options,
                        aliases=aliases,
                    )
                )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        bar.moveto(fitted[0])
    report, extra = reports[0], reports[1:]
    folder = out or engine.home / "reports" / time.strftime("%Y%m%d-%H%M%S")
    written = write_report(report, folder, extra=extra)
    echo(to_markdown(report))
    for r in extra:
        echo(to_markdown(r, heading="##"))
    for r in reports:
        for warning in r.warnings:
            echo(f"warning ({r.split}): {warning}", err=True)
    echo(f"\nwrote {', '.join(str(p) for p in written)} in {time.perf_counter() - started:.1f}s total")


def _model_options(params: tuple[str, ...], names: list[str], parse: Any) -> dict[str, dict[str, Any]]:
    """``--param MODEL.KEY=VALUE`` pairs by model; a model not in ``--models`` is refused, since its
    options would silently do nothing."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in parse(params).items():
        model_name, dot, option = key.partition(".")
        if not dot or not option:
            raise click.BadParameter(f"expected MODEL.KEY=VALUE, got {key!r}", param_hint="--param")
        if model_name not in names:
            raise click.BadParameter(
                f"{key}: model {model_name!r} is not among --models ({', '.join(names)}); "
                "add it there or drop the option",
                param_hint="--param",
            )
        out.setdefault(model_name, {})[option] = value
    return out
