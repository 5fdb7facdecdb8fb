"""A tiny ASGI app answering with its process id: which worker took a connection (test_workers.py)."""

from __future__ import annotations

import os
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = str(os.getpid()).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


def factory() -> Any:
    """The app through a factory, as ``mediarec serve`` hands its app to granian (serve/granian_run.py)."""
    return app
