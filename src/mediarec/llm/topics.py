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


# Fitted on the demo clips of the labelled truth set (bench/truth/topics.json, groups "demo" and
# "sample") by bench/fit_topic_support.py: of the (threshold, margin) pairs whose topics are at least
# 95% right on those 27 clips, the one that finds the most expected topics (100% / 73% there; 91% / 60%
# on the 14 held-out clips; docs/benchmarks.md). Below them, no topic is stored (true or silent).
SUPPORT_THRESHOLD = 0.27
SUPPORT_MARGIN = 0.04  # the best topic's lead over the best unrelated runner-up
WORDS_PER_TOPIC = 5  # the evidence words closest to a topic that count for it
_CACHED_TEXTS = 50_000  # text vectors (words, pieces) kept between items, ~75 MB at 384 floats

# Words that carry no topic; a short fixed list is enough, since only the evidence words closest to
# each topic count.
_STOP = frozenset(
    """the and for with from this that these those into your you our they their them then than such
    what which who how when where why not yes all any each more most some one two three four five six
    seven eight nine ten first second next other another just only very can will would should could
    may might must have has had does did about over under after before while here there out again once
    also because through same both few many much every own make makes made gets take takes like were
    been being its it's let's""".split()  # noqa: SIM905 (a word list reads best as words)
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
_NOT_CONTENT = ("title: ", "creator: ", "tags given by the uploader: ")


class TopicSupport(TopicRanker):
    """Which topics the item's trusted evidence supports, by the kit's text encoder.

    A topic is stored only when it is the encoder's best topic for the evidence, scores at least
    ``threshold`` and leads the runner-up by ``margin``, and the item has content (speech, on-screen
    text, pictures, sounds or a description; a title alone names no topic). Topics it implies
    (:data:`~mediarec.llm.topic_examples.IMPLIED`: a football video is a sports video) come with it.
    The LLM's own topic choice is not trusted: qwen-0.5b named "programming" for a pasta lesson, and
    its topics measured 46% precision after a veto of this kind (docs/benchmarks.md).

    A topic's score is the mean of two cosines with the topic's vector (its gloss plus the mean of its
    example sentences, :mod:`mediarec.llm.topic_examples`): the whole evidence text's, and the mean of
    the :data:`WORDS_PER_TOPIC` evidence words closest to the topic (a long transcript dilutes the
    first; one telling word, "oscillator", lifts the second).
    """

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
        """One unit vector per topic: the normalised gloss plus the normalised mean of the examples
        (a topic without them: its "a video about ..." phrase)."""
        if self._topics is None:
            from mediarec.llm.topic_examples import EXAMPLES, GLOSSES

            rows = []
            for topic in self.vocabulary:
                texts = [GLOSSES.get(topic, TEMPLATE.format(topic))]
                gloss = _unit(np.asarray(self.embed(texts), dtype=np.float32)[0])
                examples = list(EXAMPLES.get(topic, ())) or texts
                mean = _unit(np.asarray(self.embed(examples), dtype=np.float32).mean(axis=0))
                rows.append(_unit(gloss + mean))
            self._topics = np.stack(rows)
        return self._topics

    def _vectors(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._texts))
        if len(self._texts) + len(missing) > _CACHED_TEXTS:
            # A describe run over a big catalogue meets millions of segments: keep memory bounded.
            self._texts.clear()
            missing = list(dict.fromkeys(texts))
        if missing:
            self._texts.update(zip(missing, np.asarray(self.embed(missing), dtype=np.float32), strict=True))
        return np.stack([self._texts[t] for t in texts])

    def similarities(self, evidence: ItemEvidence) -> dict[str, float]:
        """Each topic's score for the item's trusted evidence (see the class)."""
        key = evidence.digest()
        if key not in self._sims:
            if len(self._sims) >= _CACHED_TEXTS:
                self._sims.clear()
            topics = self.topic_vectors()
            whole = topics @ np.asarray(self.embed([evidence_text(evidence)]), dtype=np.float32)[0]
            words = evidence_words(evidence)
            if words:
                per_word = self._vectors(words) @ topics.T
                k = min(WORDS_PER_TOPIC, len(words))
                near = np.sort(per_word, axis=0)[-k:].mean(axis=0)
            else:
                near = whole
            self._sims[key] = 0.5 * whole + 0.5 * near
        return dict(zip(self.vocabulary, (float(x) for x in self._sims[key]), strict=True))

    def rank(self, evidence: ItemEvidence) -> tuple[str, ...]:
        sims = self.similarities(evidence)
        return tuple(sorted(self.vocabulary, key=lambda t: -sims[t]))

    def supported(self, evidence: ItemEvidence) -> tuple[str, ...]:
        """The topics the evidence supports, best first (possibly none: then none is stored)."""
        from mediarec.llm.topic_examples import IMPLIED

        if not has_content(evidence):
            return ()
        sims = self.similarities(evidence)
        ranked = self.rank(evidence)
        best = ranked[0]
        # A topic's implied topics and those implying it do not compete with it (cooking and food).
        related = {best, *IMPLIED.get(best, ()), *(t for t, implied in IMPLIED.items() if best in implied)}
        runner_up = max((sims[t] for t in ranked if t not in related), default=-1.0)
        if sims[best] < self.threshold or sims[best] - runner_up < self.margin:
            return ()
        return (best, *(t for t in IMPLIED.get(best, ()) if t in self.vocabulary))

    def cite(self, evidence: ItemEvidence, topic: str, n: int = 2) -> list[str]:
        """The ids of the (up to ``n``) trusted content pieces closest to ``topic``: what a topic the
        encoder chose cites."""
        pieces = [p for p in evidence.pieces if not p.flagged and not p.text.startswith(_NOT_CONTENT)]
        pieces = pieces or [p for p in evidence.pieces if not p.flagged]
        if not pieces:
            return []
        vector = self.topic_vectors()[list(self.vocabulary).index(topic)]
        sims = self._vectors([_LABEL.sub("", p.text) for p in pieces]) @ vector
        return [pieces[i].id for i in np.argsort(-sims, kind="stable")[:n]]

    def text_similarity(self, a: str, b: str) -> float:
        """Cosine of two texts (cached), for the description's check against the evidence."""
        va, vb = self._vectors([a, b])
        return float(va @ vb)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) or 1.0)


def has_content(evidence: ItemEvidence) -> bool:
    """Whether the item has trusted content beyond its title and creator: speech, on-screen text,
    picture labels, sounds other than silence, or a catalogue description."""
    for p in evidence.pieces:
        if p.flagged or p.text.startswith(_NOT_CONTENT):
            continue
        if p.text.startswith("sounds: "):
            names = {n.strip().lower() for n in p.text.removeprefix("sounds: ").split(",")}
            if names <= {"silence", "speech", ""}:
                continue
        return True
    return False


def evidence_words(evidence: ItemEvidence) -> list[str]:
    """The distinct content words (4 letters or more, not stop words) of the trusted evidence, without
    the title, creator, the uploader's tags and the sound labels."""
    words: dict[str, None] = {}
    for p in evidence.pieces:
        if p.flagged or p.text.startswith((*_NOT_CONTENT, "sounds: ")):
            continue
        for w in _WORD.findall(_LABEL.sub("", p.text)):
            w = w.lower()
            if len(w) >= 4 and w not in _STOP:
                words[w] = None
    return sorted(words)


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
