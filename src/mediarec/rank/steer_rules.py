"""The rule-based steering parser: the common forms of a request, without any LLM.

Handles durations ("under 5 minutes", "between 5 and 15 minutes", "an hour or more", "short",
"shorter than this"), kinds ("audio", "podcasts", "no videos"), languages ("in French"), creators
("by Kitchen Notes", "not by Touchline TV"), recency ("from the last week", "recent"), exclusions
("no football", "except git", "anything but music"), topics ("about cooking", or a catalogue topic
named outright) and a soft part ("about sourdough" when that is no catalogue topic, "more like
night trains", "less technical", "calmer"). Anything else in the request is ignored: the parser
never turns unrecognised words into constraints, so an instruction hidden in a request is inert.

Each rule consumes the text it matched, so "an hour or more" is a duration and not "more ...".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from mediarec.rank.query import KINDS, LANGUAGES, SteerQuery

SHORT_S = 300.0  # "short" without a number
LONG_S = 1200.0  # "long" without a number
RECENT_DAYS = 30.0  # "recent", "new", "this month"

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "half an": 0.5,
    "half a": 0.5,
}
_NUM = (
    r"(\d+(?:\.\d+)?|half an?|forty-five|"
    + "|".join(sorted((w for w in _NUMBER_WORDS if not w.startswith("half")), key=len, reverse=True))
    + r")"
)
_UNIT = r"(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
_MAX_WORDS = (
    r"(?:(?:nothing|not|no) (?:longer than|more than|over)|shorter than|less than|under|below|at most|up to"
    r"|max(?:imum)?|within)"
)
_MIN_WORDS = (
    r"(?:(?:nothing|not|no) (?:shorter than|less than|under)|longer than|more than|over|above|at least"
    r"|min(?:imum)?)"
)
_DELIM = re.compile(r"[^a-z0-9'\- ]|\b(?:and|or|but|with|please|instead|in|from|by|that|which|only)\b")
# Comparatives that mean "more of this quality" (shorter/longer/newer are hard filters instead).
_COMPARATIVES = {
    "calmer": "calm",
    "quieter": "quiet",
    "funnier": "funny",
    "lighter": "light",
    "gentler": "gentle",
    "simpler": "simple",
    "easier": "easy",
    "happier": "happy",
    "slower": "slow",
    "faster": "fast",
    "deeper": "deep",
    "darker": "dark",
    "louder": "loud",
    "softer": "soft",
    "livelier": "lively",
    "sillier": "silly",
    "weirder": "weird",
    "cosier": "cosy",
    "cozier": "cozy",
    "sadder": "sad",
}
_MOODS = (
    "funny",
    "calm",
    "relaxing",
    "quiet",
    "upbeat",
    "cheerful",
    "gentle",
    "serious",
    "intense",
    "uplifting",
    "sad",
    "cosy",
    "cozy",
    "light-hearted",
    "technical",
    "advanced",
)
_KIND_WORDS = {
    "audio": "audio",
    "podcast": "audio",
    "podcasts": "audio",
    "listen": "audio",
    "sound only": "audio",
    "audiobook": "audio",
    "episode": None,
    "video": "video",
    "videos": "video",
    "watch": "video",
}
_FILLER = {
    "videos",
    "video",
    "clips",
    "clip",
    "content",
    "stuff",
    "things",
    "ones",
    "items",
    "please",
    "the",
    "a",
    "an",
    "any",
    "anything",
    "something",
    "more",
    "this",
    "that",
    "it",
}


@dataclass(frozen=True)
class Vocabulary:
    """What the catalogue knows: topics (lower case) and creators (its own spelling)."""

    topics: frozenset[str] = frozenset()
    creators: tuple[str, ...] = ()

    @classmethod
    def of(cls, topics: Iterable[Iterable[str]], creators: Iterable[str | None]) -> Vocabulary:
        flat = {t.lower() for ts in topics for t in ts if t}
        return cls(frozenset(flat), tuple(sorted({c for c in creators if c}, key=lambda c: (-len(c), c))))


@dataclass(frozen=True)
class Context:
    """Where the request is made: on an item's page, "shorter" means shorter than that item."""

    item_duration_s: float | None = None


@dataclass
class _State:
    text: str
    q: dict[str, list[str]] = field(default_factory=dict)
    lo: float | None = None
    hi: float | None = None
    age: float | None = None

    def add(self, key: str, value: str) -> None:
        values = self.q.setdefault(key, [])
        if value and value not in values:
            values.append(value)

    def take(self, pattern: str) -> list[re.Match[str]]:
        """Every match of ``pattern``, consumed (replaced by a delimiter) so later rules skip it."""
        found = list(re.finditer(pattern, self.text))
        if found:
            self.text = re.sub(pattern, " ; ", self.text)
        return found


def parse_rules(ask: str, vocab: Vocabulary | None = None, ctx: Context | None = None) -> SteerQuery:
    """The constraints the rules recognise in ``ask``; a validated :class:`SteerQuery`."""
    vocab = vocab or Vocabulary()
    ctx = ctx or Context()
    text = unicodedata.normalize("NFKC", ask).lower().replace("\u2019", "'")
    st = _State(" " + re.sub(r"\s+", " ", text) + " ")
    _creators(st, vocab)
    _durations(st, ctx)
    _recency(st)
    _kinds(st)
    _languages(st)
    _exclusions(st, vocab)
    st.take(r"\bwhile [a-z'\-]+(?: [a-z'\-]+)?")  # "to listen to while cooking": when, not what
    _soft(st, vocab)
    _topics(st, vocab)
    q = SteerQuery(
        min_duration_s=st.lo,
        max_duration_s=st.hi,
        max_age_days=st.age,
        **{k: tuple(v) for k, v in st.q.items()},
    )
    return q.validate()


def _creators(st: _State, vocab: Vocabulary) -> None:
    for name in vocab.creators:
        pattern = (
            r"(\b(?:not|no|without|except|excluding|skip|avoid|nothing|anything but)"
            r"(?:\s+(?:anything|stuff|videos?|things))?(?:\s+(?:by|from))?\s+)?\b"
            + re.escape(name.lower())
            + r"\b"
        )
        for m in st.take(pattern):
            st.add("exclude_creators" if m.group(1) else "creators", name)


def _seconds(number: str, unit: str) -> float:
    value = _NUMBER_WORDS.get(number)
    n = float(value) if value is not None else float(number)
    return n * _UNIT_S[unit[0]]


def _durations(st: _State, ctx: Context) -> None:
    for m in st.take(rf"\bbetween {_NUM}(?: {_UNIT})? and {_NUM} {_UNIT}"):
        unit_a = m.group(2) or m.group(4)
        st.lo, st.hi = _seconds(m.group(1), unit_a), _seconds(m.group(3), m.group(4))
    for m in st.take(rf"\b{_NUM} ?{_UNIT}(?: long)? or (?:more|longer|over)\b"):
        st.lo = _seconds(m.group(1), m.group(2))
    for m in st.take(rf"\b{_NUM} ?{_UNIT}(?: long)? or (?:less|shorter|under)\b"):
        st.hi = _seconds(m.group(1), m.group(2))
    for m in st.take(rf"\b{_MAX_WORDS} {_NUM} ?{_UNIT}(?: long)?"):
        st.hi = _seconds(m.group(1), m.group(2))
    for m in st.take(rf"\b{_MIN_WORDS} {_NUM} ?{_UNIT}(?: long)?"):
        st.lo = _seconds(m.group(1), m.group(2))
    # Relative to the item whose page this is; without one, the words fall back to short/long.
    if st.take(r"\bshorter(?: than (?:this|that|it))?\b"):
        st.hi = ctx.item_duration_s if ctx.item_duration_s is not None else (st.hi or SHORT_S)
    if st.take(r"\blonger(?: than (?:this|that|it))?\b"):
        st.lo = ctx.item_duration_s if ctx.item_duration_s is not None else (st.lo or LONG_S)
    if st.hi is None and st.take(r"\b(?:short|quick|brief)\b"):
        st.hi = SHORT_S
    if st.lo is None and st.take(
        r"(?:^ |; |\b(?:a|something) )long\b|\blong (?:videos?|clips?|ones?|episodes?|podcasts?|reads?)\b"
    ):
        st.lo = LONG_S


def _recency(st: _State) -> None:
    for m in st.take(r"\b(?:last|past) (\d+|" + "|".join(_NUMBER_WORDS) + r") (day|week|month)s?\b"):
        n = _NUMBER_WORDS.get(m.group(1)) or float(m.group(1))
        st.age = float(n) * {"day": 1, "week": 7, "month": 30}[m.group(2)]
    if st.take(r"\btoday\b|\blast 24 hours\b"):
        st.age = 1.0
    if st.take(r"\b(?:this|last|past) week\b"):
        st.age = 7.0
    if st.take(r"\b(?:this|last|past) month\b"):
        st.age = RECENT_DAYS
    if st.take(r"\b(?:this|last|past) year\b"):
        st.age = 365.0
    if st.age is None and st.take(r"\b(?:recent|new|newest|latest|fresh)\b"):
        st.age = RECENT_DAYS


def _kinds(st: _State) -> None:
    for m in st.take(r"\b(?:no|not|without|except|anything but) (audio|podcasts?|videos?)\b"):
        banned = "video" if m.group(1).startswith("video") else "audio"
        for k in KINDS:
            if k != banned:
                st.add("kinds", k)
    for word, kind in _KIND_WORDS.items():
        if kind and st.take(rf"\b{word}(?: version| only| ones?)?\b"):
            st.add("kinds", kind)


def _languages(st: _State) -> None:
    for name, code in LANGUAGES.items():
        if st.take(rf"\b{name}\b"):
            st.add("languages", code)


def _phrase(raw: str) -> str:
    """The subject words at the start of ``raw`` (up to a delimiter), filler dropped."""
    head = _DELIM.split(raw, maxsplit=1)[0]
    words = [w for w in head.split() if w not in _FILLER][:3]
    return " ".join(words).strip("-' ")


def _exclusions(st: _State, vocab: Vocabulary) -> None:
    pattern = re.compile(
        r"\b(?:no|not|without|except|excluding|avoid|skip|anything but|nothing about|not about)\s+([^;,.]+)"
    )
    # One at a time, consuming only the negation and its subject: "no cooking and no travel" is two.
    while (m := pattern.search(st.text)) is not None:
        head = _DELIM.split(m.group(1), maxsplit=1)[0]
        st.text = st.text[: m.start()] + " ; " + st.text[m.start(1) + len(head) :]
        subject = _phrase(head)
        if subject:
            st.add("exclude_topics", _topic_form(subject, vocab))
        # "without football or music": catalogue topics listed after the first are excluded too.
        at = m.start() + 3
        while (more := re.match(r"\s*(?:,|or|and|nor)\s+([a-z'\-]+)", st.text[at:])) is not None:
            topic = _topic_form(more.group(1), vocab)
            if topic not in vocab.topics:
                break
            st.add("exclude_topics", topic)
            st.text = st.text[:at] + " ; " + st.text[at + more.end() :]


def _topic_form(word: str, vocab: Vocabulary) -> str:
    """A catalogue topic when ``word`` names one (also in the plural), else the word as said."""
    if word in vocab.topics:
        return word
    if word.endswith("s") and word[:-1] in vocab.topics:
        return word[:-1]
    return word


def _soft(st: _State, vocab: Vocabulary) -> None:
    for m in st.take(r"\bmore like\s+([^;,.]+)"):
        if subject := _phrase(m.group(1)):
            st.add("towards", subject)
    for m in st.take(r"\bless\s+([^;,.]+)"):
        if subject := _phrase(m.group(1)):
            st.add("away", subject)
    for word, base in _COMPARATIVES.items():
        if st.take(rf"\b{word}\b"):
            st.add("towards", base)
    for m in st.take(r"\babout\s+([^;,.]+)"):
        subject = _phrase(m.group(1))
        if not subject:
            continue
        topic = _topic_form(subject, vocab)
        st.add("topics" if topic in vocab.topics else "towards", topic)
    for mood in _MOODS:
        if st.take(rf"\b{re.escape(mood)}\b"):
            st.add("towards", mood)


def _topics(st: _State, vocab: Vocabulary) -> None:
    for topic in sorted(vocab.topics, key=len, reverse=True):
        if st.take(rf"\b{re.escape(topic)}s?\b"):
            st.add("topics", topic)
