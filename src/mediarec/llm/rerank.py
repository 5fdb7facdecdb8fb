"""The LLM re-ranker: a user's top-K candidates put in order by the model, as a checked permutation.

The model sees the user's history and the K candidates as text inside ``<data>`` blocks (they hold
titles written by strangers: control tokens defused, fences neutralised, one line per item so a
title cannot forge another candidate's label) and answers ``{"order": [3, 1, ...]}``: the local
labels ``1..K`` of the candidates, best first. The grammar allows only those labels and exactly K of
them; that every label comes exactly once is beyond a grammar, so :func:`permutation_errors` checks
it, the model gets one retry with the reasons, and a pass that still fails is dropped. Nothing but a
permutation of the candidates is ever used; unless every pass is valid the original order stays.

Small models prefer what they read first (position bias). Each of the ``passes`` shows the
candidates in another order, seeded by the user: the first pass a shuffle, the second the same
shuffle reversed, so that every candidate sits once near the top and once near the bottom; more
passes are fresh shuffles. The passes are combined by mean rank (Borda); ties keep the original
order, which also counts as a voter of weight ``base_weight``. A model that only copies the order it
is shown (qwen-0.5b does) therefore changes nothing.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mediarec.llm.backends import CompletionOptions, LLMBackend, LLMOutputError, Usage
from mediarec.llm.scrub import DATA_RULE, as_data, truncate

PROMPT_VERSION = "rerank/2"  # 2: "listed in random order" (validation run)
MAX_K = 20  # a longer list costs tokens and a small model loses track of its labels
_ITEM_CHARS = 120  # one candidate's or history item's line in the prompt

SYSTEM = (
    "You help a recommendation system. You get the items one viewer engaged with (oldest first) and "
    "a numbered list of candidate items. Put the candidates in the order of how likely this viewer "
    "is to pick each one next, most likely first, judging by how well it fits the viewer's history. "
    "The candidates are listed in random order, so their numbers say nothing about fit: do not just "
    "copy them in order. Answer with every candidate number exactly once.\n" + DATA_RULE
)


@dataclass(frozen=True)
class RerankOptions:
    """How the LLM re-ranks one list."""

    k: int = 10  # candidates re-ranked (the head of the list); the rest keep their places; <= MAX_K
    passes: int = 2  # presentations in different orders, combined by mean rank (position bias)
    history_items: int = 20  # the user's most recent items shown to the model
    base_weight: float = 0.0  # the original order as one more voter of this weight (0: ties only)
    retries: int = 1  # a pass whose answer is not a permutation is asked again this many times
    seed: int = 42  # the presentation orders are seeded by (seed, user): same request, same list

    def __post_init__(self) -> None:
        if not 2 <= self.k <= MAX_K:
            raise ValueError(f"k must lie in 2..{MAX_K}, got {self.k}")
        if self.passes < 1:
            raise ValueError("passes must be at least 1")
        if self.history_items < 1:
            raise ValueError("history_items must be at least 1")
        if self.base_weight < 0 or self.retries < 0:
            raise ValueError("base_weight and retries must not be negative")


@dataclass(frozen=True)
class RerankOutcome:
    """``order``: indices into the candidates, best first (the identity unless every pass was valid)."""

    order: list[int]
    passes: int
    valid_passes: int
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    pass_orders: list[list[int] | None] = field(default_factory=list)  # per pass, candidate indices
    errors: list[str] = field(default_factory=list)  # why passes were dropped

    @property
    def changed(self) -> bool:
        return self.order != list(range(len(self.order)))


def answer_schema(k: int) -> dict[str, Any]:
    """Exactly ``k`` labels out of ``1..k``; uniqueness is checked afterwards (no grammar has it)."""
    labels = list(range(1, k + 1))
    order = {
        "type": "array",
        "items": {"type": "integer", "enum": labels},
        "minItems": k,
        "maxItems": k,
        "uniqueItems": True,
    }
    return {
        "type": "object",
        "properties": {"order": order},
        "required": ["order"],
        "additionalProperties": False,
    }


def permutation_errors(value: Any, k: int) -> list[str]:
    """Every reason ``value`` is not ``{"order": <a permutation of 1..k>}`` (empty: it is)."""
    if not isinstance(value, dict):
        return [f"expected an object with 'order', got {type(value).__name__}"]
    extra = sorted(set(value) - {"order"})
    errors = [f"unexpected property {key!r}" for key in extra]
    order = value.get("order")
    if not isinstance(order, list):
        return [*errors, "'order' must be a list of candidate numbers"]
    bad = [x for x in order if not isinstance(x, int) or isinstance(x, bool)]
    if bad:
        return [*errors, f"not candidate numbers: {', '.join(json.dumps(x) for x in bad[:5])}"]
    unknown = sorted({x for x in order if not 1 <= x <= k})
    if unknown:
        errors.append(f"no such candidates: {', '.join(map(str, unknown))} (numbers are 1..{k})")
    dups = sorted({x for x in order if order.count(x) > 1})
    if dups:
        errors.append(f"repeated: {', '.join(map(str, dups))}")
    missing = sorted(set(range(1, k + 1)) - set(order))
    if missing:
        errors.append(f"missing: {', '.join(map(str, missing))}")
    return errors


def parse_permutation(text: str, k: int) -> list[int]:
    """The 0-based permutation in an answer's text; ``ValueError`` for anything else (extra text
    around the JSON included: ``json.loads`` takes one value and nothing after it)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not one JSON object: {exc}") from None
    errors = permutation_errors(value, k)
    if errors:
        raise ValueError("; ".join(errors))
    return [x - 1 for x in value["order"]]


def presentation_orders(n: int, passes: int, seed: int, user: str) -> list[list[int]]:
    """Per pass, the candidate indices in the order shown: a seeded shuffle, its reverse, then more
    shuffles. Seeded by (seed, user) through a stable hash, so a repeat asks the same prompts."""
    rng = np.random.default_rng([seed, zlib.crc32(user.encode("utf-8"))])
    first = [int(i) for i in rng.permutation(n)]
    out = [first, first[::-1]]
    while len(out) < passes:
        out.append([int(i) for i in rng.permutation(n)])
    return out[:passes]


def combine(n: int, pass_orders: Sequence[Sequence[int]], base_weight: float = 0.0) -> list[int]:
    """Candidate indices best first by mean rank over ``pass_orders`` (each a full order of
    ``range(n)``, best first), the original order voting with ``base_weight``; ties keep the
    original order. No valid pass: the original order."""
    if not pass_orders:
        return list(range(n))
    ranks = np.zeros(n, dtype=np.float64)
    for order in pass_orders:
        ranks[np.asarray(order, dtype=np.int64)] += np.arange(n, dtype=np.float64)
    ranks += base_weight * np.arange(n, dtype=np.float64)
    ranks /= len(pass_orders) + base_weight
    return [int(i) for i in np.lexsort((np.arange(n), ranks))]


def _line(text: str) -> str:
    # One line per item, whitespace collapsed: a title cannot start a new "[n]" line of its own.
    return truncate(" ".join(str(text).split()), _ITEM_CHARS) or "(untitled)"


def build_messages(history: Sequence[str], shown: Sequence[str]) -> list[dict[str, str]]:
    """The prompt for one pass: ``history`` oldest first, ``shown`` the candidates in the order
    presented (label ``i + 1`` for ``shown[i]``)."""
    hist = "\n".join(f"- {_line(t)}" for t in history) or "(nothing yet)"
    cands = "\n".join(f"[{i + 1}] {_line(t)}" for i, t in enumerate(shown))
    k = len(shown)
    user = (
        "The viewer's history:\n"
        + as_data("history", hist, 4000)
        + f"\nThe {k} candidates:\n"
        + as_data("candidates", cands, 4000)
        + f'\nAnswer {{"order": [...]}} with the numbers 1 to {k}, each once, most likely first.'
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def rerank(
    backend: LLMBackend,
    history: Sequence[str],
    candidates: Sequence[str],
    options: RerankOptions | None = None,
    user: str = "",
) -> RerankOutcome:
    """The order the model gives ``candidates`` (item texts, in the original order) for a user
    whose items are ``history`` (oldest first). Raises ``LLMError`` only when the backend cannot
    answer at all; answers that are not permutations are dropped and counted."""
    from mediarec.llm.structured import generate

    o = options or RerankOptions()
    n = len(candidates)
    if n < 2:
        return RerankOutcome(list(range(n)), 0, 0)
    if n > MAX_K:
        raise ValueError(f"at most {MAX_K} candidates, got {n}")
    schema = answer_schema(n)
    started = time.perf_counter()
    usage = Usage()
    valid: list[list[int]] = []
    per_pass: list[list[int] | None] = []
    errors: list[str] = []
    for p, shown in enumerate(presentation_orders(n, o.passes, o.seed, user)):
        messages = build_messages(list(history)[-o.history_items :], [candidates[i] for i in shown])
        try:
            got = generate(
                backend,
                messages,
                schema,
                validate=lambda v: permutation_errors(v, n),
                retries=o.retries,
                options=CompletionOptions(max_tokens=3 * n + 24, schema_name="rerank"),
            )
        except LLMOutputError as exc:
            usage = usage + (exc.usage or Usage())
            errors.append(f"pass {p + 1}: {exc.reasons[0] if exc.reasons else exc}")
            per_pass.append(None)
            continue
        usage = usage + got.usage
        order = [shown[label - 1] for label in got.value["order"]]
        valid.append(order)
        per_pass.append(order)
    # One pass alone carries its presentation's position bias uncancelled: all passes or none.
    combined = combine(n, valid if len(valid) == o.passes else [], o.base_weight)
    return RerankOutcome(
        combined, o.passes, len(valid), usage, time.perf_counter() - started, per_pass, errors
    )
