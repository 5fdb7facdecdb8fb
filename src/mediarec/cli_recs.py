"""``mediarec train``, ``recommend``, ``similar``, ``search`` and ``moments``: the answers."""

from __future__ import annotations

from typing import Any

import click

from mediarec.cli_options import MODEL
from mediarec.cli_progress import Bar
from mediarec.cli_text import echo, echo_json, safe_line


@click.command(epilog="Example: mediarec train --model als --param factors=128")
@click.option("--model", type=MODEL, default=None, help="Model name (default: the default_model setting).")
@click.option("--param", "params", multiple=True, help="Model option KEY=VALUE (repeatable).")
@click.pass_context
def train(ctx: click.Context, model: str | None, params: tuple[str, ...]) -> None:
    """Train a model on everything in the store and save it as a new version."""
    from mediarec.cli import _engine, _parse_params

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


@click.command(epilog="Example: mediarec recommend 42 -n 5 --kind video")
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
    from mediarec.cli import _engine

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
        steered = _steer(
            engine.rank_steered,
            user,
            ask,
            n,
            exclude_seen=not include_seen,
            kind=kind,
            creator=creator,
            model=model,
            options=options,
        )
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


@click.command(epilog="Example: mediarec similar 1 -n 5")
@click.argument("item")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--model", type=MODEL, default=None, help="Model name (default: the default_model setting).")
@click.option("--ask", default=None, help='A request in plain words: "like this but shorter".')
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def similar(ctx: click.Context, item: str, n: int, model: str | None, ask: str | None, as_json: bool) -> None:
    """Items most similar to ITEM under a trained model."""
    from mediarec.cli import _engine
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


@click.command(epilog='Example: mediarec search "kneading dough"')
@click.argument("query")
@click.option("-n", default=10, show_default=True, help="How many items.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, n: int, as_json: bool) -> None:
    """Items whose transcript, on-screen text or LLM moments and tags match QUERY, with the times."""
    from mediarec.cli import _engine

    try:
        hits = _engine(ctx).search(query, n)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from None
    _print_hits(hits, as_json, "nothing said or shown matches")


@click.command(epilog="Example: mediarec moments user-01 -n 5")
@click.argument("user")
@click.option("-n", default=10, show_default=True, help="How many moments.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def moments(ctx: click.Context, user: str, n: int, as_json: bool) -> None:
    """Moments of USER's recommended items where one of their interests is met (item, start, end, why)."""
    from mediarec.cli import _engine

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
