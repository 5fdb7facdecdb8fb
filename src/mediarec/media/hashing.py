"""Content hashes: items are registered by what their file holds, so a renamed or moved file is the
same item and a re-encoded one is a new one."""

from __future__ import annotations

import hashlib
import os

from mediarec.media._open import check_file
from mediarec.media.errors import MediaError

BLOCK_BYTES = 1 << 20  # 1 MiB: large enough that the per-read overhead vanishes, small enough to not matter


def content_hash(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of the file's bytes as 64 lowercase hex digits, read in 1 MiB blocks."""
    checked = check_file(path)
    digest = hashlib.sha256()
    buffer = bytearray(BLOCK_BYTES)
    view = memoryview(buffer)
    try:
        with open(checked.path, "rb", buffering=0) as fh:
            while n := fh.readinto(buffer):
                digest.update(view[:n])
    except OSError as exc:
        raise MediaError(checked.path, f"cannot read the file: {exc.strerror or exc}") from None
    return digest.hexdigest()
