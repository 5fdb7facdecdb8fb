"""The LLM result cache: hits, misses, and keys that change with the model and the prompt."""

from __future__ import annotations

from pathlib import Path

from mediarec.llm import ResultCache, Usage, input_hash


def test_miss_then_hit_and_survives_reopen(tmp_path: Path) -> None:
    item = {"title": "Sourdough at home", "transcript": "flour, water, salt"}
    with ResultCache(tmp_path / "cache") as cache:
        assert cache.get("qwen-0.5b", "item/1", item) is None
        cache.put("qwen-0.5b", "item/1", item, {"tags": ["bread"]}, Usage(100, 20, 1.5))
        assert cache.get("qwen-0.5b", "item/1", item) == {"tags": ["bread"]}
    # a crash after put loses nothing: a new process reads it back
    with ResultCache(tmp_path / "cache") as cache:
        assert cache.get("qwen-0.5b", "item/1", item) == {"tags": ["bread"]}
        assert len(cache) == 1


def test_key_changes_with_model_prompt_version_and_input(tmp_path: Path) -> None:
    with ResultCache(tmp_path) as cache:
        cache.put("qwen-0.5b", "item/1", "text", {"v": 1})
        assert cache.get("qwen-1.5b", "item/1", "text") is None
        assert cache.get("qwen-0.5b", "item/2", "text") is None
        assert cache.get("qwen-0.5b", "item/1", "text!") is None
        cache.put("qwen-0.5b", "item/2", "text", {"v": 2})
        assert cache.get("qwen-0.5b", "item/1", "text") == {"v": 1}
        assert cache.get("qwen-0.5b", "item/2", "text") == {"v": 2}


def test_put_replaces_and_dict_key_order_does_not_matter(tmp_path: Path) -> None:
    with ResultCache(tmp_path) as cache:
        cache.put("m", "p/1", {"a": 1, "b": 2}, {"v": 1})
        cache.put("m", "p/1", {"b": 2, "a": 1}, {"v": 2})
        assert len(cache) == 1
        assert cache.get("m", "p/1", {"b": 2, "a": 1}) == {"v": 2}
    assert input_hash({"a": 1, "b": 2}) == input_hash({"b": 2, "a": 1})
    assert input_hash("x") != input_hash("y")
