"""What the API's route modules share: request limits and parameter types, the error table of the
schema, and :class:`RouteContext` (the engine, the access checks and the one writer thread that
:func:`mediarec.serve.app.create_app` hands each of them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import HTTPException, Query, Request
from fastapi.params import Depends
from pydantic import BeforeValidator

from mediarec import recommenders
from mediarec.engine import MediaRec
from mediarec.rank.query import MAX_ASK_CHARS, QueryError
from mediarec.records import ITEM_KINDS
from mediarec.serve.models import ErrorOut
from mediarec.store.writer import Writer

MAX_N = 1000
MAX_PAGE = 1000
MAX_OFFSET = 2**63 - 1  # SQLite's largest INTEGER
MAX_FRESHNESS = 100.0

T = TypeVar("T")
log = logging.getLogger("mediarec.serve")


def _blank_is_none(value: Any) -> Any:
    # `?kind=&model=` (empty) has always meant "not set"; the enums below must keep accepting it.
    return None if value == "" else value


# Enums in the schema, so clients (and fuzzers) see which values the server takes.
if TYPE_CHECKING:
    KindName = str
    ModelName = str
else:
    KindName = Literal[ITEM_KINDS]
    ModelName = Literal[tuple(recommenders.MODELS)]
KindParam = Annotated[
    KindName | None, BeforeValidator(_blank_is_none), Query(description="Only items of this kind.")
]
ModelParam = Annotated[
    ModelName | None,
    BeforeValidator(_blank_is_none),
    Query(description="Model to serve from (default: the default_model setting)."),
]

# Says whether a list was ranked for this request or served again from the cache (hit / miss).
CACHE_HEADER = "X-Mediarec-Cache"


ASK_PARAM: Any = Query(
    None,
    max_length=MAX_ASK_CHARS,
    description='A request in plain words ("shorter, about cooking, no football"): hard filters and a '
    "soft direction; the parsed request comes back under `steering`.",
)


def steer(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A steered list; a request the parser refuses (empty, too long, out of limits) is a 422."""
    try:
        return fn(*args, **kwargs)
    except QueryError as exc:
        raise HTTPException(422, f"ask: {exc}" if not str(exc).startswith("ask:") else str(exc)) from None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


@dataclass(frozen=True)
class RouteContext:
    """What every route module needs from ``create_app``: the engine, the dependencies that check
    the API key of reads and of writes, and the writer all writes go through."""

    engine: MediaRec
    writer: Writer
    write_timeout: float  # seconds a write may wait in the writer's queue
    reads: list[Depends]
    writes: list[Depends]

    async def write(self, request: Request, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the writer, dropped unmade if the client disconnects while it waits."""
        work = asyncio.ensure_future(self.writer.execute(fn, *args, timeout=self.write_timeout))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            work.cancel()
            raise
        finally:
            gone.cancel()
        if not work.done():
            work.cancel()  # Writer.execute cancels its queued job, so it never runs later
            with contextlib.suppress(asyncio.CancelledError):
                await work
            log.info("client left before its write ran; dropped %s %s", request.method, request.url.path)
            raise HTTPException(503, "the client disconnected before the write ran; it was not made")
        return work.result()

    def model_name(self, model: str | None) -> str:
        name = model or self.engine.settings.default_model
        if name not in recommenders.MODELS:
            raise HTTPException(422, f"unknown model {name!r}; choose from {', '.join(recommenders.MODELS)}")
        return name

    @staticmethod
    def check_kind(kind: str | None) -> str | None:
        if kind and kind not in ITEM_KINDS:
            raise HTTPException(422, f"kind must be one of {', '.join(ITEM_KINDS)}, got {kind!r}")
        return kind or None


async def _disconnected(request: Request) -> None:
    """Return once the client has gone. The body is already read, so the next message the server
    has for this request is ``http.disconnect`` (sent when the client closes, or once answered)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
