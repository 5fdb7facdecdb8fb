"""Where the write key comes from, and that importing the library never needs the serve extra."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediarec.engine import MediaRec
from mediarec.serve import create_app
from mediarec.serve.auth import keys_match, load_or_create_key, resolve_api_key
from mediarec.settings import load_settings


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIAREC_API_KEY", raising=False)


def test_generated_key_is_private_and_reused_on_restart(home: Path) -> None:
    with MediaRec(home) as engine:
        first = create_app(engine)
    path = home / "api_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text().strip() == first.state.api_key
    assert len(first.state.api_key) >= 32
    assert str(path) in first.state.api_key_hint
    assert first.state.api_key not in first.state.api_key_hint  # the hint says where, not what
    with MediaRec(home) as engine:
        second = create_app(engine)
    assert second.state.api_key == first.state.api_key
    assert [p.name for p in home.iterdir() if "api_key" in p.name] == ["api_key"]  # no temp files left


def test_setting_wins_and_writes_no_file(home: Path) -> None:
    settings = load_settings(home, api_key="from-settings")
    key, hint = resolve_api_key(settings)
    assert key == "from-settings" and "api_key setting" in hint
    assert not (home / "api_key").exists()


def test_environment_key_is_used(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAREC_API_KEY", "env-key")
    with MediaRec(home) as engine:
        assert create_app(engine).state.api_key == "env-key"


def test_empty_key_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "api_key"
    path.write_text("\n")
    key = load_or_create_key(path)
    assert key and path.read_text().strip() == key
    assert path.stat().st_mode & 0o777 == 0o600


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "api_key"
    path.write_text("kept-key\n")
    os.chmod(path, 0o644)
    assert load_or_create_key(path) == "kept-key"
    assert path.stat().st_mode & 0o777 == 0o600


def test_keys_match() -> None:
    assert keys_match("abc", "abc")
    assert not keys_match("abd", "abc")
    assert not keys_match(None, "abc")
    assert not keys_match("", "abc")
    assert not keys_match("äbc", "abc")  # non-ASCII input is compared, not a crash


def test_library_imports_without_the_serve_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['fastapi'] = None\n"
        "sys.modules['uvicorn'] = None\n"
        "sys.modules['starlette'] = None\n"
        "import mediarec, mediarec.engine, mediarec.cli, mediarec.store.writer\n"
        "try:\n"
        "    import mediarec.serve\n"
        "except ImportError:\n"
        "    print('serve needs the extra')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "serve needs the extra"
