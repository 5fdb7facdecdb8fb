"""``mediarec items``: browse the catalogue, with the filters of the API's ``GET /items``."""

from __future__ import annotations

import click

from mediarec.cli_text import echo, echo_json, safe_line
from mediarec.records import ITEM_KINDS

MAX_LIMIT = 10_000
MAX_OFFSET = 2**63 - 1  # SQLite's OFFSET is a signed 64-bit integer


@click.command(epilog="Example: mediarec items --kind audio --tag jazz -q live --limit 20")
@click.option("--kind", type=click.Choice(ITEM_KINDS), default=None, help="Only items of this kind.")
@click.option("--creator", default=None, help="Only items by this creator.")
@click.option("--tag", default=None, help="Only items with this tag (catalogue, genre or LLM tag).")
@click.option("-q", "--query", default=None, help="Only items whose title contains this text.")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=50, show_default=True, help="Page size.")
@click.option(
    "--offset", type=click.IntRange(0, MAX_OFFSET), default=0, show_default=True, help="Items to skip."
)
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON, as GET /items answers it.")
@click.pass_context
def items(
    ctx: click.Context,
    kind: str | None,
    creator: str | None,
    tag: str | None,
    query: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List catalogue items in the order they were first stored: id, kind, duration, creator, title."""
    from mediarec.cli import _engine

    store = _engine(ctx).store
    filters = {"kind": kind, "creator": creator or None, "query": query or None, "tag": tag or None}
    total = store.count_items(**filters)
    page = store.list_items(limit=limit, offset=offset, **filters)
    if as_json:
        echo_json(
            {"total": total, "limit": limit, "offset": offset, "items": [i.to_dict() for i in page]}, indent=2
        )
        return
    for item in page:
        duration = f"{item.duration:7.1f}s" if item.duration is not None else " " * 8
        creator_ = safe_line(item.creator or "-")
        echo(f"{safe_line(item.external_id)}  {item.kind:<5} {duration}  {creator_}  {safe_line(item.title)}")
    shown = f"{offset + 1}-{offset + len(page)}" if page else "none"
    more = f"; next page: --offset {offset + len(page)}" if offset + len(page) < total else ""
    echo(f"{shown} of {total} items{more}", err=True)
