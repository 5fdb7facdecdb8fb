"""Support, not just citation: post-checks that every stored word follows from trusted evidence.

The grounding check of :mod:`mediarec.llm.grounding` asks that a tag cite a piece that exists and
shares a word with it. That let through a description that was a pasted injected sentence, a list of
eleven genres, a key moment labelled "0.0-5.0s", and words the uploader's metadata put there. The
checks here run after generation, whatever the model did:

* **Description words.** Every content word of the description must occur in trusted *content*
  evidence (speech, on-screen text, keyframe and sound labels; the uploader's metadata only when
  the item has no content text at all, as for a movie catalogue) or be a common word of
  :data:`COMMON`. A clause with another word is dropped (:func:`supported_description`).
* **Not a copy, not a list.** A trailing list of topic or genre words is cut
  (:func:`strip_topic_list`); a description made mostly of word runs copied from the uploader's
  metadata is refused (:func:`metadata_copy_share`).
* **Key moments carry a real label** (:func:`moment_label_problem`): words, not a time range, on a
  segment that is not flagged, in words the trusted content supports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from mediarec.llm.evidence import _WORD, ItemEvidence
from mediarec.llm.item_schema import TOPIC_VOCABULARY

CONTENT_KINDS = ("S", "O", "K", "A")

# Words any description may use whatever the item (function words and the vocabulary of describing
# a piece of media). A word outside this list must come from the item's trusted content. Words that
# claim what the media holds (music, speech, a narrator, a scene) are not here: the fast model wrote
# "The music is musical." for a football drill; they need evidence (a sound tag, a transcript).
COMMON = frozenset(
    """
    a an the and or but nor so yet if then than as of in on at by for from to into onto over under
    with without within about above below after before during while until since through across along
    around between among behind beyond near off out up down upon via per each every all any some no
    not none both either neither few many much more most less least other another such same own only
    just also even still too very quite rather really well again once twice here there where when
    what which who whom whose why how this that these those it its itself they them their theirs we
    us our ours you your yours he him his she her hers i me my one two three four five six seven
    eight nine ten first second third last next new old good great best better simple basic key main
    short long quick easy small large big whole full part parts several various different is are was
    were be been being am do does did done doing has have had having can could will would shall
    should may might must let lets get gets got make makes made making take takes took taken use
    uses used using show shows showed shown showing explain explains explained explaining
    explanation describe describes described covering cover covers covered discuss discusses
    discussed discussion present presents presented presenting introduce introduces introduced
    introduction demonstrate demonstrates demonstrated demonstration teach teaches taught teaching
    learn learns learning learned guide guides guided walk walks walkthrough through step steps tip
    tips way ways method methods technique techniques idea ideas basics overview look looks focus
    focuses focused include includes included including feature features featured featuring talk
    talks talking viewer viewers audience people person someone things thing something anything
    everything lot lots kind kinds type types example examples video videos clip clips audio
    recording recordings episode content item lesson lessons tutorial tutorials course session talk
    segment frame frames screen text title begins begin starts start started ends end ending finally
    later then time times minute minutes second seconds hour hours day days today now before after
    home how topic subject
    """.split()  # noqa: SIM905
)

_STOP = frozenset(
    {"a", "an", "and", "the", "of", "in", "on", "for", "to", "with", "at", "by", "from", "is", "are"}
)
_LABEL = re.compile(
    r"^(title|description|creator|tags given by the uploader|picture shows|on screen|sounds): "
)
_CLAUSE = re.compile(r"(?<=[.!?;,:])\s+")


def _stem(word: str) -> str:
    from mediarec.llm.grounding import stem

    return stem(word)


@cache
def _common_stems() -> frozenset[str]:
    return frozenset(_stem(w) for w in COMMON)


def content_pieces(evidence: ItemEvidence) -> list[str]:
    """The texts a stored word may come from: trusted content pieces (our labels off); the
    uploader's metadata only when the item has no trusted speech or on-screen text, and never the
    creator's name (a silent clip by "Unknown" was tagged "unknown": a name says nothing of the item)."""
    trusted = [p for p in evidence.pieces if not p.flagged]
    content = [p for p in trusted if p.kind in CONTENT_KINDS]
    if not any(p.kind in ("S", "O") for p in content):
        content = [p for p in trusted if not p.text.startswith("creator: ")]
    return [_LABEL.sub("", p.text) for p in content]


def supported_stems(evidence: ItemEvidence, extra: Iterable[str] = ()) -> set[str]:
    """Stems of :func:`content_pieces`, of ``extra`` (the item's own topics), and common words."""
    words = _WORD.findall(" ".join([*content_pieces(evidence), *extra]).lower())
    return {_stem(w) for w in words} | _common_stems()


def unsupported_words(text: str, evidence: ItemEvidence, extra: Iterable[str] = ()) -> list[str]:
    """The words of ``text`` that neither trusted content nor :data:`COMMON` supports. Words in
    other scripts count too: "rоulеttе" in Cyrillic look-alikes is no word of a cooking lesson."""
    ok = supported_stems(evidence, extra)
    out = []
    for w in re.findall(r"[^\W_]+", text.lower()):
        if w in _STOP or w.isdigit():
            continue
        if not _WORD.fullmatch(w) or _stem(w) not in ok:
            out.append(w)
    return out


def supported_description(description: str, evidence: ItemEvidence, extra: Iterable[str] = ()) -> str:
    """The description without the clauses that use a word trusted content does not support, and
    without those made of common words only."""
    kept: list[str] = []
    common = _common_stems()
    for clause in _CLAUSE.split(description):
        if unsupported_words(clause, evidence, extra):
            continue
        # A clause of common words only says nothing ("The scene is described as a.").
        if not any(_stem(w) not in common for w in _WORD.findall(clause.lower()) if w not in _STOP):
            continue
        if kept and kept[-1][-1] in ",;:" and clause[:1].isupper():
            kept[-1] = kept[-1][:-1] + "."
        kept.append(clause)
    text = " ".join(kept).strip().rstrip(",;:").strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]  # its first clause may have gone


_TOPICS = frozenset(TOPIC_VOCABULARY) | {"genre", "genres", "topics", "tags", "categories", "sci-fi"}
_LIST_HEAD = re.compile(r"(?i)\b(genres?|topics?|tags?|categories|keywords?)\s*:\s*")


def strip_topic_list(description: str) -> str:
    """``description`` without a trailing list of topic words ("... Genres: action, drama, sports"
    or "..., comedy, crime, drama, family."): three or more short entries, most of them topics."""
    text = description.strip()
    head = _LIST_HEAD.search(text)
    if head is not None:
        rest = text[head.end() :]
        if _is_topic_list(rest):
            return _close(text[: head.start()])
    sentences = re.split(r"(?<=[.!?])\s+", text)
    last = sentences[-1]
    parts = [p.strip() for p in re.split(r",|\band\b", last.rstrip(".!? ")) if p.strip()]
    # Walk back from the end while the entries are topic words.
    n = 0
    for p in reversed(parts):
        if p.lower() in _TOPICS:
            n += 1
        else:
            break
    if n >= 3:
        cut = last
        for _ in range(n):
            cut = re.sub(r"(,\s*|\s+and\s+|\s+)?[A-Za-z -]+[.!? ]*$", "", cut, count=1)
        return _close(" ".join([*sentences[:-1], cut]))
    return text


def _is_topic_list(rest: str) -> bool:
    parts = [p.strip().lower() for p in re.split(r",|\band\b", rest.rstrip(".!? ")) if p.strip()]
    return len(parts) >= 2 and sum(p in _TOPICS for p in parts) >= max(2, len(parts) // 2 + 1)


def _close(text: str) -> str:
    text = text.strip().rstrip(",;:-").strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text


def metadata_copy_share(description: str, evidence: ItemEvidence, run: int = 4) -> float:
    """The share of the description's words that sit in a run of ``run`` or more consecutive words
    copied from one metadata piece (the uploader's description, tags or creator; the title, which a
    description may well repeat, is left out)."""
    words = _WORD.findall(description.lower())
    if not words:
        return 0.0
    covered = [False] * len(words)
    for p in evidence.pieces:
        if p.kind != "M" or p.text.startswith("title: "):
            continue
        source = " " + " ".join(_WORD.findall(_LABEL.sub("", p.text).lower())) + " "
        for i in range(len(words) - run + 1):
            if " " + " ".join(words[i : i + run]) + " " in source:
                for j in range(i, i + run):
                    covered[j] = True
    return sum(covered) / len(words)


MAX_METADATA_COPY = 0.5  # more than half the words copied from the uploader: not a description

_TIME_LABEL = re.compile(r"^[\W\d_]*$|^\W*\d+([.:]\d+)*\s*(s|sec|seconds?)?\s*(-|–|to)\s*\d")


def moment_label_problem(label: str, segment_id: str, evidence: ItemEvidence) -> str | None:
    """Why a key moment's label is not a real one, or None: empty or a time range; on a flagged
    segment; or using words the trusted content does not support."""
    text = label.strip()
    piece = evidence.by_id().get(segment_id)
    if not text or _TIME_LABEL.match(text) or not re.search(r"[a-zA-Z]{3}", text):
        return f"moment label {label!r} is a time or empty, not a label"
    if piece is not None and piece.flagged:
        return f"moment {label!r} sits on {segment_id}, which reads like an instruction"
    bad = unsupported_words(text, evidence)
    if bad:
        return f"moment label {label!r} uses words the content does not support: {', '.join(bad)}"
    return None
