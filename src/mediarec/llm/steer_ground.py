"""Grounding an LLM-parsed steering query in the words of the request, then merging the rules.

A small model under a grammar fills fields it was not asked for (it copies a worked example's
language, or adds ``kinds: audio`` to "no football"). A constraint is kept only when the request's
own words support it, as a tag is kept only when its evidence contains it: a language by its name
or code, a creator or topic by its name, a kind by a word for it, a duration by its number and a
word of its direction, an age by a word of time, a free term by its words. A number must be the
request's own: a duration or an age is kept only when the request states that amount in that unit
("from the last week" is 7 days, not 49; "recent" states no number, so the model's guess goes and
the rules' reading, 30 days, takes its place). A topic needs its name outside a "while ..." clause
("to listen to while cooking" says when, not what). What the rules find
(:mod:`mediarec.rank.steer_rules`) fills the fields the grounded answer leaves empty, so a form the
rules know is never lost to a model's slip.
"""

from __future__ import annotations

import dataclasses
import re

from mediarec.rank.query import LANGUAGES, SteerQuery
from mediarec.rank.steer_rules import _FILLER, _NUMBER_WORDS, LONG_S, SHORT_S, Context

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
# Units a request states an amount in; a unit with no number before it is one of it ("last week").
_DURATION_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
}
_AGE_UNITS = {
    **dict.fromkeys(("day", "days"), 1.0),
    **dict.fromkeys(("week", "weeks"), 7.0),
    **dict.fromkeys(("month", "months"), 30.0),
    **dict.fromkeys(("year", "years"), 365.0),
    "today": 1.0,
}
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:-[a-z]+)*")  # "10min" is "10" "min"
_WHILE = re.compile(r"\bwhile [a-z'\-]+(?: [a-z'\-]+)?")  # as the rules read it: when, not what
_NEGATIONS = ("no", "not", "without", "except", "excluding", "avoid", "skip", "but", "nothing")
_LIST = ("kinds", "languages", "creators", "exclude_creators", "topics", "exclude_topics", "towards", "away")
_NAMES = {code: name for name, code in LANGUAGES.items()}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _prefixes(text: str, n: int) -> set[str]:
    return {w[:n] for w in _WORD.findall(text.lower())}


def _number(token: str) -> float | None:
    n = _NUMBER_WORDS.get(token)
    if n is not None:
        return float(n)
    if token == "half":
        return 0.5
    try:
        return float(token)
    except ValueError:
        return None


def stated_amounts(ask: str, units: dict[str, float]) -> list[float]:
    """The amounts ``ask`` states in ``units`` (in the units' base): "10 minutes" is 600 with
    duration units, "half an hour" 1800, "last week" 7 with age units (a unit alone is one of it)."""
    tokens: list[str] = []
    for tok in _TOKEN.findall(ask.lower()):
        # "forty-five" is one number; "ten-minute" is a number and a unit.
        tokens.extend([tok] if tok in _NUMBER_WORDS else tok.split("-"))
    out = []
    for i, tok in enumerate(tokens):
        if tok not in units:
            continue
        n = _number(tokens[i - 1]) if i > 0 else None
        if n is None and len(tok) == 1:
            continue  # "s" or "m" alone is a letter ("today's", "I'm"), not a unit
        before = tokens[max(0, i - 4) : i]
        if before[-1:] in (["half"], ["quarter"]) or (before[-2:-1] in (["half"], ["quarter"]) and n == 1):
            n = 0.5 if "half" in before[-2:] else 0.25  # "half an hour", "a quarter-hour"
        elif before[-3:-2] == ["quarter"] and before[-2:-1] == ["of"] and n == 1:
            n = 0.25  # "a quarter of an hour"
        out.append((1.0 if n is None else n) * units[tok])
    return out


def _is_stated(value: float, amounts: list[float]) -> bool:
    return any(abs(value - a) <= 0.01 * max(abs(a), 1e-9) for a in amounts)


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
        stated = _is_stated(value, stated_amounts(ask, _DURATION_UNITS))
        ok = phrase(direction) and ((relative and phrase(("shorter", "longer"))) or stated)
        # "short" / "long" without a number: the rules' reading of them, and only that.
        ok = ok or (field == "max_duration_s" and value == SHORT_S and phrase(("short", "quick", "brief")))
        ok = ok or (field == "min_duration_s" and value == LONG_S and phrase(("long",)))
        keep[field] = value if ok else None
        if not ok:
            dropped.append(f"{field}={value:g}")
    if q.max_age_days is not None:
        # Only an amount the request states; "recent" states none (the rules' reading fills it).
        ok = _is_stated(q.max_age_days, stated_amounts(ask, _AGE_UNITS))
        keep["max_age_days"] = q.max_age_days if ok else None
        if not ok:
            dropped.append(f"max_age_days={q.max_age_days:g}")
    stems4 = _prefixes(ask, 4)
    subject4 = _prefixes(_WHILE.sub(" ", ask.lower()), 4)  # what the request is about
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
            elif field == "topics":
                ok = bool(_prefixes(v, 4)) and _prefixes(v, 4) <= subject4
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
# Words a hard duration or age constraint stands for: beside one, they are that constraint, not a
# direction for the soft part ("funny and short" is max 5 minutes and towards "funny").
_DURATION_TERMS = frozenset(
    {"short", "shorter", "shortest", "long", "longer", "longest", "quick", "quicker", "brief", "lengthy"}
)
_AGE_TERMS = frozenset({"recent", "new", "newer", "newest", "latest", "fresh", "today"})


def tidy(q: SteerQuery, creators: tuple[str, ...]) -> SteerQuery:
    """Slot slips of a small model, put right: a negation word kept inside an excluded term ("no
    football"), a creator's name as an excluded topic, "less X" as an exclusion (it is a soft
    "away"), and soft terms that repeat a hard constraint (a topic, a creator, a kind, a language,
    or the words of a duration or an age that is set: "short", "recent")."""
    by_lower = {c.lower(): c for c in creators}
    exclude_topics: list[str] = []
    exclude_creators = list(q.exclude_creators)
    away = list(q.away)
    for term in q.exclude_topics:
        term = _LEAD_NEGATION.sub("", term)
        if term in _KIND_TERMS:
            continue  # a kind is not a topic ("but only podcasts"); the kinds field says it
        if term.startswith("less "):
            away.append(term[5:])
        elif term.removeprefix("by ") in by_lower:
            exclude_creators.append(by_lower[term.removeprefix("by ")])
        elif term:
            exclude_topics.append(term)
    hard = {*(t.lower() for t in q.topics), *exclude_topics, *(c.lower() for c in q.creators)}
    hard |= {c.lower() for c in exclude_creators} | set(_NAMES.values()) | _KIND_TERMS
    consumed: set[str] = set(_FILLER)  # "new stuff" is "new"
    if q.min_duration_s is not None or q.max_duration_s is not None:
        consumed |= _DURATION_TERMS
    if q.max_age_days is not None:
        consumed |= _AGE_TERMS

    def soft(terms: list[str]) -> tuple[str, ...]:
        out = []
        for t in terms:
            bare = t.removeprefix("by ").removeprefix("about ").removeprefix("in ")
            if set(_WORD.findall(t)) <= consumed:
                continue  # the words of a hard constraint, said again
            if bare not in hard and not any(
                c in t for c in (c.lower() for c in (*q.creators, *exclude_creators))
            ):
                out.append(t)
        return tuple(out)

    # "less X" as a direction to move towards is a slip: it is a direction away from X.
    towards = [t for t in q.towards if not t.startswith("less ")]
    away += [t[5:] for t in q.towards if t.startswith("less ")]
    # An excluded topic wins over the same topic asked for: the request said "no" to it.
    topics = tuple(t for t in q.topics if t not in exclude_topics)
    return dataclasses.replace(
        q,
        topics=topics,
        exclude_topics=tuple(exclude_topics),
        exclude_creators=tuple(exclude_creators),
        towards=soft(towards),
        away=soft(away),
    ).validate()
