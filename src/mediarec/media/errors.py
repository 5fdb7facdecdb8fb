"""The one exception media functions raise for a file they cannot use, and the missing-extra error."""

from __future__ import annotations

import os

EXTRA_HINT = "install the extra: pip install 'mediarec[media]'"


class MediaError(ValueError):
    """A file that cannot be used as media. ``reason`` is a sentence meant for the person who owns it."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{show_path(self.path)}: {reason}")


class MissingExtraError(ImportError):
    """A media dependency (PyAV, PySceneDetect, Pillow) is not installed."""


def missing_extra(package: str, exc: ImportError) -> MissingExtraError:
    return MissingExtraError(f"{package} is needed to read media but is not installed ({exc}); {EXTRA_HINT}")


def show_path(path: str) -> str:
    # Names with newlines or control characters would break a one-line message; repr() keeps them visible.
    return path if path.isprintable() else repr(path)
