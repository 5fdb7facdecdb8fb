"""The facts check of a generated taste profile: every claim must be backed by the user's events.

A small model writes fluent sentences that the history does not support ("You skip baking soda
and plate tectonics" for a user who never skipped anything), repeats itself, and runs into its
length limit mid-sentence. After generation the text is split into sentences, each sentence into
clauses ("You love cooking but skip football" is two claims), and each clause is classified by
its verb and checked:

- ``skip`` (skip, avoid, pass on, dislike): every named thing belongs to an item the user skipped;
- ``share``: ... to an item the user shared;
- ``watch`` (watch, view, listen; "to the end"/"finish" needs a view of at least
  :data:`FINISHED`): ... to an item the user viewed;
- ``like`` (like, love, enjoy, favourite, fan of; also a clause with no claim verb): ... to an item
  the user engaged with positively (liked, shared, or watched at least :data:`ENGAGED`);
- ``interest`` (interest, interested, curious): ... is part of one of the user's current interest
  tags (computed from the history, never a tag they removed).

"Named things" are the content words of the clause (stemmed to five letters, as the injection
check does). A word that is in no title or tag of the user's history is unsupported: the profile
may only talk about what the history shows. A clause naming a removed tag, a negated claim
("you never skip", which the history cannot prove) and a claim of a kind with no such event at
all are unsupported too. Unsupported, repeated and unfinished sentences are dropped; what is
left is the profile text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mediarec.users.interests import HistoryItem, UserHistory

ENGAGED = 0.5  # a view at least this long counts as liking the item
FINISHED = 0.9  # "to the end" needs a view at least this long

_WORD = re.compile(r"[a-z0-9]+")
_TERMINAL = re.compile(r"[.!?][\"')\]]*$")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_CLAUSE = re.compile(r";|,?\s+(?:but|while|whereas|although|though|yet)\s+|,\s+and\s+(?=you\b)", re.I)
_NEGATION = re.compile(r"\b(not|never|no|don't|dont|doesn't|didn't|rarely|seldom|hardly|nor)\b", re.I)
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "skip",
        re.compile(
            r"\b(skip\w*|avoid\w*|pass(es)? on|passed on|steer\w* clear|dislik\w*|"
            r"(don't|do not|never) (like|enjoy|care for|watch|finish)|not (a fan|interested|into))\b",
            re.I,
        ),
    ),
    ("share", re.compile(r"\bshar(e|es|ed|ing)\b", re.I)),
    ("interest", re.compile(r"\b(interest\w*|curious|curiosity)\b", re.I)),
    (
        "like",
        re.compile(
            r"\b(lik(e|es|ed|ing)|lov(e|es|ed|ing)|enjoy\w*|favou?rit\w*|fan|fond|appreciat\w*|"
            r"drawn|passion\w*|keen|prefer\w*)\b",
            re.I,
        ),
    ),
    ("watch", re.compile(r"\b(watch\w*|view\w*|listen\w*|finish\w*|complet\w*|seen|tune\w* in)\b", re.I)),
)
_TO_THE_END = re.compile(r"\b(to the end|all the way|finish\w*|complet\w*|through to)\b", re.I)
# Words a profile uses to talk about taste, which no history needs to contain. Claim verbs are
# among them: what a clause claims is judged by its kind, what it names by the other words.
_STYLE = (
    "you your yours a an and the of in on for to with at by from is are be been this that these those "
    "it its as or also too often mostly mainly especially particularly usually sometimes always "
    "frequently regularly many much more most lot lots some all any few several various variety range "
    "kind kinds sort type types different other such like likes liked liking love loves loved loving enjoy "
    "enjoys enjoyed enjoying favourite favorite favourites favorites fan fans fond appreciate drawn "
    "passion passionate keen prefer prefers preferred watch watches watched watching view views viewed "
    "listen listens listened listening finish finishes finished complete completed end way through "
    "seen tune tunes skip skips skipped skipping avoid avoids avoided pass passed steer clear dislike "
    "dislikes share shares shared sharing interest interests interested curious curiosity topics topic "
    "themes theme subjects subject content contents videos video clips clip episodes episode audio "
    "shows show items item things thing stuff taste tastes history time tend tends seem seems "
    "appear appears include includes including especially both either well into about around whether "
    "when where which who whom what how whose there here than then so very really quite just only "
    "get gets got find finds found like explore explores exploring learn learning learns new good great "
    "cover covers covering focus focused focuses centre centres center centers on up out over"
)
_STYLE_STEMS = frozenset(w[:5] for w in _STYLE.split())


def _stems(text: str) -> list[str]:
    return [w[:5] for w in _WORD.findall(text.lower()) if len(w) > 1 and w[:5] not in _STYLE_STEMS]


def _item_stems(item: HistoryItem) -> set[str]:
    return set(_stems(item.title + " " + " ".join(item.tags)))


@dataclass(frozen=True)
class Claim:
    """One sentence of a profile and the verdict on it."""

    sentence: str
    kinds: tuple[str, ...]  # one per clause: skip | share | watch | like | interest | other
    supported: bool
    why: str  # empty when supported


@dataclass(frozen=True)
class ClaimCheck:
    text: str  # the supported sentences, in order
    claims: tuple[Claim, ...]

    @property
    def unsupported(self) -> list[Claim]:
        return [c for c in self.claims if not c.supported]


def _classify(clause: str) -> str:
    found = [kind for kind, pattern in _KINDS if pattern.search(clause)]
    if "skip" in found and len(found) > 1:
        # "You enjoy composting, which is skipped": liking and skipping in one clause is no claim
        # the history can back as a whole.
        return "mixed"
    return found[0] if found else "other"


def _supports(item: HistoryItem, kind: str, finished: bool) -> bool:
    if kind == "skip":
        return item.skipped
    if kind == "share":
        return item.shared
    if kind == "watch":
        return item.watch_fraction is not None and (not finished or item.watch_fraction >= FINISHED)
    # like / other: positive engagement
    return item.liked or item.shared or (item.watch_fraction or 0.0) >= ENGAGED


def _check_clause(
    clause: str, kind: str, history: UserHistory, interests: set[str], removed: set[str]
) -> str:
    """Why the clause is unsupported; empty when it is supported."""
    words = set(_stems(clause))
    for tag in removed:
        tag_stems = set(_stems(tag))
        if tag_stems and tag_stems <= words:
            return f"names {tag!r}, a tag the user removed"
    if kind == "mixed":
        return "likes and skips the same thing in one clause"
    if _NEGATION.search(clause) and kind != "skip":
        return "a negative claim the history cannot show"
    if kind == "interest":
        known = {s for tag in interests for s in _stems(tag)}
        missing = sorted(words - known)
        return f"not among the user's interests: {', '.join(missing)}" if missing else ""
    finished = kind == "watch" and bool(_TO_THE_END.search(clause))
    backing = [it for it in history.items if _supports(it, kind, finished)]
    if not backing:
        return f"the history has no {kind if kind != 'other' else 'positive'} events"
    missing = sorted(w for w in words if not any(w in _item_stems(it) for it in backing))
    if missing:
        what = (
            "skipped"
            if kind == "skip"
            else "shared"
            if kind == "share"
            else "watched"
            if kind == "watch"
            else "enjoyed"
        )
        return f"no {what} item is about: {', '.join(missing)}"
    return ""


def check_claims(
    text: str, history: UserHistory, interests: Iterable[str] = (), removed: Iterable[str] = ()
) -> ClaimCheck:
    """Keep the sentences of ``text`` whose every claim the history backs (see the module doc)."""
    current = set(interests) - set(removed)
    gone = set(removed)
    claims: list[Claim] = []
    kept: list[str] = []
    seen: list[set[str]] = []
    sentences = [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]
    for k, sentence in enumerate(sentences):
        if k == len(sentences) - 1 and not _TERMINAL.search(sentence):
            claims.append(Claim(sentence, (), False, "unfinished: the text was cut off"))
            continue
        key = set(_WORD.findall(sentence.lower()))
        if any(len(key & other) >= 0.8 * max(len(key), len(other)) for other in seen):
            claims.append(Claim(sentence, (), False, "repeats an earlier sentence"))
            continue
        kinds: list[str] = []
        why = ""
        previous = "other"
        for clause in (c for c in _CLAUSE.split(sentence) if c and c.strip()):
            kind = _classify(clause)
            # "You enjoy cooking, gardening and jazz": a clause without a verb continues the last.
            kind = previous if kind == "other" and previous != "other" else kind
            previous = kind
            kinds.append(kind)
            why = why or _check_clause(clause, kind, history, current, gone)
        claims.append(Claim(sentence, tuple(kinds), not why, why))
        if not why:
            kept.append(sentence)
            seen.append(key)
    return ClaimCheck(" ".join(kept), tuple(claims))


def factual_sentence(interests: Iterable[str]) -> str:
    """A profile sentence built from the computed interests alone, for when no generated sentence
    survives the check: it claims only what the interests show."""
    tags = list(dict.fromkeys(interests))[:3]
    if not tags:
        return ""
    listed = tags[0] if len(tags) == 1 else ", ".join(tags[:-1]) + " and " + tags[-1]
    return f"Your history centres on {listed}."
