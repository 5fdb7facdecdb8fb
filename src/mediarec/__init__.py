"""mediarec: a self-hosted recommendation engine for audio and video catalogues.

Heavy parts load lazily: ``import mediarec`` costs only NumPy and SciPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mediarec.engine import MediaRec, Reason, Recommendation
    from mediarec.settings import Settings, load_settings

__all__ = ["MediaRec", "Reason", "Recommendation", "Settings", "__version__", "load_settings"]


def __getattr__(name: str) -> Any:
    if name in ("MediaRec", "Reason", "Recommendation"):
        from mediarec import engine

        return getattr(engine, name)
    if name in ("Settings", "load_settings"):
        from mediarec import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'mediarec' has no attribute {name!r}")
