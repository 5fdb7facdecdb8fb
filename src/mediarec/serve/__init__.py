"""The HTTP API (the optional ``serve`` extra: fastapi and uvicorn).

Nothing under :mod:`mediarec` imports this package, so the library works without the extra.
"""

from mediarec.serve.app import create_app

__all__ = ["create_app"]
