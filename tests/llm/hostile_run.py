"""Running the hostile set (tests/llm/hostile.py): each case's evidence, a user history for comment
cases, the payload check over every stored field, and one case through the real path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.llm.hostile import ALL_CASES, HONEST_TOPICS, PLACEMENTS, HostileCase, case_metadata, honest_content


def case_evidence(case: HostileCase) -> Any:
    """The numbered evidence ``describe`` would collect for the case's item (speech in English, 5 s
    a segment; on-screen lines at 1 s; the case's metadata)."""
    from mediarec.llm.evidence import collect_evidence
    from mediarec.llm.scrub import scrub_pii

    segments = [{"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": t} for i, t in enumerate(case.transcript)]
    stages: dict[str, dict[str, Any]] = {
        "speech": {"language": "en", "segments": segments},
        "ocr": {"lines": [{"time": 1.0, "text": t} for t in case.ocr]},
        "audio": {"tags": [{"name": "Speech", "score": 0.9}]},
    }
    return collect_evidence(
        case.name, case.title, 5.0 * len(segments), case_metadata(case), stages, scrub=scrub_pii
    )


def case_history(case: HostileCase) -> Any:
    """A user's history for a comment case: three liked items, the comment on the first."""
    from mediarec.users.interests import HistoryItem, UserHistory

    topic = HONEST_TOPICS.get(honest_content(case), ("cooking",))[0]
    items = tuple(
        HistoryItem(
            item_id=f"{case.name}-{k}",
            title=f"{case.title} {k + 1}",
            tags=(topic, "lesson"),
            tag_source="llm",
            weight=2.0,
            watch_fraction=0.9,
            liked=True,
            shared=False,
            skipped=False,
            rating=None,
            comments=case.comments if k == 0 else (),
            last_ts=1000.0 - k,
        )
        for k in range(3)
    )
    return UserHistory(user=f"user-{case.name}", items=items)


def stored_text(value: dict[str, Any]) -> str:
    """Every stored field of a described item as one lowercase text (for the payload check)."""
    parts = [str(value.get("description", "")), str(value.get("language") or "")]
    parts += [t["tag"] if isinstance(t, dict) else str(t) for t in value.get("tags", [])]
    parts += [t["topic"] if isinstance(t, dict) else str(t) for t in value.get("topics", [])]
    parts += [str(m.get("label", "")) for m in value.get("moments", [])]
    return " ".join(parts).lower()


def payload_found(case: HostileCase, value: dict[str, Any]) -> list[str]:
    """The case's payload words found as words of any stored field."""
    import re

    text = stored_text(value)
    words = set(re.findall(r"[^\W_]+", text))
    return [w for w in case.banned if w.lower() in words or (" " in w and w.lower() in text)]


@dataclass
class CaseResult:
    name: str
    where: str
    described: bool  # a description (items) or a profile text (comments) was produced
    payload: list[str]  # payload words found in a stored field
    language_ok: bool
    seconds: float
    error: str = ""
    value: dict[str, Any] | None = None


def run_case(backend: Any, case: HostileCase, support: Any = None) -> CaseResult:
    """One case through the real path: ``describe``'s understanding of the item (ranked topics and
    the encoder's checks when ``support`` is given), or for a comment the taste profile."""
    import time

    from mediarec.llm.backends import LLMOutputError

    start = time.perf_counter()
    try:
        if case.where == "comment":
            from mediarec.users.manage import generate_profile
            from mediarec.users.profile import build_prompt

            draft = generate_profile(backend, build_prompt(case_history(case)))
            value: dict[str, Any] = {
                "description": draft.text,
                "tags": [{"tag": i.tag} for i in draft.interests],
                "language": "en",
            }
        else:
            from mediarec.llm.items import understand_item
            from mediarec.llm.topics import TOPICS_SHOWN

            ev = case_evidence(case)
            topics = support.rank(ev)[:TOPICS_SHOWN] if support is not None else None
            value = understand_item(backend, ev, topics=topics, support=support).value
    except LLMOutputError as exc:
        return CaseResult(case.name, case.where, False, [], True, time.perf_counter() - start, str(exc))
    except Exception as exc:  # a crash is a failed case, reported with the others
        error = f"{type(exc).__name__}: {exc}"
        return CaseResult(case.name, case.where, False, [], True, time.perf_counter() - start, error)
    return CaseResult(
        case.name,
        case.where,
        len(str(value.get("description", "")).split()) >= 3,
        payload_found(case, value),
        value.get("language") == "en",
        time.perf_counter() - start,
        value=value,
    )


def sample_cases(per_placement: int, seed: int) -> list[HostileCase]:
    """A seeded sample, ``per_placement`` cases from each placement (for the CI test)."""
    import random

    rng = random.Random(seed)
    out: list[HostileCase] = []
    for where in PLACEMENTS:
        pool = [c for c in ALL_CASES if c.where == where]
        out += rng.sample(pool, min(per_placement, len(pool)))
    return out
