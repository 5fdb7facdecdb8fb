"""Tune for a home: item features, the settings' seed and threads, the report and the saved winner.

The one path that ``mediarec tune`` and ``POST /admin/tune`` share, so that a search started from
the command line and one started over HTTP cannot differ in anything but who asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mediarec.eval.tune import REPORT_DIR, Progress, TuneOptions, TuneResult, tune
from mediarec.eval.tune_report import write_tune_report
from mediarec.recommenders.tuned import save_tuned

if TYPE_CHECKING:
    from mediarec.datasets.base import Dataset
    from mediarec.engine import MediaRec

# Models whose options the settings fill in (seed, threads) under every searched configuration.
_SEARCHED = ("hybrid", "als", "ease", "dlae", "itemknn", "itemknn-bm25")


@dataclass
class HomeTune:
    result: TuneResult
    written: list[Path] = field(default_factory=list)
    features_note: str = ""  # why the search ran without item features, when it did


def tune_home(
    engine: MediaRec,
    options: TuneOptions,
    dataset: Dataset | None = None,
    outer_split: str = "",
    save: bool = True,
    progress: Progress | None = None,
    embed_progress: Callable[[int, int], None] | None = None,
) -> HomeTune:
    """Tune on ``dataset`` (a file's data, tested later on ``outer_split``) or, without one, on
    every event in the store; write the report under ``<home>/tune`` and, with ``save``, the
    winner to ``<home>/tuned.json``, which this engine then trains and serves by default."""
    from mediarec.features import dataset_item_features

    data = dataset if dataset is not None else engine.dataset()
    note = ""
    try:
        features, source = dataset_item_features(
            data, engine.settings, store=engine.store if dataset is None else None, progress=embed_progress
        )
    except Exception as exc:  # no kit model, no texts, no stored vectors: the CF models alone
        features, source, note = None, "", str(exc)
    base = {name: engine.model_params(name) for name in _SEARCHED}
    result = tune(
        data, features, outer_split, options, progress=progress, base_params=base, features_source=source
    )
    written = write_tune_report(result, engine.home / REPORT_DIR)
    if save:
        written.append(save_tuned(result.model, result.params, result.dataset, engine.home))
        engine.apply_tuned()
    return HomeTune(result, written, note)


__all__ = ["HomeTune", "TuneOptions", "tune_home"]
