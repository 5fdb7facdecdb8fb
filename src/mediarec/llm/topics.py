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


class TopicRanker:
    """Ranks the vocabulary for one item after another; the topic phrases are embedded once."""

    def __init__(self, embed: Embed, vocabulary: Sequence[str] = TOPIC_VOCABULARY) -> None:
        self.embed = embed
        self.vocabulary = tuple(vocabulary)
        self._topics: np.ndarray | None = None

    def rank(self, evidence: ItemEvidence) -> tuple[str, ...]:
        """The vocabulary ordered from the best fit to the worst (ties keep the list's order)."""
        if self._topics is None:
            phrases = [TEMPLATE.format(t) for t in self.vocabulary]
            self._topics = np.asarray(self.embed(phrases), dtype=np.float32)
        text = " ".join(p.text for p in evidence.pieces if not p.flagged) or evidence.title
        sims = self._topics @ np.asarray(self.embed([text]), dtype=np.float32)[0]
        return tuple(self.vocabulary[i] for i in np.argsort(-sims, kind="stable"))


def rank_topics(
    evidence: ItemEvidence, embed: Embed, vocabulary: Sequence[str] = TOPIC_VOCABULARY
) -> tuple[str, ...]:
    """One item's ranking (see :class:`TopicRanker`, which embeds the topics once for many items)."""
    return TopicRanker(embed, vocabulary).rank(evidence)
