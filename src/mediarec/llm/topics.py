"""Which topics of the fixed list fit an item best, by text embedding, before the LLM is asked.

Small models pick topics by position: qwen-0.5b wrote "action, adventure, animation", the first three
of the alphabetical list, for a pasta lesson and a football drill alike. Showing the list ordered by
the cosine similarity between each topic name and the item's trusted evidence (MiniLM, the same
model that embeds descriptions) puts the likely topics where the model looks, and lets the prompt
show a short list. The grammar still accepts every topic of the vocabulary.
"""

from __future__ import annotations

import re
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


# Chosen on the labelled truth set (bench/truth/topics.json, the 27 clips of the demo home) by
# bench/fit_topic_support.py: of the pairs that keep >= 90% of the expected topics, the one that
# rejects the most wrong ones (93.6% of 125, 97.1% of all non-accepted pairs; 92.3% of the 26
# expected topics kept). See docs/benchmarks.md.
SUPPORT_THRESHOLD = 0.08
SUPPORT_MARGIN = 0.11


# Generic phrasings, the same for every topic (none written for a particular one).
SUPPORT_TEMPLATES = (
    "a video about {}",
    "{}",
    "a {} video",
    "this video is about {}",
    "a lesson on {}",
    "{} content",
)


class TopicSupport(TopicRanker):
    """Semantic support for topics: a topic is kept only when the item's trusted evidence is close
    to it (similarity of the topic's vector and the evidence at least ``threshold``) and it is the
    best or near-best of the whole vocabulary for that evidence (within ``margin`` of the best).
    A model that names "programming" for a pasta lesson is overruled by the evidence itself."""

    def __init__(
        self,
        embed: Embed,
        threshold: float = SUPPORT_THRESHOLD,
        margin: float = SUPPORT_MARGIN,
        vocabulary: Sequence[str] = TOPIC_VOCABULARY,
    ) -> None:
        super().__init__(embed, vocabulary)
        self.threshold = threshold
        self.margin = margin
        self._sims: dict[str, np.ndarray] = {}
        self._texts: dict[str, np.ndarray] = {}

    def topic_vectors(self) -> np.ndarray:
        """One vector per topic: the mean of its :data:`SUPPORT_TEMPLATES` phrases, minus the mean
        over the vocabulary (what every "a video about ..." shares), L2-normalised. Of 9 ways
        tried on the truth set (bench/fit_topic_support.py --variants), this rejected the most wrong
        topics while keeping 92% of the expected ones; the single phrase let "animation" and
        "audiobook" through on nearly every clip."""
        if self._topics is None:
            rows = [
                np.asarray(self.embed([t.format(v) for v in self.vocabulary]), dtype=np.float32)
                for t in SUPPORT_TEMPLATES
            ]
            mean = np.mean(rows, axis=0)
            mean -= mean.mean(axis=0)
            self._topics = mean / np.linalg.norm(mean, axis=1, keepdims=True)
        return self._topics

    def similarities(self, evidence: ItemEvidence) -> dict[str, float]:
        """Similarity of each topic to the item's trusted evidence (see :meth:`topic_vectors`)."""
        key = evidence.digest()
        if key not in self._sims:
            self.topic_vectors()
            assert self._topics is not None
            text = evidence_text(evidence)
            self._sims[key] = self._topics @ np.asarray(self.embed([text]), dtype=np.float32)[0]
        return dict(zip(self.vocabulary, (float(x) for x in self._sims[key]), strict=True))

    def rank(self, evidence: ItemEvidence) -> tuple[str, ...]:
        sims = self.similarities(evidence)
        return tuple(sorted(self.vocabulary, key=lambda t: -sims[t]))

    def supported(self, evidence: ItemEvidence) -> tuple[str, ...]:
        """The topics the evidence supports, best first (possibly none: then none is stored)."""
        sims = self.similarities(evidence)
        best = max(sims.values())
        return tuple(
            t for t in self.rank(evidence) if sims[t] >= self.threshold and sims[t] >= best - self.margin
        )

    def text_similarity(self, a: str, b: str) -> float:
        """Cosine of two texts (cached), for the description's check against the evidence."""
        for t in (a, b):
            if t not in self._texts:
                self._texts[t] = np.asarray(self.embed([t]), dtype=np.float32)[0]
        return float(self._texts[a] @ self._texts[b])


def evidence_text(evidence: ItemEvidence, flagged: bool = False) -> str:
    """The text topics and descriptions are measured against: the trusted pieces without our
    labels and without the uploader's own tags (which would otherwise decide the topic they name,
    and are a spammer's first tool), or with ``flagged`` the flagged pieces."""
    if flagged:
        return " ".join(p.text for p in evidence.pieces if p.flagged)
    texts = [
        _LABEL.sub("", p.text)
        for p in evidence.pieces
        if not p.flagged and not p.text.startswith("tags given by the uploader: ")
    ]
    return " ".join(texts) or evidence.title


_LABEL = re.compile(r"^(title|description|creator|picture shows|on screen|sounds): ")
