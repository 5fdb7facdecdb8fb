"""Content hashes: the same bytes under any name give the same hash; unusable paths give MediaError."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mediarec.media import MediaError, content_hash
from mediarec.media.hashing import BLOCK_BYTES


def test_hash_is_sha256_of_the_bytes_across_block_boundaries(tmp_path: Path) -> None:
    data = os.urandom(2 * BLOCK_BYTES + 12345)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert content_hash(path) == hashlib.sha256(data).hexdigest()


def test_renaming_keeps_the_hash_and_changing_a_byte_does_not(tmp_path: Path) -> None:
    first = tmp_path / "clip.mp4"
    first.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10)
    renamed = tmp_path / "a new name é.mp4"
    renamed.write_bytes(first.read_bytes())
    assert content_hash(first) == content_hash(renamed)
    changed = bytearray(first.read_bytes())
    changed[-1] ^= 1
    renamed.write_bytes(bytes(changed))
    assert content_hash(first) != content_hash(renamed)


def test_unusable_paths(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="file not found"):
        content_hash(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="a directory"):
        content_hash(tmp_path)
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    with pytest.raises(MediaError, match="symlink loop"):
        content_hash(loop)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        content_hash(empty)
