"""The schema validator and generate()'s retry path, with a scripted fake backend (no model)."""

from __future__ import annotations

from typing import Any

import pytest

from mediarec.llm import (
    CompletionOptions,
    LLMBackend,
    LLMOutputError,
    Message,
    Usage,
    generate,
    schema_errors,
)

TAGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tags": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z][a-z ]*$", "maxLength": 20},
            "minItems": 3,
            "maxItems": 5,
            "uniqueItems": True,
        },
        "language": {"type": "string", "enum": ["en", "de", "fr", "other"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["tags", "language"],
    "additionalProperties": False,
}


class FakeScriptedBackend(LLMBackend):
    """A fake: answers with the next scripted value (an exception is raised) and records calls."""

    name = "fake"

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.calls: list[list[Message]] = []

    @property
    def model_id(self) -> str:
        return "fake-model"

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        self.calls.append(list(messages))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer, Usage(10, 5, 0.5)


GOOD = {"tags": ["cooking", "bread", "home baking"], "language": "en"}


def test_valid_object_has_no_errors() -> None:
    assert schema_errors(GOOD, TAGS_SCHEMA) == []
    assert schema_errors({**GOOD, "score": 0.5}, TAGS_SCHEMA) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([], "$: expected object, got array"),
        ({"tags": ["a", "b", "c"]}, "$: missing required property 'language'"),
        ({**GOOD, "language": "xx"}, "$.language: \"xx\" is not one of ['en', 'de', 'fr', 'other']"),
        ({**GOOD, "tags": ["a", "b"]}, "$.tags: 2 items, at least 3 required"),
        ({**GOOD, "tags": list("abcdef")}, "$.tags: 6 items, at most 5 allowed"),
        ({**GOOD, "tags": ["a", "B", "c"]}, "$.tags[1]: \"B\" does not match '^[a-z][a-z ]*$'"),
        ({**GOOD, "tags": ["a", "b", "c" * 21]}, "$.tags[2]: longer than 20 characters (21)"),
        ({**GOOD, "tags": ["a", "b", 3]}, "$.tags[2]: expected string, got integer"),
        ({**GOOD, "tags": ["a", "a", "b"]}, '$.tags: duplicate items "a"'),
        ({**GOOD, "extra": 1}, "$: unexpected property 'extra'"),
        ({**GOOD, "score": 2}, "$.score: 2 is above the maximum 1"),
        ({**GOOD, "score": True}, "$.score: expected number, got boolean"),
    ],
)
def test_invalid_objects_say_where_and_why(value: Any, expected: str) -> None:
    assert expected in schema_errors(value, TAGS_SCHEMA)


def test_several_errors_are_all_reported() -> None:
    errors = schema_errors({"tags": ["A"], "language": "xx"}, TAGS_SCHEMA)
    assert len(errors) == 3


def test_generate_returns_first_valid_answer() -> None:
    backend = FakeScriptedBackend([GOOD])
    out = generate(backend, [{"role": "user", "content": "tag it"}], TAGS_SCHEMA)
    assert out.value == GOOD
    assert out.attempts == 1
    assert out.usage == Usage(10, 5, 0.5)


def test_generate_retries_with_the_reasons() -> None:
    bad = {"tags": ["Bread"], "language": "en"}
    backend = FakeScriptedBackend([bad, GOOD])
    messages: list[Message] = [{"role": "user", "content": "tag it"}]
    out = generate(backend, messages, TAGS_SCHEMA)
    assert out.value == GOOD
    assert out.attempts == 2
    assert out.usage.completion_tokens == 10
    retry = backend.calls[1]
    assert retry[0] == messages[0]
    assert retry[1]["role"] == "assistant" and "Bread" in retry[1]["content"]
    assert retry[2]["role"] == "user"
    assert "at least 3 required" in retry[2]["content"]
    assert "does not match" in retry[2]["content"]


def test_generate_retries_after_unparseable_output() -> None:
    backend = FakeScriptedBackend([LLMOutputError(["not valid JSON: x"], '{"tags": ['), GOOD])
    out = generate(backend, [{"role": "user", "content": "tag it"}], TAGS_SCHEMA)
    assert out.attempts == 2
    assert "not valid JSON" in backend.calls[1][-1]["content"]


def test_semantic_validator_runs_after_the_schema() -> None:
    def no_generic_tags(value: Any) -> list[str]:
        return [f"tag {t!r} is too generic" for t in value["tags"] if t in {"video", "content"}]

    generic = {"tags": ["video", "bread", "oven"], "language": "en"}
    backend = FakeScriptedBackend([generic, GOOD])
    out = generate(backend, [{"role": "user", "content": "x"}], TAGS_SCHEMA, validate=no_generic_tags)
    assert out.value == GOOD
    assert "tag 'video' is too generic" in backend.calls[1][-1]["content"]


def test_semantic_validator_may_raise_value_error() -> None:
    def reject(value: Any) -> None:
        raise ValueError("language does not match the transcript")

    backend = FakeScriptedBackend([GOOD, GOOD])
    with pytest.raises(LLMOutputError) as info:
        generate(backend, [{"role": "user", "content": "x"}], TAGS_SCHEMA, validate=reject)
    assert "language does not match the transcript" in str(info.value)


def test_final_failure_raises_with_reasons_and_raw_text() -> None:
    bad = {"tags": ["Bread"], "language": "xx"}
    backend = FakeScriptedBackend([bad, bad])
    with pytest.raises(LLMOutputError) as info:
        generate(backend, [{"role": "user", "content": "x"}], TAGS_SCHEMA, retries=1)
    assert len(backend.calls) == 2
    assert info.value.reasons[0].startswith("after 2 attempts:")
    assert any("is not one of" in r for r in info.value.reasons)
    assert "Bread" in info.value.raw


def test_no_retry_when_retries_is_zero() -> None:
    backend = FakeScriptedBackend([{"tags": [], "language": "en"}])
    with pytest.raises(LLMOutputError):
        generate(backend, [{"role": "user", "content": "x"}], TAGS_SCHEMA, retries=0)
    assert len(backend.calls) == 1
