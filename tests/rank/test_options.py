"""RankOptions and the rank_* settings are one table: same names, same defaults."""

from __future__ import annotations

import dataclasses

import pytest

from mediarec.rank import RankOptions
from mediarec.settings import Settings, load_settings


def test_every_option_has_a_setting_with_the_same_default() -> None:
    settings = Settings()
    for f in dataclasses.fields(RankOptions):
        key = "seed" if f.name == "seed" else f"rank_{f.name}"
        assert getattr(settings, key) == f.default, key
    assert RankOptions.from_settings(settings) == RankOptions()


def test_settings_reach_the_options(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAREC_RANK_MMR_LAMBDA", "0.4")
    monkeypatch.setenv("MEDIAREC_RANK_MAX_PER_CREATOR", "2")
    options = RankOptions.from_settings(load_settings(str(tmp_path)))
    assert options.mmr_lambda == 0.4 and options.max_per_creator == 2
    assert options.with_overrides(mmr_lambda=None, explore_epsilon=0.2).mmr_lambda == 0.4


@pytest.mark.parametrize("bad", [{"mmr_lambda": 1.5}, {"explore_epsilon": -0.1}, {"max_per_topic": -1}])
def test_out_of_range_options_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RankOptions(**bad)  # type: ignore[arg-type]
