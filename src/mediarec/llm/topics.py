"""Which topics of the fixed list fit an item best, by text embedding, before the LLM is asked.

Small models pick topics by position: qwen-0.5b wrote "action, adventure, animation", the first three
of the alphabetical list, for a pasta lesson and a football drill alike. Showing the list ordered by
the cosine similarity between each topic name and the item's trusted evidence (MiniLM, the same
model that embeds descriptions) puts the likely topics where the model looks, and lets the prompt
show a short list. The grammar still accepts every topic of the vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mediarec.llm.evidence import ItemEvidence
from mediarec.llm.item_schema import TOPIC_VOCABULARY

Embed = Callable[[list[str]], Any]  # texts -> (n, dim) rows, L2-normalised

TOPICS_SHOWN = 12  # topics named in the prompt when they are ranked
# A topic name alone embeds poorly ("dance" came first for a football drill); in a phrase it
# ranks as expected (football, sports; cooking, food) on the hostile-set transcripts.
TEMPLATE = "a video about {}"


def rank_topics(
    evidence: ItemEvidence, embed: Embed, vocabulary: Sequence[str] = TOPIC_VOCABULARY
) -> tuple[str, ...]:
    """``vocabulary`` ordered from the best fit to the worst (ties keep the list's order)."""
    text = " ".join(p.text for p in evidence.pieces if not p.flagged) or evidence.title
    vectors = np.asarray(embed([text, *(TEMPLATE.format(t) for t in vocabulary)]), dtype=np.float32)
    sims = vectors[1:] @ vectors[0]
    return tuple(vocabulary[i] for i in np.argsort(-sims, kind="stable"))
