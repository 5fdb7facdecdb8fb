"""Grounding an LLM-parsed steering query in the words of the request, then merging the rules.

A small model under a grammar fills fields it was not asked for (it copies a worked example's
language, or adds ``kinds: audio`` to "no football"). A constraint is kept only when the request's
own words support it, as a tag is kept only when its evidence contains it: a language by its name
or code, a creator or topic by its name, a kind by a word for it, a duration by its number and a
word of its direction, an age by a word of time, a free term by its words. What the rules find
(:mod:`mediarec.rank.steer_rules`) fills the fields the grounded answer leaves empty, so a form the
rules know is never lost to a model's slip.
"""

from __future__ import annotations

import dataclasses
import re

from mediarec.rank.query import LANGUAGES, SteerQuery
from mediarec.rank.steer_rules import _NUMBER_WORDS, LONG_S, SHORT_S, Context

_WORD = re.compile(r"[a-z0-9]+")
_NO_VIDEO = re.compile(r" (?:no|not|without) videos? ")
_KIND_RE = {
    "audio": re.compile(r" (?:audio|podcasts?|listen\w*|sound|audiobooks?) "),
    "video": re.compile(r" (?:videos?|watch) "),
}
_MAX_WORDS = (
    "under",
    "less",
    "shorter",
    "below",
    "most",
    "up to",
    "within",
    "no more",
    "max",
    "or less",
    "short",
)
_MIN_WORDS = ("over", "more", "longer", "least", "above", "min", "or more")
_TIME_WORDS = ("day", "days", "week", "weeks", "month", "months", "year", "years", "today", "recent", "new")
_NEGATIONS = ("no", "not", "without", "except", "excluding", "avoid", "skip", "but", "nothing")
_LIST = ("kinds", "languages", "creators", "exclude_creators", "topics", "exclude_topics", "towards", "away")
_NAMES = {code: name for name, code in LANGUAGES.items()}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _prefixes(text: str, n: int) -> set[str]:
    return {w[:n] for w in _WORD.findall(text.lower())}


def _has_number(words: set[str], seconds: float) -> bool:
    """Whether the request names the amount ``seconds`` stands for in some unit."""
    values = {seconds, seconds / 60, seconds / 3600}
    for w in words:
        n = _NUMBER_WORDS.get(w)
        if n is None:
            try:
                n = float(w)
            except ValueError:
                continue
        if any(abs(float(n) - v) < 1e-6 for v in values):
            return True
    return "half" in words and any(abs(v - 0.5) < 1e-6 for v in values)


def ground(q: SteerQuery, ask: str, ctx: Context) -> tuple[SteerQuery, list[str]]:
    """``q`` without the constraints ``ask`` does not support, and those dropped (in words)."""
    text = " " + " ".join(_WORD.findall(ask.lower())) + " "
    words = _words(ask)
    dropped: list[str] = []
    keep: dict[str, object] = {}

    def phrase(options: tuple[str, ...]) -> bool:
        return any(f" {o} " in text for o in options)  # whole words: "min" is not "minutes"

    for field, direction in (("max_duration_s", _MAX_WORDS), ("min_duration_s", _MIN_WORDS)):
        value = getattr(q, field)
        if value is None:
            continue
        relative = ctx.item_duration_s is not None and value == ctx.item_duration_s
        ok = phrase(direction) and ((relative and phrase(("shorter", "longer"))) or _has_number(words, value))
        # "short" / "long" without a number: the rules' reading of them, and only that.
        ok = ok or (field == "max_duration_s" and value == SHORT_S and phrase(("short", "quick", "brief")))
        ok = ok or (field == "min_duration_s" and value == LONG_S and phrase(("long",)))
        keep[field] = value if ok else None
        if not ok:
            dropped.append(field)
    if q.max_age_days is not None:
        ok = phrase(_TIME_WORDS)
        keep["max_age_days"] = q.max_age_days if ok else None
        if not ok:
            dropped.append("max_age_days")
    stems4 = _prefixes(ask, 4)
    negated = phrase(_NEGATIONS)
    for field in _LIST:
        kept = []
        for v in getattr(q, field):
            if field == "kinds":
                no_video = _NO_VIDEO.search(text) is not None
                found = _KIND_RE[v].search(text) is not None
                ok = (found or no_video) if v == "audio" else (found and not no_video)
            elif field == "languages":
                ok = v in words or _NAMES.get(v, "\0") in words
            elif field in ("creators", "exclude_creators"):
                ok = f" {' '.join(_WORD.findall(v.lower()))} " in text
            elif field == "exclude_topics":
                ok = negated and _prefixes(v, 4) <= stems4
            else:
                ok = bool(_prefixes(v, 4)) and _prefixes(v, 4) <= stems4
            if field == "exclude_creators":
                ok = ok and negated
            if ok:
                kept.append(v)
            else:
                dropped.append(f"{field}={v}")
        keep[field] = tuple(kept)
    return dataclasses.replace(q, **keep).validate(), dropped  # type: ignore[arg-type]


def merge(primary: SteerQuery, rules: SteerQuery) -> SteerQuery:
    """``primary`` with each empty field taken from ``rules``."""
    fill = {}
    for f in dataclasses.fields(SteerQuery):
        mine = getattr(primary, f.name)
        if mine is None or mine == ():
            fill[f.name] = getattr(rules, f.name)
    return dataclasses.replace(primary, **fill).validate()


_LEAD_NEGATION = re.compile(r"^(?:no|not|without|except|excluding|avoid|skip|nothing about|anything but)\s+")
_KIND_TERMS = frozenset({"audio", "video", "videos", "podcast", "podcasts", "audio version", "video version"})


def tidy(q: SteerQuery, creators: tuple[str, ...]) -> SteerQuery:
    """Slot slips of a small model, put right: a negation word kept inside an excluded term ("no
    football"), a creator's name as an excluded topic, "less X" as an exclusion (it is a soft
    "away"), and soft terms that repeat a hard constraint (a topic, a creator, a kind, a language)."""
    by_lower = {c.lower(): c for c in creators}
    exclude_topics: list[str] = []
    exclude_creators = list(q.exclude_creators)
    away = list(q.away)
    for term in q.exclude_topics:
        term = _LEAD_NEGATION.sub("", term)
        if term.startswith("less "):
            away.append(term[5:])
        elif term.removeprefix("by ") in by_lower:
            exclude_creators.append(by_lower[term.removeprefix("by ")])
        elif term:
            exclude_topics.append(term)
    hard = {*(t.lower() for t in q.topics), *exclude_topics, *(c.lower() for c in q.creators)}
    hard |= {c.lower() for c in exclude_creators} | set(_NAMES.values()) | _KIND_TERMS

    def soft(terms: list[str]) -> tuple[str, ...]:
        out = []
        for t in terms:
            bare = t.removeprefix("by ").removeprefix("about ").removeprefix("in ")
            if bare not in hard and not any(
                c in t for c in (c.lower() for c in (*q.creators, *exclude_creators))
            ):
                out.append(t)
        return tuple(out)

    # An excluded topic wins over the same topic asked for: the request said "no" to it.
    topics = tuple(t for t in q.topics if t not in exclude_topics)
    return dataclasses.replace(
        q,
        topics=topics,
        exclude_topics=tuple(exclude_topics),
        exclude_creators=tuple(exclude_creators),
        towards=soft(list(q.towards)),
        away=soft(away),
    ).validate()
