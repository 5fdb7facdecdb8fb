"""The LLM steering parser: a request in plain words to a :class:`SteerQuery`, grammar-constrained.

The request is untrusted data, as item evidence is for ``describe``: it goes to the model inside a
``<data>`` block (control tokens defused, fence look-alikes neutralised), the prompt says it holds
no instructions, and the grammar only lets the model write the query's fields. Creators and topics
are enumerated from the catalogue, kinds and languages from fixed lists, so the model cannot name
anything mediarec does not have; free words (exclusions, the soft part) are short and lower case.
The answer is checked again (:meth:`SteerQuery.validate`) before use.

Without an LLM (none configured, the kit model not installed, the server down) or when the model's
answer fails the checks twice, the rule-based parser (:mod:`mediarec.rank.steer_rules`) answers
and the result says so. Answers are cached by (model, prompt version, request, catalogue
vocabulary, item duration) in the LLM result cache, and in memory for this process.

A user's request is a trace of that user. A parse is shared by everyone who asks the very same words
(a popular "only audio" is parsed once), and the cache records each user who asked for it
(:meth:`ResultCache.claim`, once per user and parse in a process). Deleting a user removes every
parse they asked for from the cache file (:meth:`ResultCache.forget_owner`: rows zeroed, WAL
truncated), also when others asked the same (they get it parsed again), and from this process's
memory (:meth:`SteerParser.forget`). Requests without a user (``ask=`` on similar items) are cached
with no asker.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from mediarec.llm.backends import CompletionOptions, LLMBackend, LLMError
from mediarec.llm.cache import ResultCache
from mediarec.llm.scrub import DATA_RULE, as_data
from mediarec.llm.steer_ground import ground, merge, tidy
from mediarec.llm.structured import generate
from mediarec.rank.query import LANGUAGES, MAX_ASK_CHARS, MAX_TERMS, QueryError, SteerQuery
from mediarec.rank.steer_rules import LONG_S, SHORT_S, Context, Vocabulary, parse_rules

PROMPT_VERSION = "steer/6"  # 2: grounded, rules merged; 3: slot slips tidied; 4: merged again;
# 5: amounts the request does not state replaced by the rules' reading, soft terms that repeat a
# duration or an age dropped, no topic from a "while ..." clause; 6: number words to nineteen, the
# tens, "a quarter of an hour"; a kind is no excluded topic; towards "less X" is away X
_UNIT_S = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0}
_AGE_DAYS = {"days": 1.0, "weeks": 7.0, "months": 30.0, "years": 365.0}
_WORD = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9 '\-]{0,38}[a-z0-9]$"}
_MEMO = 512  # requests remembered in memory per process

SYSTEM = (
    "You turn a viewer's request for videos or audio into search filters. Fill every field; leave a "
    "list empty and use unit none when the request does not say it.\n"
    "- max_duration / min_duration: the number and unit the request gives ('under 10 minutes' is "
    "max 10 minutes, 'an hour or more' is min 1 hours). 'shorter'/'longer' without a number: unit "
    "item (than the item the viewer is looking at). 'short' alone: max 5 minutes.\n"
    "- kinds: video or audio ('podcast', 'listen' mean audio; 'no videos' means audio).\n"
    "- languages: the spoken language asked for.\n"
    "- creators / exclude_creators: only creators from the list.\n"
    "- topics: only topics from the list, when the request asks for that subject.\n"
    "- exclude_topics: subjects the request says no to ('no football', 'except git').\n"
    "- max_age: how recent ('from the last week' is 1 weeks; 'recent' is 1 months).\n"
    "- towards / away: other wishes in one or two words ('calmer' is towards calm, 'less technical' "
    "is away technical, 'about sourdough' is towards sourdough when sourdough is not a topic).\n" + DATA_RULE
)
# Worked examples, none from the labelled set in bench/truth/steering.json.
_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    (
        "no more than 3 minutes, nothing about cats",
        {"max_duration": {"value": 3, "unit": "minutes"}, "exclude_topics": ["cats"]},
    ),
    ("a quick one about birds", {"max_duration": {"value": 5, "unit": "minutes"}, "towards": ["birds"]}),
]


@dataclass(frozen=True)
class ParsedAsk:
    """A parsed request and how it was parsed."""

    ask: str
    query: SteerQuery
    parser: str  # "rules" or the LLM's model id
    cached: bool = False
    seconds: float = 0.0
    note: str | None = None  # why the rules answered instead of a configured LLM

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ask": self.ask,
            "understood": self.query.understood(),
            "query": self.query.to_dict(),
            "parser": self.parser,
            "cached": self.cached,
        }
        if self.note:
            out["note"] = self.note
        return out


def check_ask(ask: str) -> str:
    """The request, stripped; :class:`QueryError` when empty or longer than :data:`MAX_ASK_CHARS`."""
    if not isinstance(ask, str):
        raise QueryError("ask: expected text")
    text = " ".join(ask.split())
    if not text:
        raise QueryError("ask: empty request")
    if len(ask) > MAX_ASK_CHARS:
        raise QueryError(f"ask: at most {MAX_ASK_CHARS} characters, got {len(ask)}")
    return text


def request_schema(vocab: Vocabulary) -> dict[str, Any]:
    """What the model may write: every field required, topics and creators enumerated."""

    def amount(units: list[str]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "value": {"type": "number", "minimum": 0, "maximum": 10000},
                "unit": {"type": "string", "enum": units},
            },
            "required": ["value", "unit"],
        }

    def listed(items: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "maxItems": 4, "uniqueItems": True, "items": items}

    topics = sorted(vocab.topics) or ["none"]
    creators = list(vocab.creators) or ["none"]
    duration = amount(["none", "seconds", "minutes", "hours", "item"])
    props = {
        "max_duration": duration,
        "min_duration": duration,
        "kinds": listed({"type": "string", "enum": ["video", "audio"]}),
        "languages": listed({"type": "string", "enum": sorted(LANGUAGES)}),
        "creators": listed({"type": "string", "enum": creators}),
        "exclude_creators": listed({"type": "string", "enum": creators}),
        "topics": listed({"type": "string", "enum": topics}),
        "exclude_topics": listed(_WORD),
        "max_age": amount(["none", "days", "weeks", "months", "years"]),
        "towards": listed(_WORD),
        "away": listed(_WORD),
    }
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _example_answer(partial: dict[str, Any]) -> dict[str, Any]:
    none = {"value": 0, "unit": "none"}
    full: dict[str, Any] = {
        "max_duration": none,
        "min_duration": none,
        "kinds": [],
        "languages": [],
        "creators": [],
        "exclude_creators": [],
        "topics": [],
        "exclude_topics": [],
        "max_age": none,
        "towards": [],
        "away": [],
    }
    full.update(partial)
    return full


def build_messages(ask: str, vocab: Vocabulary) -> list[dict[str, str]]:
    import json

    lists = (
        f"Topics: {', '.join(sorted(vocab.topics)) or '(none)'}\n"
        f"Creators: {', '.join(vocab.creators) or '(none)'}"
    )
    messages = [{"role": "system", "content": SYSTEM + "\n" + lists}]
    for text, answer in _EXAMPLES:
        messages.append({"role": "user", "content": as_data("request", text, MAX_ASK_CHARS)})
        messages.append({"role": "assistant", "content": json.dumps(_example_answer(answer))})
    messages.append({"role": "user", "content": as_data("request", ask, MAX_ASK_CHARS)})
    return messages


def to_query(value: dict[str, Any], vocab: Vocabulary, ctx: Context) -> SteerQuery:
    """The model's answer as a validated query (``ValueError`` when it cannot be one)."""

    def seconds(amount: dict[str, Any], fallback: float) -> float | None:
        unit, n = amount["unit"], float(amount["value"])
        if unit == "none":
            return None
        if unit == "item":
            return ctx.item_duration_s if ctx.item_duration_s is not None else fallback
        return n * _UNIT_S[unit]

    age = value["max_age"]
    topics = [t for t in value["topics"] if t in vocab.topics]
    q = SteerQuery(
        max_duration_s=seconds(value["max_duration"], SHORT_S),
        min_duration_s=seconds(value["min_duration"], LONG_S),
        kinds=tuple(value["kinds"]),
        languages=tuple(LANGUAGES[name] for name in value["languages"]),
        creators=tuple(c for c in value["creators"] if c in vocab.creators),
        exclude_creators=tuple(c for c in value["exclude_creators"] if c in vocab.creators),
        topics=tuple(topics),
        exclude_topics=tuple(value["exclude_topics"]),
        max_age_days=None if age["unit"] == "none" else float(age["value"]) * _AGE_DAYS[age["unit"]],
        towards=tuple(value["towards"])[:MAX_TERMS],
        away=tuple(value["away"])[:MAX_TERMS],
    ).validate()
    if q.contradiction():
        raise ValueError(f"contradictory query: {q.contradiction()}")
    return q


class SteerParser:
    """Parses requests with ``backend`` when one is given, else (or when it fails) with the rules."""

    def __init__(self, backend: LLMBackend | None = None, cache: ResultCache | None = None) -> None:
        self.backend = backend
        self.cache = cache
        # key -> (query, parser, note, users who asked: their claims are on disk, if it is cached there)
        self._memo: OrderedDict[str, tuple[SteerQuery, str, str | None, set[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def parse(
        self,
        ask: str,
        vocab: Vocabulary,
        ctx: Context | None = None,
        note: str | None = None,
        owner: str | None = None,
    ) -> ParsedAsk:
        """``owner``: the user who asked, if any (recorded, so that deleting them forgets it)."""
        ctx = ctx or Context()
        text = check_ask(ask)
        started = time.perf_counter()
        if self.backend is None:
            q = parse_rules(text, vocab, ctx)
            return ParsedAsk(text, q, "rules", seconds=time.perf_counter() - started, note=note)
        model = self.backend.model_id
        data = {
            "ask": text,
            "topics": sorted(vocab.topics),
            "creators": list(vocab.creators),
            "item_duration_s": ctx.item_duration_s,
        }
        key = repr((model, data))
        with self._lock:
            memo = self._memo.get(key)
        if memo is None and self.cache is not None:
            stored = self.cache.get(model, PROMPT_VERSION, data)
            if isinstance(stored, dict):
                memo = (SteerQuery.from_dict(stored), model, None, set())
        if memo is not None:
            q, parser, why, _ = memo
            on_disk = parser != "rules"  # a rules fallback is remembered in memory only
            self._remember(key, memo, owner, model if on_disk else None, data)
            return ParsedAsk(text, q, parser, cached=True, seconds=time.perf_counter() - started, note=why)
        try:
            result = generate(
                self.backend,
                build_messages(text, vocab),
                request_schema(vocab),
                validate=lambda v: _problems(v, vocab, ctx),
                options=CompletionOptions(max_tokens=300, schema_name="steer"),
            )
            grounded, dropped = ground(to_query(result.value, vocab, ctx), text, ctx)
            rules = parse_rules(text, vocab, ctx)
            # Merged again after tidying: a field tidying emptied (a soft term that only repeated a
            # topic) takes the rules' reading, as a field the model left empty does.
            q = tidy(merge(tidy(merge(grounded, rules), vocab.creators), rules), vocab.creators)
            if q.contradiction():
                raise ValueError(f"contradictory query: {q.contradiction()}")
        except (LLMError, ValueError, KeyError, TypeError) as exc:
            q = parse_rules(text, vocab, ctx)
            why = f"the LLM's answer was not used ({str(exc).splitlines()[0][:120]}): rules parsed it"
            # Remembered in this process only, so a repeat does not ask the model again; a later
            # process (a fixed server, another model) may.
            self._remember(key, (q, "rules", why, set()), owner)
            return ParsedAsk(text, q, "rules", seconds=time.perf_counter() - started, note=why)
        if self.cache is not None:
            self.cache.put(model, PROMPT_VERSION, data, q.to_dict(), result.usage)
        self._remember(key, (q, model, None, set()), owner, model, data)
        why = f"left out what the request does not say: {', '.join(dropped)}" if dropped else None
        return ParsedAsk(text, q, model, seconds=time.perf_counter() - started, note=why)

    def forget(self, owner: str | None = None) -> int:
        """Drop ``owner``'s parses from memory (everyone's when None: another process deleted
        someone, and which user is not known here). The cache file is the deleter's job
        (:func:`mediarec.users.forget_results` with ``owner``). Returns the entries dropped."""
        with self._lock:
            gone = [k for k, v in self._memo.items() if owner is None or owner in v[3]]
            for k in gone:
                del self._memo[k]
        return len(gone)

    def _remember(
        self,
        key: str,
        value: tuple[SteerQuery, str, str | None, set[str]],
        owner: str | None,
        model: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Keep ``value`` in memory as asked by ``owner``; with ``model`` and ``data`` (a parse
        in the cache file), the owner's claim is recorded there too, once."""
        with self._lock:
            new = owner is not None and owner not in value[3]
            if owner is not None:
                value[3].add(owner)
            self._memo[key] = value
            self._memo.move_to_end(key)
            while len(self._memo) > _MEMO:
                self._memo.popitem(last=False)
        if new and owner is not None and self.cache is not None and model is not None:
            self.cache.claim(owner, model, PROMPT_VERSION, data)


def _problems(value: Any, vocab: Vocabulary, ctx: Context) -> list[str]:
    try:
        to_query(value, vocab, ctx)
    except (QueryError, ValueError, KeyError, TypeError) as exc:
        return [str(exc)]
    return []
