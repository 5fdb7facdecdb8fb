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
