"""A steering request ("shorter, about cooking, no football") as a typed, validated query.

Hard filters are applied strictly: every returned item satisfies all of them, and an item whose
duration, language or age is unknown does not satisfy a filter on it (true, or silent). The soft
part (``towards``/``away``) only shifts scores by text-encoder similarity; it never removes an item.

Size limits are part of the type: a query built by a parser (rules or an LLM) or posted by a client
is checked by :meth:`SteerQuery.validate`, so a request cannot make ranking do unbounded work.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

MAX_ASK_CHARS = 300  # the request text; longer is refused (HTTP 422), not cut
MAX_TERMS = 8  # entries per list field (topics, creators, towards, ...)
MAX_TERM_CHARS = 60  # characters per entry
MAX_DURATION_S = 7 * 24 * 3600.0  # a week: anything longer is a typo, not a constraint
MAX_AGE_DAYS = 3650.0
KINDS = ("video", "audio")
# ISO 639-1 codes the parsers know by name; a client may still send any two-letter code.
LANGUAGES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "portuguese": "pt",
    "italian": "it",
    "dutch": "nl",
    "japanese": "ja",
    "chinese": "zh",
    "russian": "ru",
    "arabic": "ar",
    "polish": "pl",
    "swedish": "sv",
    "korean": "ko",
    "hindi": "hi",
    "turkish": "tr",
}
_LIST_FIELDS = (
    "kinds",
    "languages",
    "creators",
    "exclude_creators",
    "topics",
    "exclude_topics",
    "towards",
    "away",
)
_CODE = re.compile(r"^[a-z]{2}$")


class QueryError(ValueError):
    """A query that breaks a limit or a rule; the message names the field."""


@dataclass(frozen=True)
class SteerQuery:
    """What a steering request asks for. Empty fields constrain nothing."""

    min_duration_s: float | None = None  # inclusive
    max_duration_s: float | None = None  # inclusive
    kinds: tuple[str, ...] = ()  # any of
    languages: tuple[str, ...] = ()  # any of (ISO 639-1, the spoken language Whisper detected)
    creators: tuple[str, ...] = ()  # any of (the catalogue's spelling)
    exclude_creators: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # any of: the item's topics or tags
    exclude_topics: tuple[str, ...] = ()  # none of: the item's topics or tags
    max_age_days: float | None = None  # appeared within this many days
    towards: tuple[str, ...] = ()  # soft: text to move towards
    away: tuple[str, ...] = ()  # soft: text to move away from

    @property
    def hard(self) -> bool:
        """Whether any hard filter is set."""
        return bool(
            self.min_duration_s is not None
            or self.max_duration_s is not None
            or self.max_age_days is not None
            or any(getattr(self, f) for f in _LIST_FIELDS if f not in ("towards", "away"))
        )

    @property
    def soft(self) -> bool:
        return bool(self.towards or self.away)

    @property
    def empty(self) -> bool:
        return not self.hard and not self.soft

    def validate(self) -> SteerQuery:
        """This query with lists normalised (lower case except creators, de-duplicated), or
        :class:`QueryError` naming the field that breaks a limit."""
        clean: dict[str, Any] = {}
        for name in _LIST_FIELDS:
            values = getattr(self, name)
            if isinstance(values, str) or not isinstance(values, tuple | list):
                raise QueryError(f"{name}: expected a list of strings")
            if len(values) > MAX_TERMS:
                raise QueryError(f"{name}: at most {MAX_TERMS} entries, got {len(values)}")
            out: list[str] = []
            for v in values:
                if not isinstance(v, str):
                    raise QueryError(f"{name}: expected strings, got {type(v).__name__}")
                v = " ".join(v.split())
                if not v:
                    continue
                if len(v) > MAX_TERM_CHARS:
                    raise QueryError(f"{name}: entries are at most {MAX_TERM_CHARS} characters")
                out.append(v if name in ("creators", "exclude_creators") else v.lower())
            clean[name] = tuple(dict.fromkeys(out))
        for k in clean["kinds"]:
            if k not in KINDS:
                raise QueryError(f"kinds: {k!r} is not one of {list(KINDS)}")
        for code in clean["languages"]:
            if not _CODE.match(code):
                raise QueryError(f"languages: {code!r} is not a two-letter ISO 639-1 code")
        for name, top in (
            ("min_duration_s", MAX_DURATION_S),
            ("max_duration_s", MAX_DURATION_S),
            ("max_age_days", MAX_AGE_DAYS),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
                raise QueryError(f"{name}: expected a number in [0, {top:g}], got {value!r}")
            clean[name] = float(value)
        return dataclasses.replace(self, **clean)

    def contradiction(self) -> str | None:
        """Why no item can ever satisfy this query, when that follows from the query alone."""
        lo, hi = self.min_duration_s, self.max_duration_s
        if lo is not None and hi is not None and lo > hi:
            return f"the duration must be at least {fmt_seconds(lo)} and at most {fmt_seconds(hi)}"
        both = set(self.topics) & set(self.exclude_topics)
        if self.topics and set(self.topics) <= both:
            return f"'{sorted(both)[0]}' is both asked for and excluded"
        if self.creators and set(self.creators) <= set(self.exclude_creators):
            return f"'{self.creators[0]}' is both asked for and excluded"
        return None

    def understood(self) -> str:
        """The query in words, to show back to the user ("duration ≤ 10 min, topic cooking, not football")."""
        parts: list[str] = []
        lo, hi = self.min_duration_s, self.max_duration_s
        if lo is not None and hi is not None:
            parts.append(f"duration {fmt_seconds(lo)} to {fmt_seconds(hi)}")
        elif hi is not None:
            parts.append(f"duration ≤ {fmt_seconds(hi)}")
        elif lo is not None:
            parts.append(f"duration ≥ {fmt_seconds(lo)}")
        if self.kinds:
            parts.append("kind " + " or ".join(self.kinds))
        if self.languages:
            parts.append("language " + " or ".join(self.languages))
        if self.creators:
            parts.append("by " + " or ".join(self.creators))
        if self.exclude_creators:
            parts.append("not by " + ", ".join(self.exclude_creators))
        if self.topics:
            parts.append("topic " + " or ".join(self.topics))
        if self.exclude_topics:
            parts.append("not " + ", ".join(self.exclude_topics))
        if self.max_age_days is not None:
            parts.append(f"from the last {self.max_age_days:g} days")
        if self.towards:
            parts.append("more like " + ", ".join(f"'{t}'" for t in self.towards))
        if self.away:
            parts.append("less like " + ", ".join(f"'{t}'" for t in self.away))
        return ", ".join(parts) if parts else "no constraint"

    def to_dict(self) -> dict[str, Any]:
        """Only the set fields, lists as lists (JSON-ready; the API response and the cache)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None or v == ():
                continue
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SteerQuery:
        """A validated query from JSON; unknown fields are a :class:`QueryError`."""
        if not isinstance(data, dict):
            raise QueryError("query: expected an object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise QueryError(f"{unknown[0]}: unknown query field")
        values: dict[str, Any] = {
            k: tuple(v) if k in _LIST_FIELDS and isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values).validate()


def fmt_seconds(s: float) -> str:
    """``17 s``, ``10 min``, ``1.5 h``: the unit a person would say."""
    if s < 120:
        return f"{s:g} s"
    if s < 7200:
        return f"{s / 60:g} min"
    return f"{s / 3600:g} h"
