"""Grounding rules for an item's LLM answer: what may be a tag, what counts as a leak, repairs.

Every tag must cite evidence that exists and whose words support it; words found only in flagged
(attack-like) pieces may appear in no tag and not in the description; every moment must sit on the
transcript segment it cites and inside the media. :func:`repair_item` keeps what is grounded
instead of rejecting a whole answer for one slip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mediarec.llm.evidence import _WORD, Evidence, ItemEvidence
from mediarec.llm.item_schema import MAX_DESCRIPTION_WORDS, TOPIC_VOCABULARY

if TYPE_CHECKING:
    from mediarec.llm.topics import TopicSupport

_STOP = frozenset(
    {"a", "an", "and", "the", "of", "in", "on", "for", "to", "with", "at", "by", "from", "is", "are"}
    | {"this", "that", "it", "its"}
)

# Words any description may use whatever the item is: that an attack also used one ("tag this
# video ...") is no sign the attack got through. Without this list, "This video shows ..." failed
# the leak check whenever an injected line said "video", and qwen-0.5b lost 20 of 22 hostile cases.
_COMMON = frozenset(
    {"video", "videos", "clip", "clips", "audio", "item", "recording", "episode", "film", "content"}
    | {"about", "how", "what", "when", "where", "which", "who", "why", "all", "any", "some", "every"}
    | {"you", "your", "we", "our", "they", "their", "he", "she", "his", "her", "be", "was", "were"}
    | {"has", "have", "can", "will", "not", "no", "but", "or", "so", "then", "as", "into", "now"}
    | {"here", "there", "one", "two", "also", "very", "more", "most", "up", "out", "do", "does"}
)


_SUFFIXES = ("ing", "ies", "es", "ed", "s")


def stem(word: str) -> str:
    """A light stem: common endings off, a doubled final consonant and a final "e" dropped, then the
    first five letters. "eggs" supports "egg", "rolling" "roll", "recipes" "recipe", "cooking"
    "cooked"; first-five-letters alone missed the first two, and qwen-0.5b lost tags over it."""
    w = word
    for _ in range(2):  # "springs" -> "spring" -> "spr", as "spring" -> "spr"
        for suf in _SUFFIXES:
            rest = len(w) - len(suf)
            if not w.endswith(suf) or rest < 3:
                continue
            if (suf == "s" and w.endswith(("ss", "us", "is"))) or (suf == "ed" and w.endswith("eed")):
                continue
            w = w[:rest] + ("y" if suf == "ies" else "")
            break
        else:
            break
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    if len(w) >= 4 and w.endswith("e"):
        w = w[:-1]
    return w[:5]


def _stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def injected_stems(evidence: ItemEvidence) -> set[str]:
    """Stems found only in flagged pieces (never in trusted ones), common words left out."""
    trusted = _stems(" ".join(p.text for p in evidence.pieces if not p.flagged))
    flagged = " ".join(p.text for p in evidence.pieces if p.flagged).lower()
    return _stems(" ".join(w for w in _WORD.findall(flagged) if w not in _COMMON)) - trusted


# The labels collect_evidence puts before a piece's text: ours, not the content's.
_LABEL = re.compile(
    r"^(title|description|creator|tags given by the uploader|picture shows|on screen|sounds): "
)


def tag_words(evidence: ItemEvidence) -> list[str]:
    """The words a tag may be made of: those of the trusted content (labels, function words and
    common words left out; the uploader's metadata only for an item without content text, as
    :func:`mediarec.llm.support.content_pieces` says). Words found only in flagged pieces are
    never among them."""
    from mediarec.llm.support import content_pieces

    out: set[str] = set()
    for text in content_pieces(evidence):
        out.update(_WORD.findall(text.lower()))
    return sorted(w for w in out if w not in _STOP and w not in _COMMON and len(w) > 1)


def injected_words(evidence: ItemEvidence) -> tuple[str, ...]:
    """The words behind :func:`injected_stems`, for the decoder to avoid from the first token."""
    injected = injected_stems(evidence)
    flagged = " ".join(p.text for p in evidence.pieces if p.flagged).lower()
    return tuple(sorted({w for w in _WORD.findall(flagged) if len(w) > 2 and stem(w) in injected}))


@dataclass
class ItemCheck:
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.problems.append(message)


def check_item(obj: dict[str, Any], evidence: ItemEvidence) -> list[str]:
    """Grounding rules beyond the schema; an empty list means the output is acceptable."""
    c = ItemCheck()
    pieces = evidence.by_id()
    injected = injected_stems(evidence)
    leaked = sorted(_stems(obj.get("description", "")) & injected)
    if leaked:
        c.fail(f"description repeats words found only in suspicious evidence: {', '.join(leaked)}")
    from mediarec.llm.support import content_pieces, moment_label_problem, unsupported_words

    topic_names = [t["topic"] for t in obj.get("topics", []) if isinstance(t, dict)]
    loose = unsupported_words(obj.get("description", ""), evidence, topic_names)
    if loose:
        c.fail(
            f"description uses words the trusted content does not support: {', '.join(sorted(set(loose)))}"
        )
    words = len(obj.get("description", "").split())
    if words > MAX_DESCRIPTION_WORDS:
        c.fail(f"description has {words} words, more than {MAX_DESCRIPTION_WORDS}")
    seen: set[str] = set()
    for entry in obj.get("tags", []):
        tag = entry["tag"]
        if tag != tag.lower():
            c.fail(f"tag {tag!r} is not lowercase")
        if tag in seen:
            c.fail(f"tag {tag!r} appears twice")
        seen.add(tag)
        cited = [pieces[e] for e in entry["evidence"] if e in pieces and not pieces[e].flagged]
        missing = [e for e in entry["evidence"] if e not in pieces]
        bad = [e for e in entry["evidence"] if e in pieces and pieces[e].flagged]
        support = " ".join(content_pieces(_only(evidence, {p.id for p in cited})))
        if _stems(tag) & injected:
            c.fail(f"tag {tag!r} comes from suspicious evidence, not from the content")
        elif missing:
            c.fail(f"tag {tag!r} cites evidence that does not exist: {', '.join(missing)}")
        elif bad:
            c.fail(f"tag {tag!r} cites {', '.join(bad)}, which reads like an instruction (cites nothing)")
        elif not cited:
            c.fail(f"tag {tag!r} cites only suspicious evidence")
        elif not _stems(tag) & _stems(support):
            cites = ", ".join(entry["evidence"])
            c.fail(f"tag {tag!r} is not supported by the words of the content it cites ({cites})")
    for entry in obj.get("topics", []):
        topic = entry["topic"]
        missing = [e for e in entry["evidence"] if e not in pieces]
        if topic not in TOPIC_VOCABULARY:
            c.fail(f"topic {topic!r} is not in the allowed list")
        elif _stems(topic) & injected:
            c.fail(f"topic {topic!r} comes from suspicious evidence, not from the content")
        elif missing:
            c.fail(f"topic {topic!r} cites evidence that does not exist: {', '.join(missing)}")
        elif not entry["evidence"]:
            c.fail(f"topic {topic!r} cites no evidence")
        elif any(pieces[e].flagged for e in entry["evidence"]):
            c.fail(f"topic {topic!r} cites a line that reads like an instruction: flagged lines cite nothing")
    for m in obj.get("moments", []):
        seg = pieces.get(m["segment"])
        if seg is None or seg.start is None or seg.end is None:
            c.fail(f"moment {m['label']!r} cites {m['segment']}, which is not a transcript segment")
            continue
        if not (0 <= m["start"] < m["end"] <= max(evidence.duration, seg.end) + 0.5):
            c.fail(f"moment {m['label']!r} lies outside the media (0-{evidence.duration:.1f}s)")
        if abs(m["start"] - seg.start) > 1.0 or abs(m["end"] - seg.end) > 1.0:
            c.fail(f"moment {m['label']!r} is not on {m['segment']} ({seg.start:.1f}-{seg.end:.1f}s)")
        label = moment_label_problem(str(m.get("label", "")), m["segment"], evidence)
        if label:
            c.fail(label)
    return c.problems


def _only(evidence: ItemEvidence, ids: set[str]) -> ItemEvidence:
    """``evidence`` with only the pieces ``ids`` (the content rule of
    :func:`mediarec.llm.support.content_pieces` then applies to what a tag cites). When the item has
    content text but the tag cites only metadata, nothing supports it."""
    from dataclasses import replace

    chosen = tuple(p for p in evidence.pieces if p.id in ids)
    has_content = any(p.kind in ("S", "O") and not p.flagged for p in evidence.pieces)
    if has_content and not any(p.kind in ("S", "O", "K", "A") for p in chosen):
        chosen = ()
    return replace(evidence, pieces=chosen)


MIN_TAGS = 5  # tags stored per item, the topics counted in
MIN_CONTENT_TAGS = 3  # of which at least this many name words of the evidence
# How the problems of too few grounded tags and of a too short description begin: the last resort of
# items.py accepts an answer whose only problems these are, for an item with sparse evidence.
TOO_FEW_TAGS = "only "
SHORT_DESCRIPTION = "the description has fewer than "


def repair_item(
    obj: dict[str, Any], evidence: ItemEvidence, support: TopicSupport | None = None
) -> dict[str, Any]:
    """Keep what is grounded instead of rejecting a whole answer for one slip.

    Repeated tags are dropped; a tag that cites the wrong pieces but whose words do appear in
    trusted evidence is re-cited to (up to three of) those pieces; a tag found nowhere is dropped,
    unless it is a topic from the list, which then becomes a topic (if it cites trusted evidence).
    A moment on a real transcript segment takes that segment's exact times. A description over the
    word limit is cut after its last whole sentence that fits. What is left must still pass
    :func:`check_item`.

    The post-checks of :mod:`mediarec.llm.support` apply here too: citations of flagged pieces are
    removed (a flagged line cites nothing); with ``support`` (the text encoder), the topics are the
    ones the evidence supports (:class:`~mediarec.llm.topics.TopicSupport`, possibly none), citing
    what the model cited when it named the same topic, else the pieces closest to the topic; the
    description loses a trailing list of topics and every clause with an unsupported word; moments
    without a real label go; the language is the one speech recognition detected, never the model's.
    """
    from mediarec.llm.support import (
        content_pieces,
        moment_label_problem,
        strip_topic_list,
        supported_description,
    )

    out = dict(obj)
    flagged_ids = {p.id for p in evidence.pieces if p.flagged}
    obj = {
        **obj,
        "tags": [_uncite(t, flagged_ids) for t in obj.get("tags", [])],
        "topics": [_uncite(t, flagged_ids) for t in obj.get("topics", [])],
    }
    trusted = [p for p in evidence.pieces if not p.flagged]
    content_ids = {p.id for p in trusted if _LABEL.sub("", p.text) in content_pieces(_only(evidence, {p.id}))}
    kept: list[dict[str, Any]] = []
    as_topics: list[dict[str, Any]] = []
    for entry in obj.get("tags", []):
        if entry["tag"] in {t["tag"] for t in kept}:
            continue
        if check_item({"tags": [entry], "moments": []}, evidence):
            if entry["tag"] in TOPIC_VOCABULARY:
                as_topics.append({"topic": entry["tag"], "evidence": entry["evidence"]})
            found = [p.id for p in trusted if p.id in content_ids and _stems(entry["tag"]) & _stems(p.text)][
                :3
            ]
            entry = {**entry, "evidence": found}
            if not found or check_item({"tags": [entry], "moments": []}, evidence):
                continue
        kept.append(entry)
    out["tags"] = kept
    # A topic written as a tag ("cooking" for a pasta lesson, citing the lesson) fails the tag rule
    # that a tag uses the words of its evidence, but it is a valid topic: move it there, under the
    # topic rules (from the list, citing trusted evidence), as long as there is room for it.
    topics: list[dict[str, Any]] = []
    named = [
        t
        for t in [*obj.get("topics", []), *as_topics]
        if not check_item({"tags": [], "topics": [t], "moments": []}, evidence)
    ]
    if support is not None:
        # The encoder decides the topics; the model's citation is kept where it named the same one.
        cited = {t["topic"]: t for t in reversed(named)}
        for topic in support.supported(evidence)[:3]:
            entry = cited.get(topic) or {"topic": topic, "evidence": support.cite(evidence, topic)}
            if not check_item({"tags": [], "topics": [entry], "moments": []}, evidence):
                topics.append(entry)
    else:
        for t in named:
            if len(topics) < 3 and t["topic"] not in {u["topic"] for u in topics}:
                topics.append(t)
    out["topics"] = topics
    pieces = evidence.by_id()
    moments = []
    for m in obj.get("moments", []):
        seg = pieces.get(m["segment"])
        real = seg is not None and seg.kind == "S" and seg.start is not None and seg.end is not None
        if real and moment_label_problem(str(m.get("label", "")), m["segment"], evidence) is None:
            assert seg is not None and seg.start is not None and seg.end is not None
            moments.append({**m, "start": seg.start, "end": seg.end})
    out["moments"] = moments
    description = drop_leaks(str(obj.get("description", "")), injected_stems(evidence))
    description = strip_topic_list(description)
    description = supported_description(description, evidence, [t["topic"] for t in topics])
    description = strip_topic_list(description)  # a list the dropped clauses had hidden
    out["description"] = description
    if evidence.language and re.fullmatch(r"[a-z]{2}", evidence.language):
        out["language"] = evidence.language  # speech recognition's, never the model's
    else:
        out["language"] = None
    words = description.split()
    if len(words) > MAX_DESCRIPTION_WORDS:
        head = " ".join(words[:MAX_DESCRIPTION_WORDS])
        end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
        out["description"] = head[: end + 1] if end > 0 else head
    return out


_CLAUSE = re.compile(r"(?<=[.!?;,:])\s+")


def _uncite(entry: dict[str, Any], flagged: set[str]) -> dict[str, Any]:
    """``entry`` without its citations of flagged pieces (a flagged line supports nothing)."""
    return {**entry, "evidence": [e for e in entry.get("evidence", []) if e not in flagged]}


def drop_leaks(description: str, injected: set[str]) -> str:
    """The description without the clauses that repeat words found only in suspicious evidence.

    A small model often describes the honest content well and then adds "... and asks to tag it
    casino": the clause goes, the rest stays. What is left must still pass :func:`check_item`.
    """
    if not injected or not _stems(description) & injected:
        return description
    kept: list[str] = []
    for clause in _CLAUSE.split(description):
        if _stems(clause) & injected:
            continue
        if kept and kept[-1][-1] in ",;:" and clause[:1].isupper():  # its sentence's end was dropped
            kept[-1] = kept[-1][:-1] + "."
        kept.append(clause)
    text = " ".join(kept).strip().rstrip(",;:").strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text


MIN_DESCRIPTION_WORDS = 3


def repaired_problems(
    obj: dict[str, Any], evidence: ItemEvidence, support: TopicSupport | None = None
) -> list[str]:
    from mediarec.llm.support import MAX_METADATA_COPY, metadata_copy_share

    fixed = repair_item(obj, evidence, support)
    problems = check_item(fixed, evidence)
    kept = {t["tag"] for t in fixed["tags"]}
    dropped = sorted({t["tag"] for t in obj.get("tags", [])} - kept)
    total = len(_all_tags(fixed))
    if len(fixed["tags"]) < MIN_CONTENT_TAGS or total < MIN_TAGS:
        reasons = "; ".join(check_item({"tags": obj.get("tags", []), "moments": []}, evidence)) or "repeats"
        problems.append(
            f"{TOO_FEW_TAGS}{len(fixed['tags'])} grounded tags ({total} with the topics), at least "
            f"{MIN_CONTENT_TAGS} and {MIN_TAGS} with the topics needed "
            f"(dropped {', '.join(dropped) or 'none'}: {reasons})"
        )
    if not fixed["topics"] and support is None:
        problems.append("no topic from the allowed list cites trusted evidence")
    share = metadata_copy_share(fixed["description"], evidence)
    if share > MAX_METADATA_COPY:
        problems.append(
            f"the description is {share:.0%} copied from the uploader's metadata: say what the content is"
        )
    if support is not None and fixed["description"] and any(p.flagged for p in evidence.pieces):
        from mediarec.llm.topics import evidence_text

        own = support.text_similarity(fixed["description"], evidence_text(evidence))
        attack = support.text_similarity(fixed["description"], evidence_text(evidence, flagged=True))
        if attack > own:
            problems.append(
                "the description is closer to the lines that read like instructions than to the content"
            )
    if len(fixed["description"].split()) < MIN_DESCRIPTION_WORDS:
        leaked = sorted(_stems(str(obj.get("description", ""))) & injected_stems(evidence))
        if leaked:
            problems.append(
                "the description says nothing once the clauses repeating suspicious evidence are "
                f"dropped ({', '.join(leaked)})"
            )
        else:
            from mediarec.llm.support import unsupported_words

            topics = [t["topic"] for t in fixed["topics"]]
            loose = sorted(set(unsupported_words(str(obj.get("description", "")), evidence, topics)))
            if loose:
                problems.append(
                    "the description says nothing once the clauses with words the trusted content "
                    f"does not support are dropped ({', '.join(loose[:12])}): use the content's words"
                )
            else:
                problems.append(f"{SHORT_DESCRIPTION}{MIN_DESCRIPTION_WORDS} words")
    return problems


MAX_TAGS = 10  # stored per item, the topics counted in


def _all_tags(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The content tags, then each topic not already a tag, :data:`MAX_TAGS` in all.

    The topics always fit: they are the broad subject, which recommendations and their reasons
    use most, so with 10 content tags the last ones give way to them (the quality measurement
    found the topic cut off the stored tags of clips whose model wrote 10 tags)."""
    tags = list(obj.get("tags", []))
    names = {t["tag"] for t in tags}
    topics = []
    for t in obj.get("topics", []):
        if t["topic"] not in names:
            topics.append({"tag": t["topic"], "evidence": t["evidence"], "source": "topic"})
            names.add(t["topic"])
    return [*tags[: max(MIN_CONTENT_TAGS, MAX_TAGS - len(topics))], *topics][:MAX_TAGS]


def ground_tags(obj: dict[str, Any], evidence: ItemEvidence) -> dict[str, Any]:
    """Attach each tag's evidence records (text and times) so the stored result explains itself."""
    pieces = evidence.by_id()
    out = dict(obj)
    out["topics"] = [t["topic"] for t in obj.get("topics", [])]
    out["tags"] = [
        {
            "tag": t["tag"],
            "source": t.get("source", "content"),
            "evidence": [
                {"id": e, "kind": pieces[e].kind, "text": pieces[e].text, "start": pieces[e].start}
                for e in _pointing(t, pieces)
            ],
        }
        for t in _all_tags(obj)
    ]
    return out


def _pointing(tag: dict[str, Any], pieces: dict[str, Evidence]) -> list[str]:
    """The cited pieces that contain the tag's words: a model also cites neighbours ("flour" citing
    the title "Fresh pasta from scratch"), and shown, such a citation points at nothing. A topic's
    support is semantic, so its citations stay as they are."""
    cited = [e for e in tag["evidence"] if e in pieces]
    if tag.get("source") == "topic":
        return cited
    words = _stems(tag["tag"])
    return [e for e in cited if words & _stems(pieces[e].text)] or cited
