"""Structured generation: constrained decoding, then a check, then one retry with the reasons.

Constrained decoding makes the *shape* right most of the time, but not always: an HTTP server may
enforce less of the schema than it accepts, an answer can be cut at ``max_tokens``, and rules such
as "tags are lower case" or "no duplicate tags" are beyond a grammar. So every object is checked
against the schema here, by a small validator of our own (the keywords the LLM layer's schemas use;
no dependency), plus an optional semantic check supplied by the caller. A failed check is shown to
the model once, as a user message, which fixes most slips of a small model; a second failure
raises :class:`LLMOutputError`, which the caller records against that item before going on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mediarec.llm.backends import CompletionOptions, LLMBackend, LLMOutputError, Message, Usage

# A semantic check: the reasons the object is wrong (empty or None when it is fine). Raising
# ValueError with the reason works too.
Validator = Callable[[Any], Iterable[str] | str | None]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    # bool is an int in Python but not in JSON
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``, as ``"$.tags[2]: ..."`` lines (empty: valid).

    Keywords: type (one or a list), enum, const, properties, required, additionalProperties,
    items, minItems, maxItems, uniqueItems, minLength, maxLength, pattern, minimum, maximum.
    Others are ignored, so keep the schemas to this subset (the LLM grammars handle it too).
    """
    errors: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_TYPES[k](value) for k in kinds):
            return [f"{path}: expected {' or '.join(kinds)}, got {_json_type(value)}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {_short(value)} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required property {key!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected property {key!r}")
            elif isinstance(extra, dict):
                errors += schema_errors(item, extra, f"{path}.{key}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: {len(value)} items, at least {schema['minItems']} required")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: {len(value)} items, at most {schema['maxItems']} allowed")
        if schema.get("uniqueItems"):
            seen = [json.dumps(v, sort_keys=True) for v in value]
            dups = sorted({s for s in seen if seen.count(s) > 1})
            if dups:
                errors.append(f"{path}: duplicate items {', '.join(dups)}")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters ({len(value)})")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{path}: {_short(value)} does not match {schema['pattern']!r}")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} is above the maximum {schema['maximum']}")
    return errors


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](value):
            return name
    return type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _semantic_errors(check: Validator | None, value: Any) -> list[str]:
    if check is None:
        return []
    try:
        found = check(value)
    except ValueError as exc:
        return [str(exc)]
    if found is None:
        return []
    return [found] if isinstance(found, str) else [str(r) for r in found]


@dataclass(frozen=True)
class Generated:
    value: Any
    usage: Usage  # summed over every attempt
    attempts: int


def generate(
    backend: LLMBackend,
    messages: list[Message],
    schema: dict[str, Any],
    validate: Validator | None = None,
    retries: int = 1,
    options: CompletionOptions | None = None,
    check_schema: dict[str, Any] | None = None,
) -> Generated:
    """Ask ``backend`` for an object following ``schema`` that also passes ``validate``.

    After a failed attempt the model sees its answer and the reasons, and tries again, at most
    ``retries`` times. ``check_schema`` (default ``schema``) is what answers are validated against:
    a looser shape when ``schema`` only steers decoding and ``validate`` repairs the rest. Raises
    ``LLMOutputError`` (all reasons of the last attempt) when no attempt passes; ``LLMError`` from
    the backend (server down, no model) is not retried.
    """
    convo = list(messages)
    usage = Usage()
    reasons: list[str] = []
    raw = ""
    for attempt in range(1, retries + 2):
        try:
            value, cost = backend.complete_json(convo, schema, options)
        except LLMOutputError as exc:
            reasons, raw = exc.reasons, exc.raw
        else:
            usage = usage + cost
            raw = json.dumps(value, ensure_ascii=False)
            reasons = schema_errors(value, check_schema or schema)
            if not reasons:  # semantic checks may assume the shape is right
                reasons = _semantic_errors(validate, value)
            if not reasons:
                return Generated(value, usage, attempt)
        convo = [
            *messages,
            {"role": "assistant", "content": raw},
            {
                "role": "user",
                "content": "That answer is invalid:\n"
                + "\n".join(f"- {r}" for r in reasons)
                + "\nReply again with the corrected JSON object only.",
            },
        ]
    raise LLMOutputError([f"after {retries + 1} attempts: {reasons[0]}", *reasons[1:]], raw, usage)
