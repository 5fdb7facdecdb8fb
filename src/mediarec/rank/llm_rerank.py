"""The gated LLM re-ranking stage: the head of a ranked list re-ordered by the LLM, for some users.

Runs after the ranker (candidates, blend, MMR, exploration), on the list's first ``k`` items only, so
it can change their order and nothing else: the same items, the same reasons, the scores of the
positions kept where they were (each position keeps its score, so scores stay non-increasing, as
exploration does). Which users get it is the ``llm_rerank`` setting: ``off``, ``cold`` (users with at
most ``llm_rerank_cold_events`` positive items) or ``all``. The model's work is
:func:`mediarec.llm.rerank.rerank`; when it cannot answer, or no answer is a permutation, the list is
served as the ranker made it.

Default ``off``: on ML-1M with the kit's qwen-0.5b the stage changed no list at all (the model copies
the order it is shown, and the two mirrored passes cancel that exactly) while costing seconds per
user; see docs/benchmarks.md, "LLM re-ranking (issue 12 part 3)".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mediarec.llm.backends import LLMBackend, LLMError
from mediarec.llm.rerank import MAX_K, RerankOptions, rerank
from mediarec.rank.records import RankResult, Recommendation

MODES = ("off", "cold", "all")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RerankGate:
    """Who gets the LLM re-ranking (settings ``llm_rerank``, ``llm_rerank_cold_events``, ``llm_rerank_k``)."""

    mode: str = "off"  # off | cold | all; off: no measured group where it wins (see the module doc)
    cold_events: int = 10  # "cold" users: at most this many positive items (published results
    # suggest an LLM helps only users with little history)
    k: int = 10  # the head of the list that is re-ordered (2..20)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"setting 'llm_rerank': {self.mode!r} is not one of {', '.join(MODES)}")
        if self.cold_events < 0:
            raise ValueError("setting 'llm_rerank_cold_events' must not be negative")
        if not 2 <= self.k <= MAX_K:
            raise ValueError(f"setting 'llm_rerank_k' must lie in 2..{MAX_K}, got {self.k}")

    @classmethod
    def from_settings(cls, settings: Any) -> RerankGate:
        return cls(
            mode=str(getattr(settings, "llm_rerank", "off")).strip().lower(),
            cold_events=int(getattr(settings, "llm_rerank_cold_events", 10)),
            k=int(getattr(settings, "llm_rerank_k", 10)),
        )

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def applies(self, n_events: int) -> bool:
        """Whether a user with ``n_events`` positive items gets the re-ranking."""
        if self.mode == "all":
            return True
        return self.mode == "cold" and n_events <= self.cold_events


def item_text(rec: Recommendation) -> str:
    """What the model reads about a candidate: its title, and its creator where known."""
    title = rec.title or rec.item_id
    return f"{title} (by {rec.creator})" if rec.creator else title


def rerank_result(
    result: RankResult,
    history: Sequence[str],
    backend: LLMBackend,
    gate: RerankGate,
    user: str,
    options: RerankOptions | None = None,
    text_of: Callable[[Recommendation], str] = item_text,
) -> RankResult:
    """``result`` with its first ``gate.k`` items in the LLM's order (``history``: the user's item
    texts, oldest first). A popularity fallback, a list of fewer than two items, a backend that cannot
    answer or answers that are no permutation leave ``result`` as it is."""
    if result.fallback or len(result.items) < 2:
        return result
    head = result.items[: gate.k]
    o = dataclasses.replace(options or RerankOptions(), k=max(2, len(head)))
    try:
        outcome = rerank(backend, history, [text_of(r) for r in head], o, user=user)
    except LLMError as exc:  # no model, server down: the ranker's list is still a good list
        log.warning("LLM re-ranking skipped for %s: %s", user, str(exc).splitlines()[0][:200])
        return result
    if not outcome.changed:
        return result
    scores = [r.score for r in head]
    moved = [dataclasses.replace(head[i], score=scores[j]) for j, i in enumerate(outcome.order)]
    return dataclasses.replace(result, items=moved + result.items[gate.k :])
