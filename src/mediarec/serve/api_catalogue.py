"""The catalogue through the API: list and read items, add or update them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request

from mediarec import limits
from mediarec.records import RecordError
from mediarec.serve.api_common import MAX_OFFSET, MAX_PAGE, KindParam, RouteContext, error_responses
from mediarec.serve.models import ItemOut, ItemsBody, ItemsPage, ItemsWritten


def install_catalogue(app: FastAPI, api: RouteContext) -> None:
    """GET /items, GET /items/{id} and POST /items."""
    engine, store, write = api.engine, api.engine.store, api.write
    reads, writes, check_kind = api.reads, api.writes, api.check_kind

    @app.get(
        "/items",
        response_model=ItemsPage,
        dependencies=reads,
        responses=error_responses(401, 422),
        tags=["catalogue"],
    )
    def list_items(
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
        kind: KindParam = None,
        creator: str | None = Query(
            None, max_length=limits.MAX_FILTER_CHARS, description="Only items by this creator."
        ),
        q: str | None = Query(
            None, max_length=limits.MAX_FILTER_CHARS, description="Only items whose title contains this text."
        ),
    ) -> dict[str, Any]:
        """The catalogue, a page at a time, in the order items were first stored."""
        filters = {"kind": check_kind(kind), "creator": creator or None, "query": q or None}
        total = store.count_items(**filters)
        page = store.list_items(limit=limit, offset=offset, **filters)
        return {"total": total, "limit": limit, "offset": offset, "items": [i.to_dict() for i in page]}

    @app.get(
        "/items/{item_id}",
        response_model=ItemOut,
        dependencies=reads,
        responses=error_responses(401, 404),
        tags=["catalogue"],
    )
    def get_item(item_id: str) -> dict[str, Any]:
        item = store.get_item(item_id)
        if item is None:
            raise HTTPException(404, f"unknown item {item_id!r}")
        return item.to_dict()

    @app.post(
        "/items",
        response_model=ItemsWritten,
        dependencies=writes,
        responses=error_responses(401, 413, 422),
        tags=["catalogue"],
    )
    async def add_items(request: Request, body: ItemsBody) -> dict[str, Any]:
        """Add or update one item or a list of items, matched by ``id``."""
        posted = body if isinstance(body, list) else [body]
        records = []
        for i, item in enumerate(posted):
            try:
                records.append(item.record())
            except RecordError as exc:
                where = f"item {i} ({item.id!r})" if isinstance(body, list) else f"item {item.id!r}"
                raise HTTPException(422, f"{where}: {exc}") from None
        created = await write(request, engine.add_items, records)
        return {"received": len(records), "created": created, "updated": len(records) - created}
