"""Evaluation reports as Markdown, JSON and (with the ``plots`` extra) a bar chart."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mediarec.eval.runner import Report

# (metric key, column header; "{k}" is replaced by the report's cut-off)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("recall", "Recall@{k}"),
    ("ndcg", "NDCG@{k}"),
    ("map", "MAP@{k}"),
    ("hit_rate", "HitRate@{k}"),
    ("mrr", "MRR@{k}"),
    ("coverage", "coverage"),
    ("novelty", "novelty"),
    ("ild", "ILD"),
)
PLOT_MISSING = (
    "Plot skipped: matplotlib is not installed (install the `plots` extra: `pip install mediarec[plots]`)."
)


def to_markdown(report: Report, notes: Sequence[str] = (), heading: str = "#") -> str:
    """A header paragraph (dataset, split, counts), the results table, then any ``notes``."""
    r = report
    ranked = (
        f"full ranking over {r.n_items:,} items with seen items filtered"
        if not r.n_candidates or r.n_candidates == r.n_items
        else f"ranking only the {r.n_candidates:,} held-out items (of {r.n_items:,})"
    )
    lines = [
        f"{heading} Evaluation: {r.dataset}" + ("" if heading == "#" else f", {r.split}"),
        "",
        f"Split **{r.split}**: {r.split_description}. Cut-off K = {r.k}, seed {r.seed}. "
        f"{r.n_train:,} train events from {r.n_train_users:,} users, {r.n_test:,} test events; "
        f"{r.n_users_evaluated:,} users evaluated on {r.n_test_pairs:,} test user-item pairs, "
        f"{ranked}. "
        f"Cold users skipped (test events but no training data): {r.cold_users_skipped:,} "
        f"({r.cold_events_skipped:,} events); test pairs already seen in training (unreachable, "
        f"dropped): {r.test_pairs_seen_in_train:,}.",
        "",
    ]
    headers = ["model", *(h.format(k=r.k) for _, h in COLUMNS), "fit s", "rec s"]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join(["---", *["---:"] * (len(headers) - 1)]) + "|")
    for row in r.rows:
        label = f"{row.model} (ties)" if row.tied_scores else row.model
        cells = [label, *(_number(row.metrics.get(key)) for key, _ in COLUMNS)]
        cells += [f"{row.fit_seconds:.2f}", f"{row.recommend_seconds:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Coverage: share of the ranked items recommended to anyone. Novelty: mean -log2 of an "
        "item's smoothed share of training users. ILD: mean pairwise 1 - cosine within a list, in "
        f"{r.ild_space}." + (f" Item features: {r.features}." if r.features else ""),
    ]
    lines += [f"\n**Warning:** {w}" for w in r.warnings]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    """The whole report as JSON; NaN metrics (nobody to average over) become null."""
    return json.dumps(_finite(dataclasses.asdict(report)), indent=2, sort_keys=False)


def write_report(report: Report, folder: str | Path, extra: Sequence[Report] = ()) -> list[Path]:
    """Write ``report.md``, ``report.json`` and, when matplotlib is importable, ``report.png``
    into ``folder`` (created if needed). Returns the paths written.

    ``extra`` reports (e.g. the cold-item protocol of the same run) follow as sections of
    ``report.md``, panels of ``report.png`` and files ``report-<split>.json``; ``report.json``
    stays the main report alone, the format readers of single runs expect."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    notes: list[str] = []
    png = out / "report.png"
    if _plot([report, *extra], png):
        notes.append("![Recall and NDCG per model](report.png)")
    else:
        notes.append(PLOT_MISSING)
    md = out / "report.md"
    md.write_text("\n".join([to_markdown(report, notes), *(to_markdown(r, heading="##") for r in extra)]))
    js = out / "report.json"
    js.write_text(to_json(report))
    written += [md, js]
    for r in extra:
        path = out / f"report-{r.split}.json"
        path.write_text(to_json(r))
        written.append(path)
    if png.exists():
        written.append(png)
    return written


def _plot(reports: Sequence[Report], path: Path) -> bool:
    """Grouped bars of Recall@K and NDCG@K per model, one panel per report; False when
    matplotlib is unavailable."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on servers and CI; must precede pyplot
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    width = 0.4
    widest = max(len(r.rows) for r in reports)
    fig, axes = plt.subplots(
        1, len(reports), figsize=(len(reports) * max(4.0, 1.2 * widest + 2), 4), squeeze=False
    )
    try:
        for ax, report in zip(axes[0], reports, strict=True):
            names = [row.model for row in report.rows]
            x = list(range(len(names)))
            for offset, key, label in ((-width / 2, "recall", "Recall"), (width / 2, "ndcg", "NDCG")):
                values = [_zero_nan(row.metrics.get(key)) for row in report.rows]
                ax.bar([i + offset for i in x], values, width, label=f"{label}@{report.k}")
            ax.set_xticks(x)
            ax.set_xticklabels(names, rotation=20, ha="right")
            ax.set_ylabel("score")
            ax.set_title(f"{report.dataset}: {report.split} split")
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return True


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def _zero_nan(value: float | None) -> float:
    return 0.0 if value is None or math.isnan(value) else float(value)


def _finite(obj: Any) -> Any:
    """JSON has no NaN or infinity; strict parsers reject Python's extension, so use null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
