"""The dashboard's steering box, moments and start times, as plain dicts for the templates.

The request text is data from the person at the keyboard: it goes to the parser as ``ask`` does
on the API (the same size limit, :data:`MAX_ASK_CHARS`) and comes back to the page only through
autoescaped templates. A refused request is a message beside the box (the page answers 422), an
unsatisfiable one an empty list with the parser's message: never an error page.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import quote

from mediarec.engine import MediaRec, UnknownItemError
from mediarec.rank.query import MAX_ASK_CHARS, QueryError
from mediarec.serve.dashboard_pages import _rec_rows, clock

MOMENTS_SHOWN = 5
# Moments need the segment index of the catalogue (every segment's text vector, built once per
# snapshot); up to this many items it is built when a user page asks, beyond it on request only
# (``?moments=1``), so that one page view does not embed a big catalogue's transcripts.
MOMENTS_AUTO_MAX_ITEMS = 2000
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
MAX_T_CHARS = 20

__all__ = ["MAX_ASK_CHARS", "moments", "start_time", "steered_recs", "steered_similar"]


def start_time(raw: str, duration: float | None) -> tuple[float | None, str | None]:
    """``?t=``: seconds (``12``, ``12.5``) or a clock (``1:05``, ``1:02:03``) as the start, and a
    note when the value was ignored (not a time, negative, past the item's end)."""
    text = raw.strip()
    if not text:
        return None, None
    shown = text[:MAX_T_CHARS] + ("…" if len(text) > MAX_T_CHARS else "")
    seconds: float | None = None
    if len(text) <= MAX_T_CHARS:
        found = _CLOCK.match(text)
        if found:
            h, m, s = found.groups()
            if float(s) < 60 and (h is None or int(m) < 60):
                seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
        else:
            try:
                seconds = float(text)
            except ValueError:
                seconds = None
    if seconds is None or not math.isfinite(seconds):
        return None, f"start time {shown!r} ignored: give seconds (t=12) or a clock (t=1:05)"
    if seconds < 0:
        return None, f"start time {shown!r} ignored: it is before the start"
    if duration is not None and math.isfinite(duration) and duration > 0 and seconds > duration:
        return None, f"start time {shown!r} ignored: the item is {clock(duration)} long"
    return seconds, None


def _view(steered: Any) -> dict[str, Any]:
    data = steered.steering()
    return {
        "understood": data["understood"],
        "parser": data["parser"],
        "cached": data["cached"],
        "message": data["message"],
        "notes": data["notes"],
        "items": _rec_rows(steered.result.items),
        "error": None,
    }


def _refused(message: str) -> dict[str, Any]:
    return {"understood": None, "message": None, "notes": [], "items": [], "error": message}


def steered_recs(engine: MediaRec, user: str, ask: str, n: int = 12) -> dict[str, Any]:
    """The user's recommendations steered by ``ask`` (cached as theirs: deleting them forgets it)."""
    try:
        return _view(engine.rank_steered(user, ask, n))
    except QueryError as exc:
        return _refused(str(exc))


def steered_similar(engine: MediaRec, item: str, ask: str, n: int = 8) -> dict[str, Any]:
    """Items like ``item`` steered by ``ask`` ("like this but shorter")."""
    if engine.loaded() is None:
        return _refused("steering similar items needs a trained model: run `mediarec train` first")
    try:
        return _view(engine.similar_steered(item, ask, n))
    except QueryError as exc:
        return _refused(str(exc))
    except UnknownItemError:
        return _refused("this item is not in the trained model yet: retrain to include it")


def moments(engine: MediaRec, user: str, force: bool) -> dict[str, Any]:
    """The user's moments (:meth:`MediaRec.moments`), each linking to the item playing from its
    start; ``shown`` False when the catalogue is too big to look without being asked."""
    if not force and engine.store.count_items() > MOMENTS_AUTO_MAX_ITEMS:
        return {"shown": False, "rows": []}
    rows = []
    for hit in engine.moments(user, n=MOMENTS_SHOWN):
        first = hit.ranges[0]
        start = float(first["start"])
        rows.append(
            {
                "id": hit.item_id,
                "title": hit.title or hit.item_id,
                "href": f"/ui/items/{quote(hit.item_id, safe='')}?t={start:g}",
                "clock": clock(start),
                "end": clock(float(first["end"])) if first.get("end") is not None else "",
                "why": hit.why or "",
                "source": str(first.get("source") or ""),
            }
        )
    return {"shown": True, "rows": rows}
