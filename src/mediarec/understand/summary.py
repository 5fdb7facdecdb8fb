"""Readable text for ``mediarec show``: what each stage found, in a few lines per stage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mediarec.llm.evidence import EvidenceOptions
from mediarec.store import StoredItem

_FLOORS = EvidenceOptions()  # the scores below which a label is not evidence


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, float(seconds)), 60)
    return f"{int(m)}:{s:04.1f}"


def _tags(rows: list[dict[str, Any]], floor: float, n: int = 5) -> str:
    """The confident labels only: below the floor the LLM does not use them as evidence either, and
    shown they read as facts ("solar dish (0.40)" on a kitchen). ``--json`` keeps every score."""
    sure = [r for r in rows if float(r.get("score", 0.0)) >= floor][:n]
    if sure:
        return ", ".join(f"{r['name']} ({r['score']:.2f})" for r in sure)
    return f"none confident (of {len(rows)}, none scored {floor:.2f} or more)" if rows else "none"


def describe(item: StoredItem | None, stages: dict[str, dict[str, Any]]) -> Iterator[str]:
    if item is not None:
        duration = f", {_clock(item.duration)}" if item.duration else ""
        yield f"{item.title} [{item.external_id}] — {item.kind}{duration}, by {item.creator or 'unknown'}"
        if item.uri:
            yield f"  file: {item.uri}"
    if not stages:
        yield "  nothing understood yet: run `mediarec ingest FILE` on its file"
        return
    for stage, found in stages.items():
        p = found["payload"]
        version = str(found["version"]).split(" <- ")[0]  # its own model; the inputs' are in --json
        if stage == "shots":
            shots = p.get("shots", [])
            yield f"  shots ({len(shots)}, {version}):"
            for s in shots[:8]:
                span = f"{_clock(s['start'])}–{_clock(s['end'])}"
                yield f"    #{s['index']} {span}  keyframe {s.get('keyframe_path')}"
            if len(shots) > 8:
                yield f"    ... {len(shots) - 8} more"
        elif stage == "speech":
            if not p.get("is_speech", True):
                yield f"  speech: none ({p.get('reason') or 'no speech detected'})"
                continue
            segs = p.get("segments", [])
            yield f"  transcript ({p.get('language')}, {len(segs)} segments):"
            for seg in segs[:4]:
                yield f"    [{_clock(seg['start'])}] {seg['text'].strip()}"
            if len(segs) > 4:
                yield f"    ... {len(segs) - 4} more"
        elif stage == "vision":
            yield f"  visual tags: {_tags(p.get('labels', []), _FLOORS.min_label_score)}"
        elif stage == "ocr":
            lines = [ln["text"] for ln in p.get("lines", [])]
            shown = " | ".join(dict.fromkeys(lines))[:200]
            yield f"  on-screen text: {shown or 'none'}"
        elif stage == "audio":
            yield f"  audio tags: {_tags(p.get('tags', []), _FLOORS.min_audio_score)}"
        elif stage in ("text", "fused"):
            yield f"  {stage} vector: {found['dim']} dims ({version})"
        elif stage == "llm" and "description" in p:
            yield f"  LLM ({p.get('model', version.split('|')[0])}): {p['description']}"
            yield f"    topics: {', '.join(p.get('topics', []))}; language: {p.get('language')}"
            for t in p.get("tags", []):
                cited = "; ".join(
                    f"{e['id']}"
                    + (f" @{_clock(e['start'])}" if e.get("start") is not None else "")
                    + f' "{e["text"][:50]}"'
                    for e in t.get("evidence", [])[:2]
                )
                yield f"    tag {t['tag']}: {cited}"
            for m in p.get("moments", []):
                yield f"    moment [{_clock(m['start'])}–{_clock(m['end'])}] {m['label']}"
