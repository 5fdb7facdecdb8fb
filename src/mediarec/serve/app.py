"""The HTTP API: a thin shell over :class:`mediarec.engine.MediaRec`.

Reads are plain ``def`` endpoints, so FastAPI runs them in its threadpool and each worker thread
uses its own SQLite connection. Writes are ``async`` and go through one :class:`Writer` thread,
so SQLite only ever sees a single writer and the event loop never blocks on a lock. A write whose
client disconnects, or that waits in the queue past ``write_timeout``, is dropped before it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BeforeValidator

from mediarec import __version__ as _version
from mediarec import limits, recommenders
from mediarec.engine import MediaRec, Recommendation, UnknownItemError
from mediarec.llm.backends import LLMError, LLMOutputError
from mediarec.rank.query import MAX_ASK_CHARS, QueryError
from mediarec.recommenders import repository
from mediarec.records import ITEM_KINDS, RecordError
from mediarec.serve.admin_tune import install_tune
from mediarec.serve.auth import AttemptLimiter, keys_match, resolve_api_key
from mediarec.serve.dashboard import install_dashboard
from mediarec.serve.dashboard_auth import is_loopback
from mediarec.serve.errors import MAX_BODY_BYTES, BodyLimit, CatchAll, install_error_handlers
from mediarec.serve.hits import HitPath, answer_body
from mediarec.serve.models import (
    DeletedUserOut,
    ErrorOut,
    HealthOut,
    InteractionIn,
    InteractionsBatch,
    InteractionsOut,
    ItemOut,
    ItemsBody,
    ItemsPage,
    ItemsWritten,
    MomentsOut,
    ProfileDeletedOut,
    ProfileEditIn,
    ProfileOut,
    RecommendationsOut,
    SearchOut,
    SimilarOut,
)
from mediarec.store.profiles import UnknownUserError
from mediarec.store.writer import Writer
from mediarec.users import NoHistoryError

MAX_N = 1000
MAX_PAGE = 1000
MAX_OFFSET = 2**63 - 1  # SQLite's largest INTEGER
MAX_FRESHNESS = 100.0
WRITE_TIMEOUT = 30.0  # seconds a write may wait for the writer before it is dropped unmade

T = TypeVar("T")
log = logging.getLogger("mediarec.serve")

_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Needed for every write, and for reads when the server listens beyond loopback or the "
    "read_key setting is set (the read key or the write key). The server prints where to find it.",
)


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

# Swagger UI and ReDoc from the fastapi-offline package (the serve extra): /docs works offline.
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
# The docs pages need inline scripts and styles (unlike the dashboard), but nothing they load may
# come from elsewhere: ReDoc's footer would otherwise fetch its logo from a CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


CACHE_HEADER = "X-Mediarec-Cache"
REFILL_USERS = 100  # a batch's first users get their cached lists re-ranked in the background


def _hit(hit: bool) -> str:
    return "hit" if hit else "miss"


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


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


def _recs(recs: list[Recommendation]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in recs]


# FastAPI's native OpenTelemetry (0.16x) looks up the global providers on every request, about 15 µs
# of a cache hit's 55 (bench/bench_hit_path.py). mediarec configures none, so it is off unless the
# environment asks for OpenTelemetry (older FastAPIs keep the unknown keyword in ``app.extra``).
NO_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False}  # fastapi.telemetry.TelemetryConfig


def _otel_asked() -> bool:
    return os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true" or any(
        k.startswith("OTEL_") for k in os.environ
    )


def create_app(
    engine: MediaRec,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    writer_queue: int = 1000,
    host: str | None = None,
    write_timeout: float = WRITE_TIMEOUT,
) -> FastAPI:
    """Build the API over ``engine``; ``app.state.api_key_hint`` tells operators where the key is.

    ``host`` is the address the server listens on (default: the ``host`` setting); beyond
    loopback, the dashboard asks for the API key before showing anything and every API read needs
    the read key or the write key. ``write_timeout``: seconds a write may wait in the writer's
    queue; one that waited longer is dropped unmade and answered 503.
    """
    store = engine.store  # opened here, once, rather than raced for by the first requests
    # Requests run on a thread pool, so concurrency comes from threads; the small matrix products of
    # ranking only slow down when BLAS spreads each one over the cores as well (about 4x on 2 cores).
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    writer = Writer(store, maxsize=writer_queue)
    api_key, hint = resolve_api_key(engine.settings)
    listen_host = host or engine.settings.host
    read_key = engine.settings.read_key
    reads_open = is_loopback(listen_host) and not read_key
    limiter = AttemptLimiter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        writer.start()
        try:
            yield
        finally:
            # Draining queued writes can take a moment; the loop keeps serving their answers meanwhile.
            await asyncio.to_thread(writer.stop)

    app = FastAPI(
        title="mediarec",
        version=_version,
        description="Recommendations for audio and video catalogues. Writes need the `X-API-Key` header; "
        "so do reads when the server listens beyond loopback or has a read key.",
        lifespan=lifespan,
        docs_url=None,  # served below from packaged files instead of a CDN
        redoc_url=None,
        telemetry=None if _otel_asked() else NO_TELEMETRY,
    )
    app.state.engine = engine
    engine.freeze_gc = True  # long-lived: its loaded state leaves the GC's full passes (engine.py)
    app.state.writer = writer
    app.state.api_key = api_key
    app.state.api_key_hint = hint
    app.state.auth_limiter = limiter
    app.state.reads_open = reads_open  # False: every API read needs X-API-Key too
    install_error_handlers(app)
    # Innermost of the three: cache hits of GET /users/{id}/recommendations answered before routing
    # (serve/hits.py); anything it cannot prove it would answer the same goes on to the routes.
    app.add_middleware(
        HitPath,
        engine=engine,
        max_n=MAX_N,
        max_freshness=MAX_FRESHNESS,
        reads_open=reads_open,
        accepted=(read_key, api_key),
        limiter=limiter,
        header=CACHE_HEADER.lower(),
    )
    app.add_middleware(CatchAll)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    def check_key(request: Request, key: str | None, accepted: tuple[str, ...], need: str) -> None:
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait:
            raise HTTPException(
                429,
                f"too many wrong keys from this address; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        if any(expected and keys_match(key, expected) for expected in accepted):
            return
        if key:
            limiter.failed(client)
        reason = "missing" if not key else "wrong"
        # The hint names a server path, so it goes to the operator's console, not to clients.
        raise HTTPException(401, f"{reason} X-API-Key header: {need}", headers={"WWW-Authenticate": "ApiKey"})

    # Both checks are async (they only compare strings under a short lock): a plain ``def``
    # dependency costs every write, and every read through the routes, a thread-pool hand-off.
    async def require_key(request: Request, key: str | None = Security(_key_header)) -> None:
        check_key(
            request,
            key,
            (api_key,),
            "writes need the server's API key (`mediarec serve` prints where it is kept when it starts)",
        )

    async def require_read(request: Request, key: str | None = Security(_key_header)) -> None:
        if reads_open:
            return
        check_key(
            request,
            key,
            (read_key, api_key),
            "reads on this server need the read key (the read_key setting) or the write key",
        )

    async def write(request: Request, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the writer, dropped unmade if the client disconnects while it waits."""
        work = asyncio.ensure_future(writer.execute(fn, *args, timeout=write_timeout))
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

    def model_name(model: str | None) -> str:
        name = model or engine.settings.default_model
        if name not in recommenders.MODELS:
            raise HTTPException(422, f"unknown model {name!r}; choose from {', '.join(recommenders.MODELS)}")
        return name

    def check_kind(kind: str | None) -> str | None:
        if kind and kind not in ITEM_KINDS:
            raise HTTPException(422, f"kind must be one of {', '.join(ITEM_KINDS)}, got {kind!r}")
        return kind or None

    writes = [Depends(require_key)]
    reads = [Depends(require_read)]

    # -- reads -------------------------------------------------------------------------------
    @app.get("/health", response_model=HealthOut, dependencies=reads, responses=_errors(401), tags=["status"])
    def health() -> dict[str, Any]:
        """Store counts and the latest saved version of each trained model."""
        counts = store.counts()
        models = {}
        for name in recommenders.MODELS:
            found = repository.newest_version(engine.home, name, root=engine.models_dir)
            if found:
                models[name] = found.name
        return {
            "status": "ok",
            **{k: counts[k] for k in ("items", "users", "interactions")},
            "models": models,
            "serving": engine.serving(),
        }

    @app.get(
        "/users/{user_id}/recommendations",
        response_model=RecommendationsOut,
        dependencies=reads,
        responses=_errors(401, 422),
        tags=["recommendations"],
    )
    def recommendations(
        user_id: str,
        n: int = Query(10, ge=1, le=MAX_N, description="How many items to return."),
        exclude_seen: bool = Query(True, description="Leave out items the user already interacted with."),
        kind: KindParam = None,
        creator: str | None = Query(
            None, max_length=limits.MAX_FILTER_CHARS, description="Only items by this creator."
        ),
        model: ModelParam = None,
        diversity: float | None = Query(
            None,
            ge=0,
            le=1,
            allow_inf_nan=False,
            description="MMR lambda: 1 ranks by relevance alone, lower favours variety.",
        ),
        max_per_creator: int | None = Query(
            None, ge=0, le=MAX_N, description="At most this many items per creator."
        ),
        max_per_topic: int | None = Query(
            None, ge=0, le=MAX_N, description="At most this many items per topic."
        ),
        explore: float | None = Query(
            None,
            ge=0,
            le=1,
            allow_inf_nan=False,
            description="Exploration rate: chance a slot goes to a new, little-seen item.",
        ),
        freshness: float | None = Query(
            None, ge=0, le=MAX_FRESHNESS, allow_inf_nan=False, description="Score bonus of a brand-new item."
        ),
        ask: str | None = ASK_PARAM,
    ) -> Any:
        """Top-n items for a user, each with its reasons and their evidence.

        New events count at once: seen items are filtered and the user's vector is folded in from
        their current events, without retraining. A user with no model row and no events gets
        popular items (``fallback``). Query options override the ``rank_*`` settings per request.
        """
        name = model_name(model)
        options = engine.rank_options.with_overrides(
            mmr_lambda=diversity,
            max_per_creator=max_per_creator,
            max_per_topic=max_per_topic,
            explore_epsilon=explore,
            freshness_boost=freshness,
        )
        if ask is not None:  # steered: ranked fresh, the parsed request returned with the list
            steered = steer(engine.rank_steered, user_id, ask, n, exclude_seen=exclude_seen,
                            kind=check_kind(kind), creator=creator or None, model=name, options=options)
            r = steered.result
            return {"user_id": user_id, "model": name, "fallback": r.fallback, "folded_in": r.folded_in,
                    "model_version": r.model_version, "items": _recs(r.items), "steering": steered.steering()}
        entry, hit = engine.rank_entry(
            user_id,
            n=n,
            exclude_seen=exclude_seen,
            kind=check_kind(kind),
            creator=creator or None,
            model=name,
            options=options,
        )
        if entry.body is None:
            # Serialised once per computed list and reused by every hit (the key holds user and model).
            entry.body = answer_body(user_id, name, entry.result)
        # X-Mediarec-Cache says whether the list was ranked for this request or served again.
        return Response(entry.body, media_type="application/json", headers={CACHE_HEADER: _hit(hit)})

    @app.get(
        "/items/{item_id}/similar",
        response_model=SimilarOut,
        dependencies=reads,
        responses=_errors(401, 404, 422, 503),
        tags=["recommendations"],
    )
    def similar(
        item_id: str,
        n: int = Query(10, ge=1, le=MAX_N),
        model: ModelParam = None,
        ask: str | None = ASK_PARAM,
    ) -> dict[str, Any]:
        """Items most like this one, according to the model (``ask``: steered, "like this but shorter")."""
        name = model_name(model)
        if engine.loaded(name) is None:
            raise HTTPException(
                503, f"no trained {name!r} model yet: run `mediarec train --model {name}` first"
            )
        try:
            if ask is not None:
                steered = steer(engine.similar_steered, item_id, ask, n, model=name)
                return {"item_id": item_id, "model": name, "items": _recs(steered.result.items),
                        "steering": steered.steering()}
            recs = engine.similar(item_id, n=n, model=name)
        except UnknownItemError:
            if store.get_item(item_id) is None:
                raise HTTPException(404, f"unknown item {item_id!r}") from None
            raise HTTPException(
                404, f"item {item_id!r} was added after the {name!r} model was trained; retrain to include it"
            ) from None
        return {"item_id": item_id, "model": name, "items": _recs(recs)}

    @app.get(
        "/search", response_model=SearchOut, dependencies=reads, responses=_errors(401, 422), tags=["search"]
    )
    def search(
        q: str = Query(..., max_length=200, description="Words said or shown: \"kneading dough\"."),
        n: int = Query(10, ge=1, le=MAX_N, description="How many items."),
    ) -> dict[str, Any]:
        """Items whose transcript, on-screen text, LLM key moments or tag evidence match ``q``, each
        with the matching time ranges (start playing at ``start``)."""
        try:
            hits = engine.search(q, n)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"q": q, "items": [h.to_dict() for h in hits]}

    @app.get(
        "/users/{user_id}/moments",
        response_model=MomentsOut,
        dependencies=reads,
        responses=_errors(401, 422),
        tags=["recommendations"],
    )
    def moments(
        user_id: str, n: int = Query(10, ge=1, le=MAX_N, description="How many moments.")
    ) -> dict[str, Any]:
        """Moments of the user's recommended items where one of their interests is met: item, start,
        end and why."""
        return {"user_id": user_id, "items": [h.to_dict() for h in engine.moments(user_id, n)]}

    @app.get(
        "/items",
        response_model=ItemsPage,
        dependencies=reads,
        responses=_errors(401, 422),
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
        responses=_errors(401, 404),
        tags=["catalogue"],
    )
    def get_item(item_id: str) -> dict[str, Any]:
        item = store.get_item(item_id)
        if item is None:
            raise HTTPException(404, f"unknown item {item_id!r}")
        return item.to_dict()

    # -- writes ------------------------------------------------------------------------------
    @app.post(
        "/items",
        response_model=ItemsWritten,
        dependencies=writes,
        responses=_errors(401, 413, 422),
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

    @app.post(
        "/interactions",
        response_model=InteractionsOut,
        dependencies=writes,
        responses=_errors(401, 413, 422),
        tags=["interactions"],
    )
    async def add_interaction(request: Request, event: InteractionIn) -> dict[str, Any]:
        """Record one event. An event on an item that is not in the catalogue is refused."""
        record = event.record(time.time())
        inserted, rejected = await write(request, engine.add_events, [record])
        if rejected:
            raise HTTPException(422, f"{rejected[0][1]}; add the item with POST /items first")
        engine.refill([record.user])  # re-rank the user's cached lists off the request path
        return {"inserted": inserted, "rejected": []}

    @app.post(
        "/interactions/batch",
        response_model=InteractionsOut,
        dependencies=writes,
        responses=_errors(401, 413, 422),
        tags=["interactions"],
    )
    async def add_interactions(request: Request, events: InteractionsBatch) -> dict[str, Any]:
        """Record many events; valid ones are stored and each refused one is reported by position."""
        now = time.time()
        records, positions, rejected = [], [], []
        for i, event in enumerate(events):
            try:
                records.append(event.record(now))
                positions.append(i)
            except RecordError as exc:
                rejected.append((i, str(exc)))
        inserted, refused = await write(request, engine.add_events, records) if records else (0, [])
        engine.refill([r.user for r in records][:REFILL_USERS])
        # The store numbers its refusals within the valid subset; map them back to the posted list.
        rejected += [(positions[pos], reason) for pos, reason in refused]
        rejected.sort()
        return {"inserted": inserted, "rejected": [{"index": i, "reason": r} for i, r in rejected]}

    @app.delete(
        "/users/{user_id}",
        response_model=DeletedUserOut,
        dependencies=writes,
        responses=_errors(401),
        tags=["users"],
    )
    async def delete_user(request: Request, user_id: str) -> dict[str, Any]:
        """Delete a user's events and remove them from every saved model. Deleting twice is harmless."""
        result = await write(request, engine.delete_user, user_id)
        return {"user_id": user_id, **result}

    # -- taste profiles ----------------------------------------------------------------------
    @app.get(
        "/users/{user_id}/profile",
        response_model=ProfileOut,
        dependencies=reads,
        responses=_errors(401, 404),
        tags=["users"],
    )
    def get_profile(user_id: str) -> dict[str, Any]:
        """The user's taste profile: the newest generated version with the user's edits applied."""
        found = engine.profile(user_id)
        if found is None:
            raise HTTPException(
                404, f"no profile for {user_id!r} yet: POST /users/{user_id}/profile/regenerate makes one"
            )
        return found.to_dict()

    @app.put(
        "/users/{user_id}/profile",
        response_model=ProfileOut,
        dependencies=writes,
        responses=_errors(401, 404, 422),
        tags=["users"],
    )
    async def edit_profile(request: Request, user_id: str, body: ProfileEditIn) -> dict[str, Any]:
        """Change the profile: your own text, tags to add or remove. Kept over every regeneration."""
        try:
            found = await write(
                request, engine.edit_profile, user_id, body.text, body.add_tags, body.remove_tags
            )
        except (UnknownUserError, ValueError) as exc:
            raise _profile_error(exc) from None
        return found.to_dict()

    @app.post(
        "/users/{user_id}/profile/regenerate",
        response_model=ProfileOut,
        dependencies=writes,
        responses=_errors(401, 404, 409, 502, 503),
        tags=["users"],
    )
    async def regenerate_profile(request: Request, user_id: str) -> dict[str, Any]:
        """Write a new profile version from the user's history with the LLM; the user's edits stay.
        Takes tens of seconds with a local model on a CPU; other requests are served meanwhile."""
        try:
            # The LLM runs on a worker thread; only the short write goes through the writer.
            draft = await asyncio.to_thread(engine.draft_profile, user_id)
            found = await write(request, engine.save_profile, draft)
        except (UnknownUserError, ValueError, LLMError) as exc:
            raise _profile_error(exc) from None
        return found.to_dict()

    @app.delete(
        "/users/{user_id}/profile",
        response_model=ProfileDeletedOut,
        dependencies=writes,
        responses=_errors(401),
        tags=["users"],
    )
    async def delete_profile(request: Request, user_id: str) -> dict[str, Any]:
        """Delete the profile only (every version and the edits); events and the user stay."""
        result = await write(request, engine.delete_profile, user_id)
        return {"user_id": user_id, **result}

    install_tune(app, engine, writes)
    install_docs(app)
    install_dashboard(app, engine, listen_host)
    return app


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


async def _disconnected(request: Request) -> None:
    """Return once the client has gone. The body is already read, so the next message the server
    has for this request is ``http.disconnect`` (sent when the client closes, or once answered)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their scripts served by this server, not a CDN."""
    title = f"{app.title} API"
    static = "/docs/assets"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon.png",
            # Swagger UI would otherwise send the schema to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _with_csp(page)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{static}/redoc.standalone.js",
            redoc_favicon_url=f"{static}/favicon.png",
            with_google_fonts=False,
        )
        return _with_csp(page)

    @app.get(static + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            raise HTTPException(404, f"no docs asset {name!r}")
        try:
            folder = importlib.resources.files("fastapi_offline") / "static"
        except ModuleNotFoundError:
            raise HTTPException(
                503, "the docs' scripts come from the fastapi-offline package: pip install 'mediarec[serve]'"
            ) from None
        return FileResponse(
            str(folder / name), media_type=DOCS_ASSETS[name], headers={"Cache-Control": "max-age=86400"}
        )


def _profile_error(exc: Exception) -> HTTPException:
    if isinstance(exc, UnknownUserError):
        return HTTPException(404, str(exc))
    if isinstance(exc, NoHistoryError):
        return HTTPException(409, str(exc))
    if isinstance(exc, LLMOutputError):
        return HTTPException(502, f"the LLM gave no usable profile: {exc}")
    if isinstance(exc, LLMError):
        return HTTPException(503, f"the LLM is not available: {exc}")
    return HTTPException(422, str(exc))
