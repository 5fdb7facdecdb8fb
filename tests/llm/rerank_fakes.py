"""Fake LLM backends shared by the re-ranker's unit tests (tests/llm/test_rerank.py, the ranking
function, and tests/rank/test_llm_rerank.py, the gated stage): stand-ins for a model, named as fakes.
The real fast model is tested in tests/llm/test_rerank.py (heavy)."""

from __future__ import annotations

from typing import Any

from mediarec.llm.backends import CompletionOptions, LLMBackend, LLMError, Message, Usage


def shown_candidates(messages: list[Message]) -> list[str]:
    """The candidate texts of a prompt, in the order the model sees them."""
    body = messages[-1]["content"].split('<data label="candidates">\n', 1)[1].split("\n</data>", 1)[0]
    return [line.split("] ", 1)[1] for line in body.splitlines()]


class FakeJudge(LLMBackend):
    """A fake model with a fixed preference over candidate texts, whatever order they are shown in;
    it counts its calls and keeps each prompt's user message."""

    name = "fake"
    model_id = "fake-judge"

    def __init__(self, preferred: list[str]) -> None:
        self.preferred = list(preferred)
        self.calls = 0
        self.prompts: list[str] = []

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        self.calls += 1
        self.prompts.append(messages[-1]["content"])
        shown = shown_candidates(messages)
        order = sorted(range(len(shown)), key=lambda i: self.preferred.index(shown[i]))
        return {"order": [i + 1 for i in order]}, Usage(10, 5, 0.01)


class FakeDown(LLMBackend):
    """A fake backend whose server is down."""

    name = "fake"
    model_id = "fake-down"

    def complete_json(self, *args: Any, **kwargs: Any) -> tuple[Any, Usage]:
        raise LLMError("connection refused")
