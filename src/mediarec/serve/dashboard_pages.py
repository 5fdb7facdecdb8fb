"""What each dashboard page shows, as plain dicts for the templates.

Nothing here builds HTML: the templates do, with autoescaping on, so text that came from media or
users (titles, transcripts, comments, LLM output) can only ever render as text.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from mediarec.engine import MediaRec, Recommendation, UnknownItemError
from mediarec.serve import dashboard_queries as q
from mediarec.store import StoredItem

PAGE_SIZE = 48
MAX_CARD_TAGS = 4
# The content fallback for "similar items" compares fused vectors in memory; beyond this many it
# would cost more than a page view should, and a trained model is the answer there anyway.
CONTENT_SIMILAR_MAX = 2000


def clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return []


def _llm_tag_names(tags: Any) -> list[str]:
    names = []
    for t in tags if isinstance(tags, list) else []:
        name = t.get("tag") if isinstance(t, dict) else t
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def card_tags(item: StoredItem, llm_tags: Any) -> list[str]:
    """The few tags a catalogue card shows: the item's own, then genres, then the LLM's."""
    seen: dict[str, str] = {}
    for tag in [*_strings(item.metadata.get("tags")), *_strings(item.metadata.get("genres"))]:
        seen.setdefault(tag.lower(), tag)
    for tag in _llm_tag_names(llm_tags):
        seen.setdefault(tag.lower(), tag)
    return list(seen.values())[:MAX_CARD_TAGS]


# -- catalogue -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogueQuery:
    q: str = ""
    tag: str = ""
    kind: str = ""
    creator: str = ""
    page: int = 1

    def filters(self) -> dict[str, str | None]:
        return {
            "query": self.q or None,
            "tag": self.tag or None,
            "kind": self.kind or None,
            "creator": self.creator or None,
        }

    def link(self, page: int) -> str:
        from urllib.parse import urlencode

        params = {
            k: v
            for k, v in (("q", self.q), ("tag", self.tag), ("kind", self.kind), ("creator", self.creator))
            if v
        }
        if page > 1:
            params["page"] = str(page)
        return "/" + (f"?{urlencode(params)}" if params else "")


def catalogue(engine: MediaRec, query: CatalogueQuery) -> dict[str, Any]:
    store = engine.store
    filters = query.filters()
    total = store.count_items(**filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, query.page), pages)
    items = store.list_items(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)
    ids = [i.external_id for i in items]
    keyframes = q.feature_values(store, ids, "shots", "$.shots[0].keyframe_path")
    llm_tags = q.feature_values(store, ids, "llm", "$.tags")
    cards = [
        {
            "id": i.external_id,
            "title": i.title or i.external_id,
            "kind": i.kind,
            "duration": clock(i.duration),
            "creator": i.creator or "",
            "tags": card_tags(i, llm_tags.get(i.external_id)),
            "thumb": bool(keyframes.get(i.external_id)),
        }
        for i in items
    ]
    return {
        "query": query,
        "cards": cards,
        "total": total,
        "page": page,
        "pages": pages,
        "prev": query.link(page - 1) if page > 1 else None,
        "next": query.link(page + 1) if page < pages else None,
        "tags": q.cached(store, "tag_counts", lambda: q.tag_counts(store)),
        "creators": q.cached(store, "creators", lambda: q.creators(store)),
    }


# -- item ------------------------------------------------------------------------------------
def _payload(stages: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    found = stages.get(name, {}).get("payload")
    return found if isinstance(found, dict) else {}


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _evidence(rows: Any) -> list[dict[str, Any]]:
    out = []
    for ev in rows if isinstance(rows, list) else []:
        if isinstance(ev, dict):
            start = _number(ev.get("start"))
            out.append(
                {
                    "kind": str(ev.get("kind") or ""),
                    "text": str(ev.get("text") or ""),
                    "start": start,
                    "clock": clock(start),
                }
            )
    return out


def item_page(engine: MediaRec, item_id: str, start_at: float | None) -> dict[str, Any] | None:
    item = engine.store.get_item(item_id)
    if item is None:
        return None
    stages = engine.understanding(item_id)
    shots = [
        {
            "index": i,
            "start": _number(s.get("start")) or 0.0,
            "clock": clock(_number(s.get("start"))),
            "end": clock(_number(s.get("end"))),
            "keyframe": bool(s.get("keyframe_path")),
        }
        for i, s in enumerate(_payload(stages, "shots").get("shots") or [])
        if isinstance(s, dict)
    ]
    speech = _payload(stages, "speech")
    transcript = [
        {
            "start": _number(seg.get("start")) or 0.0,
            "clock": clock(_number(seg.get("start"))),
            "text": str(seg.get("text") or "").strip(),
        }
        for seg in speech.get("segments") or []
        if isinstance(seg, dict)
    ]
    llm = _payload(stages, "llm")
    tags = [
        {"tag": str(t.get("tag")), "evidence": _evidence(t.get("evidence"))}
        for t in llm.get("tags") or []
        if isinstance(t, dict) and t.get("tag")
    ]
    moments = [
        {
            "start": _number(m.get("start")) or 0.0,
            "clock": clock(_number(m.get("start"))),
            "end": clock(_number(m.get("end"))),
            "label": str(m.get("label") or ""),
        }
        for m in llm.get("moments") or []
        if isinstance(m, dict)
    ]
    ocr_lines = list(
        dict.fromkeys(
            str(ln.get("text"))
            for ln in _payload(stages, "ocr").get("lines") or []
            if isinstance(ln, dict) and ln.get("text")
        )
    )
    detected = {
        "visual": _labels(_payload(stages, "vision").get("labels")),
        "audio": _labels(_payload(stages, "audio").get("tags")),
        "on-screen text": ocr_lines[:12],
    }
    has_file = media_file(engine, item) is not None
    return {
        "item": item,
        "duration": clock(item.duration),
        "description": str(llm.get("description") or item.metadata.get("description") or ""),
        "own_tags": [*_strings(item.metadata.get("tags")), *_strings(item.metadata.get("genres"))],
        "topics": _strings(llm.get("topics")),
        "has_file": has_file,
        "start_at": start_at if start_at is not None and start_at >= 0 else None,
        "shots": shots,
        "speech": {
            "present": bool(speech),
            "is_speech": bool(speech.get("is_speech", True)),
            "reason": str(speech.get("reason") or ""),
            "language": str(speech.get("language") or ""),
        },
        "transcript": transcript,
        "tags": tags,
        "moments": moments,
        "detected": {k: v for k, v in detected.items() if v},
        "stages": sorted(stages),
        "similar": similar(engine, item_id),
    }


def _labels(rows: Any, n: int = 6) -> list[str]:
    out = []
    for r in (rows if isinstance(rows, list) else [])[:n]:
        if isinstance(r, dict) and r.get("name"):
            score = _number(r.get("score"))
            out.append(f"{r['name']} ({score:.2f})" if score is not None else str(r["name"]))
    return out


def similar(engine: MediaRec, item_id: str, n: int = 8) -> dict[str, Any]:
    """Items like this one: the trained model's answer, else the nearest fused content vectors."""
    try:
        if engine.loaded() is not None:
            recs = engine.similar(item_id, n=n)
            return {"source": f"the {engine.settings.default_model} model", "items": _rec_rows(recs)}
    except (UnknownItemError, ValueError):
        pass  # the item arrived after training: content can still answer
    rows = _content_similar(engine, item_id, n)
    if rows is None:
        return {"source": "", "items": []}
    return {"source": "content (fused vectors)", "items": rows}


def _content_similar(engine: MediaRec, item_id: str, n: int) -> list[dict[str, Any]] | None:
    vectors = q.fused_vectors(engine.store, CONTENT_SIMILAR_MAX)
    if vectors is None or item_id not in vectors:
        return None
    target = vectors[item_id]
    scored = []
    for other, vec in vectors.items():
        if other == item_id or vec.shape != target.shape:
            continue
        denom = float(np.linalg.norm(vec) * np.linalg.norm(target)) or 1.0
        scored.append((float(vec @ target) / denom, other))
    scored.sort(reverse=True)
    found = engine.store.items_by_external_ids([o for _, o in scored[:n]])
    return [
        {"id": o, "title": (found[o].title if o in found else "") or o, "score": f"{s:.3f}", "reasons": []}
        for s, o in scored[:n]
    ]


def _rec_rows(recs: list[Recommendation]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.item_id,
            "title": r.title,
            "kind": r.kind or "",
            "creator": r.creator or "",
            "score": f"{r.score:.3f}",
            "reasons": [_reason(r.item_id, x.kind, x.text, x.evidence) for x in r.reasons],
        }
        for r in recs
    ]


def _reason(item_id: str, kind: str, text: str, evidence: dict[str, Any]) -> dict[str, Any]:
    """A reason with the links its evidence supports: a moment plays from its start, the item a
    "because you watched" names opens, a tag's evidence lines seek into the recommended item."""
    start = _at(evidence.get("start"))
    anchor = evidence.get("item_id")
    page = f"/ui/items/{quote(item_id, safe='')}"
    play = {"href": f"{page}?t={start:g}", "clock": clock(start)} if start is not None else None
    lines = _evidence(evidence.get("item_evidence") or evidence.get("evidence"))[:3]
    for ev in lines:
        ev["href"] = f"{page}?t={ev['start']:g}" if _at(ev["start"]) is not None else None
    sources = [
        {"id": str(ref["item_id"]), "title": str(ref.get("title") or ref["item_id"])}
        for ref in evidence.get("from_items") or []
        if isinstance(ref, dict) and ref.get("item_id")
    ]
    return {
        "kind": kind,
        "text": text,
        "play": play,
        "link": f"/ui/items/{quote(str(anchor), safe='')}" if anchor and str(anchor) != item_id else None,
        "sources": sources,
        "evidence": [ev for ev in lines if ev["text"]],
    }


def _at(value: Any) -> float | None:
    """A time in the media a link may start at: a finite number of seconds, not negative. A reason
    without one links nowhere (true, or silent)."""
    found = _number(value)
    return found if found is not None and found >= 0 else None


# Media types that Python's table lacks or spells differently from what browsers play.
_EXTRA_TYPES = {
    ".opus": "audio/ogg",
    ".mka": "audio/x-matroska",
    ".mkv": "video/x-matroska",
    ".m4a": "audio/mp4",
}


def media_type(path: Path) -> str | None:
    """The file's audio/video type by its name, or None for anything else."""
    import mimetypes

    found = _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    return found if found and found.split("/")[0] in ("audio", "video") else None


def media_file(engine: MediaRec, item: StoredItem) -> Path | None:
    """The item's own media file, and only that: the local path in its ``uri``, when it exists and
    is named as audio or video. A ``uri`` is writable through the API, so without the second check
    an item pointing at, say, the API key file would turn the player into a file reader. A relative
    ``uri`` is relative to the home (:mod:`mediarec.media.paths`), whatever the server's working folder."""
    from mediarec.media.paths import real_path

    path = real_path(item.uri, engine.home)
    ok = path is not None and path.is_file() and media_type(path) is not None
    return path if ok else None


def keyframe_file(engine: MediaRec, item_id: str, index: int | None) -> Path | None:
    """A keyframe the shots stage wrote (under ``<home>/media``): shot ``index``, or a middle one."""
    found = engine.store.latest_feature(item_id, "shots")
    shots = [s for s in (found[1].get("shots") or []) if isinstance(s, dict)] if found else []
    if not shots:
        return None
    shot = shots[len(shots) // 3] if index is None else (shots[index] if 0 <= index < len(shots) else None)
    if shot is None or not shot.get("keyframe_path"):
        return None
    from mediarec.media.paths import real_path

    found_path = real_path(str(shot["keyframe_path"]), engine.home)
    if found_path is None:
        return None
    path = found_path.resolve()
    root = (engine.home / "media").resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


# -- users -----------------------------------------------------------------------------------
def user_page(engine: MediaRec, user: str) -> dict[str, Any]:
    store = engine.store
    exists = store.user_exists(user)
    events = store.user_events(user, limit=200) if exists else []
    titles = store.items_by_external_ids(e.item for e in events)
    history = [
        {
            "item": e.item,
            "title": (titles[e.item].title if e.item in titles else "") or e.item,
            "type": e.type,
            "ts": e.ts,
            "watched": e.value if e.type == "view" and e.value is not None else None,
            "value": "" if e.value is None or e.type == "view" else f"{e.value:g}",
            "comment": e.comment or "",
        }
        for e in events
    ]
    profile = engine.profile(user) if exists else None
    interests = engine.interests(user, limit=15) if exists else []
    recs = engine.recommend(user, n=12) if exists else []
    return {
        "user": user,
        "exists": exists,
        "history": history,
        "profile": profile.to_dict() if profile is not None else None,
        "interests": [i.to_dict() for i in interests],
        "recs": _rec_rows(recs),
    }


# -- ingest and evaluation -------------------------------------------------------------------
def ingest_page(engine: MediaRec) -> dict[str, Any]:
    runs = q.import_runs(engine.store, limit=30)
    return {
        "runs": [
            {"run": r, "seconds": f"{r.seconds:.1f}", "errors_list": q.import_errors(engine.store, r.id)}
            for r in runs
        ],
        "running": any(r.status == "running" for r in runs),
    }


def reports_dir(engine: MediaRec) -> Path:
    return engine.home / "reports"


def eval_page(engine: MediaRec, name: str | None) -> dict[str, Any]:
    """The newest saved evaluation report (or the one named), as a table, with the list of others."""
    from mediarec.eval.report import COLUMNS

    root = reports_dir(engine)
    found = (
        sorted((p.parent for p in root.glob("*/report.json")), key=lambda p: p.stat().st_mtime, reverse=True)
        if root.is_dir()
        else []
    )
    names = [p.name for p in found]
    chosen = next((p for p in found if p.name == name), None) if name else (found[0] if found else None)
    tuned = tune_summary(engine)
    if chosen is None:
        return {"names": names, "report": None, "tune": tuned}
    data = json.loads((chosen / "report.json").read_text())
    k = data.get("k", "")
    headers = ["model", *(h.format(k=k) for _, h in COLUMNS), "fit s", "rec s"]
    rows = []
    for row in data.get("rows") or []:
        metrics = row.get("metrics") or {}
        cells = [_fmt(metrics.get(key)) for key, _ in COLUMNS]
        rows.append(
            [
                str(row.get("model")),
                *cells,
                _fmt(row.get("fit_seconds"), 2),
                _fmt(row.get("recommend_seconds"), 2),
            ]
        )
    return {
        "names": names,
        "name": chosen.name,
        "report": data,
        "headers": headers,
        "rows": rows,
        "plot": (chosen / "report.png").is_file(),
        "tune": tuned,
    }


def tune_summary(engine: MediaRec) -> dict[str, Any] | None:
    """The last `mediarec tune` of this home (``<home>/tune/tune.json``), as the page shows it."""
    path = engine.home / "tune" / "tune.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        options = " ".join(f"{k}={v}" for k, v in (data.get("params") or {}).items()) or "(defaults)"
        return {
            "dataset": str(data["dataset"]),
            "model": str(data["model"]),
            "options": options,
            "recall": _fmt(data.get("recall")),
            "default_recall": _fmt(data.get("default_recall")),
            "default_model": str(data.get("default_model", "")),
            # No cold check (no item features): no cold figures, rather than "n/a" ones.
            "cold": _fmt(cold) if (cold := data.get("cold_recall")) is not None else "",
            "default_cold": _fmt(data.get("default_cold_recall")) if cold is not None else "",
            "k": data.get("k", ""),
            "trials": len(data.get("trials") or []),
            "budget_hit": bool(data.get("budget_hit")),
            "validation": str(data.get("validation", "")),
            "saved": engine.tuned is not None and engine.tuned.model == data["model"],
            "plot": (path.parent / "tune.svg").is_file(),
        }
    except (ValueError, KeyError, TypeError):
        return None  # a half-written or foreign file: show nothing rather than something false


def _fmt(value: Any, digits: int = 4) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number:.{digits}f}"
