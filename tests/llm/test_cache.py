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


def test_a_shared_result_goes_when_any_user_who_asked_for_it_is_forgotten(tmp_path: Path) -> None:
    with ResultCache(tmp_path) as cache:
        cache.put("m", "steer/4", {"ask": "only audio"}, {"kinds": ["audio"]})
        cache.put("m", "steer/4", {"ask": "no football"}, {"exclude_topics": ["football"]})
        cache.put("m", "profile/1", "history of u2", {"profile": "x"}, owner="u2")
        cache.claim("u1", "m", "steer/4", {"ask": "only audio"})
        cache.claim("u2", "m", "steer/4", {"ask": "only audio"})
        cache.claim("u2", "m", "steer/4", {"ask": "only audio"})  # claimed twice: recorded once
        cache.claim("u3", "m", "steer/4", {"ask": "no football"})
        assert cache.forget_owner("u1") == 1
        assert cache.get("m", "steer/4", {"ask": "only audio"}) is None
        assert cache.get("m", "steer/4", {"ask": "no football"}) is not None
        # u2's claim on the forgotten result went with it; their own result stays until they go.
        assert cache.forget_owner("u2") == 1 and len(cache) == 1
        assert cache.forget_owner("u3") == 1 and len(cache) == 0
        assert cache.forget_owner("nobody") == 0
