"""The write key: the ``api_key`` setting, or one random key made once and kept in the data home."""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import uuid
from pathlib import Path

from mediarec.settings import Settings

KEY_FILE = "api_key"


def resolve_api_key(settings: Settings) -> tuple[str, str]:
    """The key writes must present, and a hint saying where an operator finds it."""
    if settings.api_key:
        return settings.api_key, "the api_key setting (MEDIAREC_API_KEY or mediarec.toml)"
    path = settings.home_path / KEY_FILE
    return load_or_create_key(path), f"the file {path}"


def load_or_create_key(path: Path) -> str:
    existing = _read(path)
    if existing:
        return existing
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target with 0600 from the first byte, then renamed into place: the key is
    # never readable by others, and a crash never leaves a half-written key file.
    tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _read(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return ""
    if key and stat.S_IMODE(path.stat().st_mode) & 0o077:
        # Someone loosened the permissions; a secret should not stay group/world-readable.
        os.chmod(path, 0o600)
    return key


def keys_match(given: str | None, expected: str) -> bool:
    if not given:
        return False
    # Constant-time comparison so response timing does not leak how much of a guess was right.
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
