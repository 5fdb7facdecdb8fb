"""What ``mediarec tune`` writes under ``<home>/tune``: tune.md (the table of trials), tune.json (the
whole result) and tune.svg (validation score per trial, drawn without a plotting dependency)."""

from __future__ import annotations

import json
from pathlib import Path

from mediarec.eval.tune import TuneResult, _short


def to_markdown(result: TuneResult) -> str:
    gain = (result.recall / result.default_recall - 1) if result.default_recall > 0 else float("nan")
    lines = [
        f"# Tune: {result.dataset}",
        "",
        f"Validation: {result.validation}. Recall@{result.k} on validation only; "
        "the test fold is never read.",
        f"Seed {result.seed}, budget {result.budget_seconds:.0f} s, {len(result.trials)} trials in "
        f"{result.seconds:.0f} s"
        + (
            " (**budget hit**: later trials not run; the choice may differ on a faster machine)"
            if result.budget_hit
            else ""
        )
        + ".",
    ]
    if result.features:
        lines.append(f"Item features: {result.features}.")
    lines += [
        "",
        f"**Chosen: {result.model}** {_short(result.params)}: validation Recall@{result.k} "
        + (f"(mean of {result.carves} validation carves) " if result.carves > 1 else "")
        + f"{result.recall:.4f} against {result.default_recall:.4f} for the default {result.default_model} "
        f"({gain:+.1%}).",
    ]
    if result.note:
        lines.append(f"Note: {result.note}.")
    if result.cold_recall is not None and result.default_cold_recall is not None:
        lines.append(
            f"Cold validation Recall@{result.k}: {result.cold_recall:.4f} "
            f"(default {result.default_cold_recall:.4f}); the cold knobs (neighbours, temperature, "
            "cold_content_weight) are set on the cold split after the warm search."
        )
    lines += [
        "",
        "| # | rung | users | model | options | Recall | NDCG | cold Recall | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in result.trials:
        cold = f"{t.cold_recall:.4f}" if t.cold_recall is not None else ""
        lines.append(
            f"| {t.number} | {t.rung + 1} | {t.users} | {t.model} | {_short(t.params)} | {t.recall:.4f} | "
            f"{t.ndcg:.4f} | {cold} | {t.seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def to_svg(result: TuneResult, width: int = 640, height: int = 240) -> str:
    """Validation Recall per trial, in trial order, one colour per rung (no plotting dependency)."""
    pad = 36
    values = [t.recall for t in result.trials] or [0.0]
    top = max(values) * 1.05 or 1.0
    n = max(len(values), 1)
    colours = ("#9aa5b1", "#3d7dd8", "#d8463d", "#2e9e57")
    dots = []
    for i, t in enumerate(result.trials):
        x = pad + (width - 2 * pad) * (i + 0.5) / n
        y = height - pad - (height - 2 * pad) * t.recall / top
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colours[t.rung % len(colours)]}">'
            f"<title>#{t.number} {t.model} {_short(t.params)}: {t.recall:.4f}</title></circle>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#444"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#444"/>'
        f'<text x="{pad}" y="{pad - 8}">validation Recall@{result.k} per trial (colour: rung)</text>'
        f'<text x="4" y="{pad + 4}">{top:.3f}</text><text x="4" y="{height - pad}">0</text>'
        f'<text x="{width - pad - 40}" y="{height - 10}">trial →</text>' + "".join(dots) + "</svg>"
    )


def write_tune_report(result: TuneResult, folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = [folder / "tune.md", folder / "tune.json", folder / "tune.svg"]
    out[0].write_text(to_markdown(result))
    out[1].write_text(json.dumps(result.to_json(), indent=2))
    out[2].write_text(to_svg(result))
    return out
