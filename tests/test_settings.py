from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.settings import load_settings, render_markdown_table, render_reference_toml

REPO = Path(__file__).resolve().parents[1]


def test_precedence_defaults_toml_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mediarec.toml").write_text('default_model = "bpr"\nport = 9000\n')
    monkeypatch.setenv("MEDIAREC_PORT", "9100")
    s = load_settings(tmp_path)
    assert s.default_model == "bpr" and s.port == 9100
    assert load_settings(tmp_path, port=9200).port == 9200
    assert s.resolved_store_url == f"sqlite:///{tmp_path / 'mediarec.db'}"


def test_unknown_and_malformed_settings_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mediarec.toml").write_text("colour = 1\n")
    with pytest.raises(ValueError, match="colour"):
        load_settings(tmp_path)
    (tmp_path / "mediarec.toml").write_text("")
    monkeypatch.setenv("MEDIAREC_PORT", "eighty")
    with pytest.raises(ValueError, match="port"):
        load_settings(tmp_path)


def test_reference_toml_and_docs_are_in_step_with_the_table() -> None:
    shipped = (REPO / "src" / "mediarec" / "reference.toml").read_text()
    assert shipped.strip() == render_reference_toml().strip(), (
        "regenerate reference.toml (see docs/settings.md)"
    )
    docs = (REPO / "docs" / "settings.md").read_text()
    assert render_markdown_table() in docs, "regenerate the table in docs/settings.md"


def test_models_dir_defaults_to_the_homes_models_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDIAREC_MODELS_DIR", raising=False)
    assert load_settings(tmp_path).models_path == tmp_path / "models"
    monkeypatch.setenv("MEDIAREC_MODELS_DIR", str(tmp_path / "shared"))
    s = load_settings(tmp_path)
    assert s.models_path == tmp_path / "shared" and s.model_check_seconds == 1.0


def test_ray_address_and_workers_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDIAREC_RAY_ADDRESS", raising=False)
    monkeypatch.delenv("MEDIAREC_RAY_WORKERS", raising=False)
    s = load_settings(tmp_path)
    assert s.ray_address == "" and s.ray_workers == 0, "no Ray unless asked for"
    monkeypatch.setenv("MEDIAREC_RAY_ADDRESS", "ray://head:10001")
    monkeypatch.setenv("MEDIAREC_RAY_WORKERS", "4")
    s = load_settings(tmp_path)
    assert s.ray_address == "ray://head:10001" and s.ray_workers == 4
