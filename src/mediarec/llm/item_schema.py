"""The JSON schemas of item understanding: what the model must write, and what is stored.

Kept to the keyword subset that both llama.cpp's grammar converter and our validator
(:func:`mediarec.llm.structured.schema_errors`) understand.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DESCRIPTION_WORDS = 60
TAG_PATTERN = r"^[a-z0-9][a-z0-9 '\-]{0,38}[a-z0-9]$"
EVIDENCE_PATTERN = r"^[SKOAM][0-9]{1,4}$"

# Broad topics come from this fixed list (the grammar allows nothing else), so that an abstract subject
# the content never names ("cooking" for a pasta lesson) can be stated without opening a door for
# injected words: a tag must use the words of its evidence, a topic must be one of these and cite
# trusted evidence. Film genres are included for movie catalogues.
TOPIC_VOCABULARY: tuple[str, ...] = (
    *("action", "adventure", "animation", "art", "audiobook", "beauty", "business", "cars", "children"),
    *("food",),
    *("comedy", "cooking", "crime", "dance", "documentary", "drama", "education", "family", "fantasy"),
    *("fashion", "film noir", "finance", "fitness", "football", "gaming", "gardening", "health"),
    *("history", "home", "horror", "languages", "literature", "music", "musical", "mystery", "nature"),
    *("news", "parenting", "pets", "photography", "politics", "programming", "religion", "romance"),
    *("science", "science fiction", "sports", "technology", "thriller", "travel", "war", "western"),
)

ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # 60 words; the grammar bounds it. The minimum keeps a model from answering with next to
        # nothing (qwen-1.5b wrote under 3 words, twice, for an ML-1M movie).
        "description": {"type": "string", "minLength": 12, "maxLength": 400},
        "tags": {
            "type": "array",
            "minItems": 5,
            "maxItems": 10,
            "items": {
                "type": "object",
                "properties": {
                    "tag": {"type": "string", "pattern": TAG_PATTERN},
                    "evidence": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 3,
                        "items": {"type": "string", "pattern": EVIDENCE_PATTERN},
                    },
                },
                "required": ["tag", "evidence"],
            },
        },
        "topics": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "topic": {"type": "string", "enum": list(TOPIC_VOCABULARY)},
                    "evidence": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 3,
                        "items": {"type": "string", "pattern": EVIDENCE_PATTERN},
                    },
                },
                "required": ["topic", "evidence"],
            },
        },
        "language": {"type": "string", "pattern": "^[a-z]{2}$"},
        "moments": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "segment": {"type": "string", "pattern": "^S[0-9]{1,4}$"},
                    "start": {"type": "number"},
                    "end": {"type": "number"},
                    "label": {"type": "string", "maxLength": 80},
                },
                "required": ["segment", "start", "end", "label"],
            },
        },
    },
    "required": ["description", "tags", "topics", "language", "moments"],
}


# What is stored (extractor ``llm``): the answer with the topics as names and each tag's evidence as
# records (the topics also appear among the tags, with ``source`` "topic").
STORED_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "maxLength": 400},
        "tags": {
            "type": "array",
            "minItems": 5,
            "maxItems": 10,
            "items": {
                "type": "object",
                "properties": {
                    "tag": {"type": "string", "pattern": TAG_PATTERN},
                    "source": {"enum": ["content", "topic"]},
                    "evidence": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string", "pattern": EVIDENCE_PATTERN},
                                "kind": {"enum": ["S", "K", "O", "A", "M"]},
                                "text": {"type": "string"},
                                "start": {"type": ["number", "null"]},
                            },
                            "required": ["id", "kind", "text", "start"],
                        },
                    },
                },
                "required": ["tag", "source", "evidence"],
            },
        },
        # No topic when the text encoder finds none supported (a colour-bar test card): show less.
        "topics": {"type": "array", "minItems": 0, "maxItems": 3, "items": {"enum": list(TOPIC_VOCABULARY)}},
        # Speech recognition's language; null without speech (never the model's guess).
        "language": {"type": ["string", "null"], "pattern": "^[a-z]{2}$"},
        "moments": ITEM_SCHEMA["properties"]["moments"],
    },
    "required": ["description", "tags", "topics", "language", "moments"],
}


# Two words of at most 19 letters stay within TAG_PATTERN's 40 characters. Long single words
# ("photosynthesis") matter more to a catalogue than three-word phrases, which are rare as tags.
MAX_TAG_WORDS = 2
MAX_TAG_WORD_CHARS = 19


def words_pattern(words: list[str]) -> str:
    """A regex matching exactly one of ``words`` (letters and digits only), as a trie of groups.

    A flat alternation of hundreds of words would make llama.cpp's grammar keep one stack per word
    at every step; the trie shares prefixes, so a step weighs at most a few dozen branches.
    """

    def trie(group: list[str]) -> str:
        if not group:
            return ""
        by_first: dict[str, list[str]] = {}
        for w in group:
            by_first.setdefault(w[0], []).append(w[1:])
        branches = []
        for first, rests in sorted(by_first.items()):
            ends = "" in rests
            inner = trie([r for r in rests if r])
            if not inner:
                branches.append(first)
            elif ends:
                branches.append(f"{first}({inner})?")
            else:
                branches.append(first + inner if "|" not in inner else f"{first}({inner})")
        return branches[0] if len(branches) == 1 else "|".join(branches)

    return trie(sorted(set(words)))


MAX_MOMENTS = 5
SECONDS_PER_MOMENT = 30.0  # a 20-second clip gets one key moment, a 10-minute talk five


def max_moments(duration: float, segments: int) -> int:
    """How many key moments an item may have: one per started half minute, at most
    :data:`MAX_MOMENTS`, and never more than it has transcript segments (none without a transcript).
    Short clips otherwise got a "moment" on every sentence, which costs ~30 tokens each."""
    by_length = math.ceil(duration / SECONDS_PER_MOMENT) if duration > 0 else MAX_MOMENTS
    return max(0, min(MAX_MOMENTS, segments, max(1, by_length)))


def item_schema_for(words: list[str], moments: int = MAX_MOMENTS) -> dict[str, Any]:
    """:data:`ITEM_SCHEMA` with each tag limited to phrases of ``words`` (the trusted evidence's
    own words), so constrained decoding cannot write a tag the content does not contain, and at
    most ``moments`` key moments (see :func:`max_moments`). With fewer than 3 words (nothing to
    build 3 grounded tags of) tags keep the plain pattern."""
    props = dict(ITEM_SCHEMA["properties"])
    props["moments"] = {**props["moments"], "maxItems": moments}
    usable = sorted({w for w in words if w.isascii() and w.isalnum() and len(w) <= MAX_TAG_WORD_CHARS})
    if len(usable) >= 3:
        word = f"({words_pattern(usable)})"
        pattern = f"^{word}( {word}){{0,{MAX_TAG_WORDS - 1}}}$"
        tags = props["tags"]
        tag_item = {
            **tags["items"],
            "properties": {**tags["items"]["properties"], "tag": {"type": "string", "pattern": pattern}},
        }
        props["tags"] = {**tags, "items": tag_item}
    return {**ITEM_SCHEMA, "properties": props}
