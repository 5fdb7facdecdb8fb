"""The HTTP API: a thin shell over :class:`mediarec.engine.MediaRec`.

Reads are plain ``def`` endpoints, so FastAPI runs them in its threadpool and each worker thread
uses its own SQLite connection. Writes are ``async`` and go through one :class:`Writer` thread,
so SQLite only ever sees a single writer and the event loop never blocks on a lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Security
from fastapi.security import APIKeyHeader

from mediarec import __version__ as _version
from mediarec import recommenders
from mediarec.engine import MediaRec, Recommendation, UnknownItemError
from mediarec.llm.backends import LLMError, LLMOutputError
from mediarec.recommenders import repository
from mediarec.records import ITEM_KINDS, RecordError
from mediarec.serve.auth import keys_match, resolve_api_key
from mediarec.serve.dashboard import install_dashboard
from mediarec.serve.errors import MAX_BODY_BYTES, BodyLimit, CatchAll, install_error_handlers
from mediarec.serve.models import (
    DeletedUserOut,
    ErrorOut,
    HealthOut,
    InteractionIn,
    InteractionsOut,
    ItemOut,
    ItemsBody,
    ItemsPage,
    ItemsWritten,
    ProfileDeletedOut,
    ProfileEditIn,
    ProfileOut,
    RecommendationsOut,
    SimilarOut,
)
from mediarec.store.profiles import UnknownUserError
from mediarec.store.writer import Writer
from mediarec.users import NoHistoryError

MAX_N = 1000
MAX_PAGE = 1000

_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Needed for every write. The server prints where to find it when it starts.",
)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


def _recs(recs: list[Recommendation]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in recs]


def create_app(
    engine: MediaRec,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    writer_queue: int = 1000,
    host: str | None = None,
) -> FastAPI:
    """Build the API over ``engine``; ``app.state.api_key_hint`` tells operators where the key is.

    ``host`` is the address the server listens on (default: the ``host`` setting); beyond
    loopback, the dashboard asks for the API key before showing anything.
    """
    store = engine.store  # opened here, once, rather than raced for by the first requests
    # Requests run on a thread pool, so concurrency comes from threads; the small matrix products of
    # ranking only slow down when BLAS spreads each one over the cores as well (about 4x on 2 cores).
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    writer = Writer(store, maxsize=writer_queue)
    api_key, hint = resolve_api_key(engine.settings)

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
        description="Recommendations for audio and video catalogues. Writes need the `X-API-Key` header.",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.writer = writer
    app.state.api_key = api_key
    app.state.api_key_hint = hint
    install_error_handlers(app)
    app.add_middleware(CatchAll)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    def require_key(key: str | None = Security(_key_header)) -> None:
        if not keys_match(key, api_key):
            reason = "missing" if not key else "wrong"
            raise HTTPException(
                401,
                # The hint names a server path, so it goes to the operator's console, not to clients.
                f"{reason} X-API-Key header: writes need the server's API key "
                "(`mediarec serve` prints where it is kept when it starts)",
                headers={"WWW-Authenticate": "ApiKey"},
            )

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

    # -- reads -------------------------------------------------------------------------------
    @app.get("/health", response_model=HealthOut, tags=["status"])
    def health() -> dict[str, Any]:
        """Store counts and the latest saved version of each trained model."""
        counts = store.counts()
        models = {}
        for name in recommenders.MODELS:
            found = repository.versions(engine.home, name)
            if found:
                models[name] = found[-1].name
        return {
            "status": "ok",
            **{k: counts[k] for k in ("items", "users", "interactions")},
            "models": models,
        }

    @app.get(
        "/users/{user_id}/recommendations",
        response_model=RecommendationsOut,
        responses=_errors(422),
        tags=["recommendations"],
    )
    def recommendations(
        user_id: str,
        n: int = Query(10, ge=1, le=MAX_N, description="How many items to return."),
        exclude_seen: bool = Query(True, description="Leave out items the user already interacted with."),
        kind: str | None = Query(None, description=f"Only items of this kind: {', '.join(ITEM_KINDS)}."),
        creator: str | None = Query(None, description="Only items by this creator."),
        model: str | None = Query(
            None, description="Model to serve from (default: the default_model setting)."
        ),
        diversity: float | None = Query(
            None, ge=0, le=1, description="MMR lambda: 1 ranks by relevance alone, lower favours variety."
        ),
        max_per_creator: int | None = Query(None, ge=0, description="At most this many items per creator."),
        max_per_topic: int | None = Query(None, ge=0, description="At most this many items per topic."),
        explore: float | None = Query(
            None, ge=0, le=1, description="Exploration rate: chance a slot goes to a new, little-seen item."
        ),
        freshness: float | None = Query(None, ge=0, description="Score bonus of a brand-new item."),
    ) -> dict[str, Any]:
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
        result = engine.rank(
            user_id,
            n=n,
            exclude_seen=exclude_seen,
            kind=check_kind(kind),
            creator=creator or None,
            model=name,
            options=options,
        )
        return {
            "user_id": user_id,
            "model": name,
            "fallback": result.fallback,
            "folded_in": result.folded_in,
            "items": _recs(result.items),
        }

    @app.get(
        "/items/{item_id}/similar",
        response_model=SimilarOut,
        responses=_errors(404, 422, 503),
        tags=["recommendations"],
    )
    def similar(
        item_id: str,
        n: int = Query(10, ge=1, le=MAX_N),
        model: str | None = Query(
            None, description="Model to serve from (default: the default_model setting)."
        ),
    ) -> dict[str, Any]:
        """Items most like this one, according to the model."""
        name = model_name(model)
        if engine.loaded(name) is None:
            raise HTTPException(503, f"no trained {name!r} model yet: run `mediarec train {name}` first")
        try:
            recs = engine.similar(item_id, n=n, model=name)
        except UnknownItemError:
            if store.get_item(item_id) is None:
                raise HTTPException(404, f"unknown item {item_id!r}") from None
            raise HTTPException(
                404, f"item {item_id!r} was added after the {name!r} model was trained; retrain to include it"
            ) from None
        return {"item_id": item_id, "model": name, "items": _recs(recs)}

    @app.get("/items", response_model=ItemsPage, responses=_errors(422), tags=["catalogue"])
    def list_items(
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0),
        kind: str | None = Query(None, description=f"Only items of this kind: {', '.join(ITEM_KINDS)}."),
        creator: str | None = Query(None, description="Only items by this creator."),
        q: str | None = Query(None, description="Only items whose title contains this text."),
    ) -> dict[str, Any]:
        """The catalogue, a page at a time, in the order items were first stored."""
        filters = {"kind": check_kind(kind), "creator": creator or None, "query": q or None}
        total = store.count_items(**filters)
        page = store.list_items(limit=limit, offset=offset, **filters)
        return {"total": total, "limit": limit, "offset": offset, "items": [i.to_dict() for i in page]}

    @app.get("/items/{item_id}", response_model=ItemOut, responses=_errors(404), tags=["catalogue"])
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
    async def add_items(body: ItemsBody) -> dict[str, Any]:
        """Add or update one item or a list of items, matched by ``id``."""
        posted = body if isinstance(body, list) else [body]
        records = []
        for i, item in enumerate(posted):
            try:
                records.append(item.record())
            except RecordError as exc:
                where = f"item {i} ({item.id!r})" if isinstance(body, list) else f"item {item.id!r}"
                raise HTTPException(422, f"{where}: {exc}") from None
        created = await writer.execute(engine.add_items, records)
        return {"received": len(records), "created": created, "updated": len(records) - created}

    @app.post(
        "/interactions",
        response_model=InteractionsOut,
        dependencies=writes,
        responses=_errors(401, 413, 422),
        tags=["interactions"],
    )
    async def add_interaction(event: InteractionIn) -> dict[str, Any]:
        """Record one event. An event on an item that is not in the catalogue is refused."""
        record = event.record(time.time())
        inserted, rejected = await writer.execute(engine.add_events, [record])
        if rejected:
            raise HTTPException(422, f"{rejected[0][1]}; add the item with POST /items first")
        return {"inserted": inserted, "rejected": []}

    @app.post(
        "/interactions/batch",
        response_model=InteractionsOut,
        dependencies=writes,
        responses=_errors(401, 413, 422),
        tags=["interactions"],
    )
    async def add_interactions(events: list[InteractionIn]) -> dict[str, Any]:
        """Record many events; valid ones are stored and each refused one is reported by position."""
        now = time.time()
        records, positions, rejected = [], [], []
        for i, event in enumerate(events):
            try:
                records.append(event.record(now))
                positions.append(i)
            except RecordError as exc:
                rejected.append((i, str(exc)))
        inserted, refused = await writer.execute(engine.add_events, records) if records else (0, [])
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
    async def delete_user(user_id: str) -> dict[str, Any]:
        """Delete a user's events and remove them from every saved model. Deleting twice is harmless."""
        result = await writer.execute(engine.delete_user, user_id)
        return {"user_id": user_id, **result}

    # -- taste profiles ----------------------------------------------------------------------
    @app.get("/users/{user_id}/profile", response_model=ProfileOut, responses=_errors(404), tags=["users"])
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
    async def edit_profile(user_id: str, body: ProfileEditIn) -> dict[str, Any]:
        """Change the profile: your own text, tags to add or remove. Kept over every regeneration."""
        try:
            found = await writer.execute(
                engine.edit_profile, user_id, body.text, body.add_tags, body.remove_tags
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
    async def regenerate_profile(user_id: str) -> dict[str, Any]:
        """Write a new profile version from the user's history with the LLM; the user's edits stay.
        Takes tens of seconds with a local model on a CPU; other requests are served meanwhile."""
        try:
            # The LLM runs on a worker thread; only the short write goes through the writer.
            draft = await asyncio.to_thread(engine.draft_profile, user_id)
            found = await writer.execute(engine.save_profile, draft)
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
    async def delete_profile(user_id: str) -> dict[str, Any]:
        """Delete the profile only (every version and the edits); events and the user stay."""
        result = await writer.execute(engine.delete_profile, user_id)
        return {"user_id": user_id, **result}

    install_dashboard(app, engine, host or engine.settings.host)
    return app


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
