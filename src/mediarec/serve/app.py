"""The HTTP API: a thin shell over :class:`mediarec.engine.MediaRec`.

Reads are plain ``def`` endpoints, so FastAPI runs them in its threadpool and each worker thread
uses its own SQLite connection. Writes are ``async`` and go through one :class:`Writer` thread,
so SQLite only ever sees a single writer and the event loop never blocks on a lock. A write whose
client disconnects, or that waits in the queue past ``write_timeout``, is dropped before it runs.

The routes live in one module per resource (``api_recommend``, ``api_catalogue``, ``api_users``,
``admin_tune``, ``api_docs``, the dashboard); this one builds the app, its middleware and the key
checks they all share.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from mediarec import __version__ as _version
from mediarec import recommenders
from mediarec.engine import MediaRec
from mediarec.recommenders import repository
from mediarec.serve.admin_tune import install_tune
from mediarec.serve.api_catalogue import install_catalogue
from mediarec.serve.api_common import (
    ASK_PARAM,
    CACHE_HEADER,
    MAX_FRESHNESS,
    MAX_N,
    MAX_OFFSET,
    MAX_PAGE,
    KindParam,
    ModelParam,
    RouteContext,
    error_responses,
    steer,
)
from mediarec.serve.api_docs import DOCS_ASSETS, DOCS_CSP, install_docs
from mediarec.serve.api_recommend import install_recommendations
from mediarec.serve.api_users import REFILL_USERS, install_users
from mediarec.serve.auth import AttemptLimiter, keys_match, resolve_api_key
from mediarec.serve.dashboard import install_dashboard
from mediarec.serve.dashboard_auth import is_loopback
from mediarec.serve.errors import MAX_BODY_BYTES, BodyLimit, CatchAll, install_error_handlers
from mediarec.serve.hits import HitPath
from mediarec.serve.models import HealthOut
from mediarec.store.writer import Writer

# create_app, and the names that moved to the route modules, importable from here as before.
__all__ = [
    "ASK_PARAM",
    "CACHE_HEADER",
    "DOCS_ASSETS",
    "DOCS_CSP",
    "MAX_FRESHNESS",
    "MAX_N",
    "MAX_OFFSET",
    "MAX_PAGE",
    "NO_TELEMETRY",
    "REFILL_USERS",
    "WRITE_TIMEOUT",
    "KindParam",
    "ModelParam",
    "create_app",
    "install_docs",
    "steer",
]

WRITE_TIMEOUT = 30.0  # seconds a write may wait for the writer before it is dropped unmade

_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Needed for every write, and for reads when the server listens beyond loopback or the "
    "read_key setting is set (the read key or the write key). The server prints where to find it.",
)

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

    writes = [Depends(require_key)]
    reads = [Depends(require_read)]
    api = RouteContext(engine, writer, write_timeout, reads, writes)

    # Registered in this order, so /openapi.json lists the paths as it always has.
    @app.get(
        "/health",
        response_model=HealthOut,
        dependencies=reads,
        responses=error_responses(401),
        tags=["status"],
    )
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

    install_recommendations(app, api)
    install_catalogue(app, api)
    install_users(app, api)
    install_tune(app, engine, writes)
    install_docs(app)
    install_dashboard(app, engine, listen_host)
    return app
