"""``mediarec store``: commands about the store itself (copy it into another backend)."""

from __future__ import annotations

import click

from mediarec.cli_text import echo


@click.group(epilog="Example: mediarec store copy --to postgresql://mediarec:secret@db-host/mediarec")
def store() -> None:
    """The store: SQLite in the home (default) or PostgreSQL (store_url)."""


@store.command(
    "copy", epilog="Example: mediarec store copy --to postgresql://mediarec:secret@db-host/mediarec"
)
@click.option(
    "--to", "target_url", required=True, help="Store URL to copy into (postgresql://... or sqlite:///...)."
)
@click.option(
    "--batch-size", default=5000, show_default=True, type=click.IntRange(1), help="Rows per transaction."
)
@click.pass_context
def copy(ctx: click.Context, target_url: str, batch_size: int) -> None:
    """Copy every table of this home's store into TARGET (idempotent: a rerun or a resumed run copies
    nothing twice), then print counts and checksums per table; exits 1 when any differ.

    Afterwards point mediarec at the copy with store_url (setting, MEDIAREC_STORE_URL or --store-url).
    """
    from mediarec.settings import load_settings
    from mediarec.store import Store, StoreError
    from mediarec.store.copy import CopyMismatch, TableReport, copy_store

    settings = load_settings(ctx.obj["home"], store_url=ctx.obj.get("store_url"))
    try:
        with Store(settings.resolved_store_url) as source, Store(target_url) as target:
            echo(f"copying {source.display_url} -> {target.display_url}")
            try:
                reports: list[TableReport] = copy_store(source, target, batch_size=batch_size)
                failed = False
            except CopyMismatch as exc:
                reports, failed = exc.reports, True
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    echo(
        f"{'table':<20} {'source':>10} {'target':>10} {'copied':>10}  {'source sum':<16}  {'target sum':<16}"
    )
    for r in reports:
        mark = "" if r.same else "  DIFFERS"
        echo(
            f"{r.table:<20} {r.source_rows:>10} {r.target_rows:>10} {r.copied:>10}  "
            f"{r.source_checksum:<16}  {r.target_checksum:<16}{mark}"
        )
    if failed:
        raise click.ClickException(
            "the target differs from the source (see DIFFERS above); was it empty or a copy of this "
            "store when the copy began?"
        )
    echo("copy complete: every table has the same rows and checksum")
