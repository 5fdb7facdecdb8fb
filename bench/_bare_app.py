"""The limit of Python HTTP here: a bare Starlette app returning precomputed answers, nothing else.

``GET /users/{id}/recommendations`` returns the body stored for the user in the JSON file that
``BARE_LISTS`` names (user id -> answer, made by bench_serve.py from mediarec's own answers, so the
bytes on the wire are the same size); 404 for anyone else. Served by uvicorn with several workers,
and by granian (``bare-granian``) as the limit for mediarec under granian.
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

with open(os.environ["BARE_LISTS"], encoding="utf-8") as f:
    BODIES = {user: json.dumps(body).encode() for user, body in json.load(f).items()}


async def recommendations(request: Request) -> Response:
    body = BODIES.get(request.path_params["user"])
    if body is None:
        return Response(b'{"error": "unknown user"}', status_code=404, media_type="application/json")
    return Response(body, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"status": "ok"}', media_type="application/json")


app = Starlette(routes=[Route("/users/{user}/recommendations", recommendations), Route("/health", health)])


def factory() -> Starlette:
    """The same app through a factory, for granian's runner (serve/granian_run.py)."""
    return app
