"""File paths as the store keeps them, and back: the one place that knows the stored form.

A data home must keep working when it is copied or moved and when commands run from another folder, so
paths are never stored relative to the working directory of whoever wrote them:

* a file inside the home is stored relative to the home, in POSIX form (``media/3f2a.../shot_0000.jpg``);
* any other local file is stored as an absolute path;
* a name that is not valid UTF-8 (legal on Linux, e.g. ``bad\\xffbyte.mp4``) cannot be stored as text, so
  it is stored as an absolute ``file://`` URL whose bytes are percent-encoded, which round-trips exactly.

:func:`real_path` reads all three (plus ``file://`` URLs written by hand) and refuses remote URLs.
:func:`display_path` is the form for messages, logs and error records: always valid text.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote_to_bytes, urlsplit

FILE_URL = "file://"


def _absolute(path: str | os.PathLike[str]) -> Path:
    # abspath, not resolve: a symlinked file keeps the name it was given (its target may move on).
    return Path(os.path.abspath(os.fspath(path)))


def _is_text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 (os.fsdecode's escapes)
        return False
    return True


def _inside(path: Path, home: Path) -> PurePosixPath | None:
    """``path`` relative to ``home`` when it lies inside it (also through a symlinked home), else None."""
    for a, b in ((path, home), (path.parent.resolve() / path.name, home.resolve())):
        if a.is_relative_to(b):
            return PurePosixPath(*a.relative_to(b).parts)
    return None


def stored_path(path: str | os.PathLike[str], home: str | os.PathLike[str]) -> str:
    """The text the store keeps for local file ``path`` of data home ``home`` (see the module docstring)."""
    absolute = _absolute(path)
    if not _is_text(str(absolute)):
        return FILE_URL + quote(os.fsencode(absolute), safe="/")
    inner = _inside(absolute, _absolute(home))
    if inner is not None and inner.parts and ".." not in inner.parts:
        return str(inner)
    return str(absolute)


def real_path(stored: str | None, home: str | os.PathLike[str]) -> Path | None:
    """The local file that ``stored`` names for data home ``home``; None for no path or a remote URL."""
    if not stored:
        return None
    if stored.startswith(FILE_URL):
        parts = urlsplit(stored)
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(os.fsdecode(unquote_to_bytes(parts.path)))
    if "://" in stored:
        return None
    p = Path(stored)
    return p if p.is_absolute() else _absolute(home) / p


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as storable text: bytes that are not UTF-8 show as ``\\xff``."""
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate no file system name can hold (from a manifest, say)
        return os.fspath(path).encode("utf-8", "backslashreplace").decode("utf-8")


def display_name(path: str | os.PathLike[str]) -> str:
    """The file name without its suffix, as text (a default title): bad bytes become U+FFFD."""
    stem = Path(path).stem
    try:
        return os.fsencode(stem).decode("utf-8", "replace")
    except UnicodeEncodeError:
        return stem.encode("utf-8", "replace").decode("utf-8")
