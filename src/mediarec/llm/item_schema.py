"""The JSON schemas of item understanding: what the model must write, and what is stored.

Kept to the keyword subset that both llama.cpp's grammar converter and our validator
(:func:`mediarec.llm.structured.schema_errors`) understand.
"""

from __future__ import annotations

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
        "description": {"type": "string", "maxLength": 400},  # 60 words; the grammar bounds it
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
        "description": ITEM_SCHEMA["properties"]["description"],
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
        "topics": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"enum": list(TOPIC_VOCABULARY)}},
        "language": ITEM_SCHEMA["properties"]["language"],
        "moments": ITEM_SCHEMA["properties"]["moments"],
    },
    "required": ["description", "tags", "topics", "language", "moments"],
}
