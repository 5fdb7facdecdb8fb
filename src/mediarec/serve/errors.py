"""Every failure leaves the server as ``{"error": "<message>", "status": <code>}``.

Clients get a sentence they can act on and never a stack trace; the trace goes to the server log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediarec.engine import UnknownItemError
from mediarec.records import RecordError
from mediarec.store.writer import WriterStopped, WriteTimeout

log = logging.getLogger("mediarec.serve")

MAX_BODY_BYTES = 10 * 1024 * 1024
_MAX_LISTED = 10  # validation problems spelled out before "and N more"


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "status": status}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _where(loc: Sequence[Any]) -> str:
    if not loc:
        return "request"
    source, rest = str(loc[0]), list(loc[1:])
    if source == "body":
        path = "body"
        for part in rest:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        return path
    name = ".".join(str(p) for p in rest)
    return f"{source} parameter {name!r}" if source in {"query", "path", "header", "cookie"} else name


def describe_validation(errors: Sequence[Any]) -> str:
    """Pydantic's error list as one readable line, e.g. ``query parameter 'n': Input should be ...``."""
    parts = []
    for err in errors:
        if err.get("type") == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "")
            pos = err["loc"][1] if len(err.get("loc", ())) > 1 else "?"
            parts.append(f"request body is not valid JSON: {detail} (at character {pos})")
            continue
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{_where(err.get('loc', ()))}: {msg}")
    if len(parts) > _MAX_LISTED:
        parts = [*parts[:_MAX_LISTED], f"and {len(parts) - _MAX_LISTED} more"]
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        message = str(exc.detail)
        if exc.status_code == 405:
            # Starlette's Allow names only the first route on the path; GET and POST /items are two.
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        return error_response(exc.status_code, message, headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, describe_validation(exc.errors()))

    @app.exception_handler(RecordError)
    async def record_error(request: Request, exc: RecordError) -> JSONResponse:
        return error_response(422, str(exc))

    @app.exception_handler(UnknownItemError)
    async def unknown_item(request: Request, exc: UnknownItemError) -> JSONResponse:
        return error_response(404, str(exc))

    @app.exception_handler(WriterStopped)
    async def writer_stopped(request: Request, exc: WriterStopped) -> JSONResponse:
        return error_response(503, "the server is shutting down and takes no more writes; retry shortly")

    @app.exception_handler(WriteTimeout)
    async def write_timeout(request: Request, exc: WriteTimeout) -> JSONResponse:
        return error_response(
            503, f"the server is busy with other writes: {exc}; retry", headers={"Retry-After": "5"}
        )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


class CatchAll:
    """Turns an unexpected exception into a 500 JSON answer and logs the trace.

    Done here rather than with ``exception_handler(Exception)``: Starlette re-raises after such a
    handler, and uvicorn then drops the keep-alive connection, so a client's next request fails.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise  # too late for a clean answer; let the server close the connection
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await send_json(send, 500, "internal server error; the details are in the server log")


async def send_json(send: Send, status: int, message: str) -> None:
    body = json.dumps(error_body(status, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, whether declared or streamed in chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_json(send, 413, self._message())
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPExceptions met while reading the body, so the normal
                    # handler answers 413 instead of a generic parse error.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes; send smaller batches"
