"""The numbered evidence of one item, as the LLM sees it, and the flag on text that reads like an attack.

The content stages' stored payloads (transcript segments, keyframe labels, on-screen text, audio tags)
plus title and metadata become pieces S1, K1, O1, A1, M1, each with its times and a ``flagged`` mark
when it reads like an instruction to the model or like spam.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Evidence:
    """One numbered piece of evidence: ``kind`` is S(peech), K(eyframe), O(CR), A(udio) or M(etadata).

    ``flagged`` marks a piece that reads like an instruction to the model or like spam: it is still
    shown (it is part of the content) but can support no tag, and words found only in flagged pieces
    may appear in no tag and not in the description.
    """

    id: str
    kind: str
    text: str
    start: float | None = None
    end: float | None = None
    flagged: bool = False


# What an attack on the prompt tends to look like: addressing the model, naming its roles or rules,
# dictating output, links, encoded blobs. Honest speech about a topic rarely matches these.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instruction|rule|prompt|above|previous|video)"
    r"|\b(system|assistant|developer)\s*:|\byou are (now )?(a|an|dan)\b|\bnew (task|instruction)"
    r"|\b(tag|tags|label|describe|output|repeat|respond|reply|answer|réponds)\b"
    r"\s*(this|it|as|:|only|your|the word|uniquement)"
    r"|\badd the tag\b|https?://|www\.|[a-z0-9+/]{24,}={0,2}|</?data>|[{}\[\]]|\bdecode\b|\bobey\b"
    r"|\bS\d+\s*:|\bK\d+\s*:|(^|[.;!?]\s*)(tag|tags|label)\b",
    re.IGNORECASE,
)


# The regex above was written with the first 22 hostile cases; 34 of the 44 written after it got
# through (tests/llm/hostile.py NEW_CASES). What those have in common is not a phrase but a shape: text
# that talks to the machine (an AI, "the indexer") about our output fields (tag, genre, summary,
# profile) in the mood of an order (must, please, file this under). Two of the three kinds of words
# in one line flag it; one alone is ordinary speech ("label the jar", "the model must converge").
_MACHINE = re.compile(
    r"\b(ai|a\.i\.|llm|gpt|chatbot|bot|assistant|summari[sz]er|summari[sz]es?|indexer|indexing|"
    r"classifier|catalogu\w*|cataloging|tagger|crawler|moderators?|automated|engine|whoever)\b",
    re.IGNORECASE,
)
_FIELD = re.compile(
    r"\b(tags?|labels?|topics?|genre|category|categories|description|summary|metadata|keywords?|"
    r"language|profile|interests?|key moment|recommend\w*|verdict|rating)\b",
    re.IGNORECASE,
)
_ORDER = re.compile(
    r"\b(must|should|mandatory|required|policy|please|kindly|file (this|it)|mark (this|it)|set (it|this)|"
    r"stor(e|ed)|mention|put (that|this|it)|write|say|note (to|for)|notice|attention|override|dear|"
    r"correct|really|only|every|all users|everyone)\b",
    re.IGNORECASE,
)
_OTHER = re.compile(
    # Orders in other languages; markup and chat-template markers (defused or not); "dot biz" links;
    # sponsorship and prize bait.
    r"\b(ignoriere|vergiss|beschreibe|schreibe|antworte|olvida|ignora|etiqueta|responde|escribe|"
    r"oublie|ignorez|écris|ecris|réponds|consignes|anweisungen|instrucciones)\b"
    r"|<\s*/?\s*[a-z][a-z0-9]*(\s[^>]*)?>|\u2039\||\(/?inst\)|\[/?inst\]"
    r"|\bdot (com|biz|net|org|io|xyz)\b|\bsponsored by\b|\bclaim your\b|\bsystems?\s*(:|override)",
    re.IGNORECASE,
)
_LEET = re.compile(r"\b(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]{4,}\b")
_LATIN = re.compile(r"[A-Za-z]")


def _mixed_script(text: str) -> bool:
    """A word that mixes Latin letters with Cyrillic or Greek look-alikes ("rоulеttе")."""
    for word in text.split():
        if _LATIN.search(word) and any(
            ch.isalpha() and ("CYRILLIC" in unicodedata.name(ch, "") or "GREEK" in unicodedata.name(ch, ""))
            for ch in word
        ):
            return True
    return False


def looks_like_instruction(text: str) -> bool:
    words = _WORD.findall(text.lower())
    if len(words) >= 8 and len(set(words)) / len(words) < 0.35:  # "viral viral viral ..." spam
        return True
    if _INSTRUCTION.search(text) or _OTHER.search(text) or _mixed_script(text):
        return True
    # "1gn0r3 th3 rul3s": words of letters and digits, several of them (chess's "e4" is too short).
    if (
        len(
            [
                w
                for w in _LEET.findall(text.lower())
                if not w.isdigit() and not re.fullmatch(r"\d+[a-z]{1,2}", w)
            ]
        )
        >= 2
    ):
        return True
    kinds = sum(1 for rx in (_MACHINE, _FIELD, _ORDER) if rx.search(text))
    return kinds >= 2


def clean_text(text: str) -> str:
    """NFKC (folds full-width look-alikes), zero-width characters removed (so "ig\u200bnore" reads
    "ignore"), other control characters as spaces, chat-template markers defused, single spaces."""
    from mediarec.llm.untrusted import defuse

    text = unicodedata.normalize("NFKC", str(text))
    text = "".join("" if unicodedata.category(ch) == "Cf" else ch if ch.isprintable() else " " for ch in text)
    return defuse(" ".join(text.split()))


@dataclass(frozen=True)
class ItemEvidence:
    item_id: str
    title: str
    duration: float
    language: str | None
    pieces: tuple[Evidence, ...] = ()
    # Context that is not evidence (summaries of the parts of a long transcript, written by the
    # model itself): shown to the model, citable by nothing.
    notes: tuple[str, ...] = ()

    def by_id(self) -> dict[str, Evidence]:
        return {p.id: p for p in self.pieces}

    def digest(self) -> str:
        """Input hash for the result cache: the same evidence gives the same key."""
        raw = json.dumps(
            [self.title, self.duration, self.language, [p.__dict__ for p in self.pieces], self.notes]
        )
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class EvidenceOptions:
    max_segments: int = 60  # transcript segments offered at once (longer content goes map-reduce)
    max_keyframes: int = 12
    max_ocr_lines: int = 20
    max_audio_tags: int = 5
    # Sounds whose clip-level score (YAMNet's mean probability over the clip) is below this are left
    # out: on the 41 labelled clips the sounds that are absent or a short tail score at most 0.19
    # ("Silence" 0.08 on a narrated recipe became the tag "silence"), those present at least 0.24.
    min_audio_score: float = 0.2
    # ImageNet labels below this probability are left out: on frames outside ImageNet's world
    # (titles, diagrams, animation) the top labels are confident-sounding noise ("web site").
    # Chosen from the demo's stored scores (docs/benchmarks.md): all 180 top-3 labels of its 27
    # items are wrong ("solar dish" 0.40 on a kitchen, "digital clock" 0.74 on football), the
    # highest at 0.74, so only a label above every wrong one seen counts as evidence.
    min_label_score: float = 0.75
    max_chars: int = 400  # per piece: one segment or line never floods the context
    # Offer the uploader's own tags as evidence. Quality measurements turn this off, so that a
    # known topic has to be found in the content rather than copied from the uploader.
    uploader_tags: bool = True


def collect_evidence(
    item_id: str,
    title: str,
    duration: float,
    metadata: dict[str, Any],
    stages: dict[str, dict[str, Any]],
    options: EvidenceOptions | None = None,
    scrub: Callable[[str], str] = lambda t: t,
    segments: Sequence[int] | None = None,
) -> ItemEvidence:
    """Number the stored evidence of one item; ``stages`` maps a stage name to its payload and
    ``scrub`` removes personal data (e-mail addresses, phone numbers) from every piece.

    Transcript segment ``i`` (0-based) is always ``S{i+1}``, whichever segments are shown, so that
    the parts of a long transcript (``segments``: the indices to show; default the first
    ``max_segments``) keep the ids and times of the whole.
    """
    o = options or EvidenceOptions()
    pieces: list[Evidence] = []

    def add(
        kind: str,
        text: str,
        start: float | None = None,
        end: float | None = None,
        label: str = "",
        number: int | None = None,
    ) -> None:
        # The flag judges the content alone: our own labels ("title: ") are not part of it.
        text = scrub(clean_text(text))[: o.max_chars]
        if text:
            n = number if number is not None else sum(1 for p in pieces if p.kind == kind) + 1
            flagged = looks_like_instruction(text)
            pieces.append(Evidence(f"{kind}{n}", kind, f"{label}{text}", start, end, flagged))

    add("M", title, label="title: ")
    for key in ("description", "creator"):
        if metadata.get(key):
            add("M", str(metadata[key]), label=f"{key}: ")
    if metadata.get("tags") and o.uploader_tags:
        add("M", ", ".join(map(str, metadata["tags"])), label="tags given by the uploader: ")
    speech = stages.get("speech", {})
    all_segments = speech.get("segments", [])
    chosen = range(min(len(all_segments), o.max_segments)) if segments is None else segments
    for i in chosen:
        seg = all_segments[i]
        add("S", seg["text"], float(seg["start"]), float(seg["end"]), number=i + 1)
    for frame in stages.get("vision", {}).get("keyframes", [])[: o.max_keyframes]:
        labels = ", ".join(
            f"{lab['name']}"
            for lab in frame.get("labels", [])[:3]
            if float(lab.get("score", 1.0)) >= o.min_label_score
        )
        add("K", labels, float(frame["time"]), None, label="picture shows: ")
    for line in stages.get("ocr", {}).get("lines", [])[: o.max_ocr_lines]:
        add("O", line["text"], float(line["time"]), None, label="on screen: ")
    tags = [
        t
        for t in stages.get("audio", {}).get("tags", [])[: o.max_audio_tags]
        if float(t.get("score", 1.0)) >= o.min_audio_score
    ]
    if tags:
        add("A", ", ".join(t["name"] for t in tags), label="sounds: ")
    return ItemEvidence(item_id, title, float(duration or 0.0), speech.get("language"), tuple(pieces))
