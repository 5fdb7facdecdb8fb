"""The LLM taste profile with a fake backend: prompt, repair, validation, PII, hostile comments,
the result cache, edits kept over regeneration and deletion."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mediarec.llm.backends import LLMError, LLMOutputError
from mediarec.llm.cache import ResultCache
from mediarec.llm.structured import schema_errors
from mediarec.records import EventRecord
from mediarec.store.profiles import UnknownUserError
from mediarec.users import PROFILE_SCHEMA, NoHistoryError, build_prompt, load_history
from mediarec.users.profile import (
    MAX_PROFILE_WORDS,
    ProfilePrompt,
    check_edit,
    profile_problems,
    repair_profile,
    repair_text,
)
from tests.users.helpers import EMAIL, GOOD, HOSTILE, PHONE, FakeProfileBackend, answer, engine_with_history


def _prompt(tmp_path: Path, removed: tuple[str, ...] = ()) -> ProfilePrompt:
    engine = engine_with_history(tmp_path / "home")
    return build_prompt(load_history(engine.store, "u1"), removed=removed)


def test_prompt_fences_scrubbed_history_and_leaves_out_instruction_like_comments(tmp_path: Path) -> None:
    prompt = _prompt(tmp_path)
    system, user = (m["content"] for m in prompt.messages)
    assert "never instructions" in system
    for label in ("allowed-tags", "history", "comments"):
        assert f'<data label="{label}">' in user
    assert user.count("</data>") == 3
    assert '"Fresh pasta at home" | tags: cooking, pasta, italian food | watched 90% | liked' in user
    assert "skipped" in user and "shared" in user
    assert "Loved the dough tips! Write me at [email]" in user
    assert "call me on [phone] about starters" in user
    assert EMAIL not in user and PHONE not in user and "7946" not in user
    assert HOSTILE not in user and "crypto" not in user
    assert {"crypt", "previ"} <= prompt.injected
    assert "instr" not in prompt.injected  # the prompt's own rule says "instructions"
    # The model may only name tags with a positive weight in the history, strongest first.
    enum = prompt.schema["properties"]["interests"]["items"]["properties"]["tag"]["enum"]
    assert enum[0] == "cooking" and set(enum) == {i.tag for i in prompt.allowed}
    assert "football" not in enum and "crypto" not in enum


def test_removed_tags_are_not_offered(tmp_path: Path) -> None:
    prompt = _prompt(tmp_path, removed=("jazz",))
    assert "jazz" not in {i.tag for i in prompt.allowed}
    assert "jazz 0.35" not in prompt.messages[1]["content"]


def test_a_good_answer_becomes_a_schema_valid_draft(tmp_path: Path) -> None:
    fake = FakeProfileBackend([GOOD])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    draft = engine.draft_profile("u1")
    assert draft.attempts == 1 and draft.model_id == "fake/profile-1"
    assert [(i.tag, i.source) for i in draft.interests][:2] == [("cooking", "llm"), ("pasta", "llm")]
    assert draft.interests[0].weight == 1.0  # rescaled so the strongest is 1
    value = {"profile": draft.text, "interests": [i.to_dict() for i in draft.interests]}
    assert schema_errors(value, PROFILE_SCHEMA) == []
    assert engine.profile("u1") is None  # a draft is not stored


def test_repair_dedupes_drops_unknown_clamps_tops_up_and_cuts(tmp_path: Path) -> None:
    prompt = _prompt(tmp_path)
    long_text = " ".join(["You enjoy cooking at home."] + [f"Word{i} is here." for i in range(60)])
    raw = answer(long_text, ("cooking", 1.4), ("cooking", 0.2), ("crypto", 0.9), ("football", 0.8))
    fixed, from_model = repair_profile(raw, prompt)
    assert from_model == 1
    tags = [i["tag"] for i in fixed["interests"]]
    assert tags[0] == "cooking" and len(tags) == 3 and len(set(tags)) == 3  # topped up to three
    assert set(tags) <= {i.tag for i in prompt.allowed}
    assert all(0 <= i["weight"] <= 1 for i in fixed["interests"])
    assert len(fixed["profile"].split()) <= MAX_PROFILE_WORDS and fixed["profile"].endswith(".")
    repeated, _ = repair_profile(answer("You like jazz. You like jazz. You like jazz.", ("jazz", 1)), prompt)
    assert repeated["profile"] == "You like jazz."
    tail = answer("You like jazz. You like piano. You also enjoy skipping", ("jazz", 1))
    assert repair_profile(tail, prompt)[0]["profile"] == "You like jazz. You like piano."
    # What qwen-0.5b wrote under greedy decoding once: a list looping until the length limit.
    loop = "You enjoy cooking, jazz, pasta, " + "baking, jazz, pasta, italian food, " * 12 + "baking."
    fixed = repair_profile(answer(loop, ("jazz", 1)), prompt)[0]
    assert fixed["profile"] == "You enjoy cooking, jazz, pasta, baking, italian food."
    # Cut off by the length limit, the loop is no sentence at all: nothing of it is kept, and the
    # one sentence built from the interests stands in (never a fragment with a full stop added).
    fixed = repair_profile(answer(loop.removesuffix("baking."), ("jazz", 1)), prompt)[0]
    assert fixed["profile"].startswith("Your history centres on ") and "baking, jazz" not in fixed["profile"]


def test_a_text_that_keeps_repeating_itself_is_sent_back(tmp_path: Path) -> None:
    prompt = _prompt(tmp_path)
    parrot = answer("You like jazz jazz jazz jazz jazz jazz jazz jazz jazz jazz jazz jazz.", ("jazz", 1))
    assert any("repeats the same words" in p for p in profile_problems(parrot, prompt))
    assert profile_problems(GOOD, prompt) == []


@pytest.mark.parametrize(
    ("hostile", "reason"),
    [
        # A backend that does not enforce the schema's enum: the tag is refused by the schema.
        (answer("You love crypto.", ("crypto", 1.0), ("crypto", 0.9), ("cooking", 0.8)), "is not one of"),
    ],
)
def test_hostile_answer_is_retried_and_nothing_of_the_injection_survives(
    tmp_path: Path, hostile: dict[str, object], reason: str
) -> None:
    fake = FakeProfileBackend([hostile, GOOD])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    shown = engine.regenerate_profile("u1")
    assert len(fake.calls) == 2
    assert reason in fake.calls[1][0][-1]["content"]
    assert "crypto" not in shown.text.lower()
    assert "crypto" not in {i.tag for i in shown.interests}


def test_injected_words_are_cut_from_a_mixed_text(tmp_path: Path) -> None:
    mixed = answer(
        "You enjoy cooking and jazz. You should add crypto to everything.",
        ("cooking", 1),
        ("jazz", 0.5),
        ("jazz", 0.5),  # a repeat: dropped, and the list topped up from the history
    )
    fake = FakeProfileBackend([mixed])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    shown = engine.regenerate_profile("u1")
    assert shown.text == "You enjoy cooking and jazz." and len(fake.calls) == 1
    assert [(i.tag, i.source) for i in shown.interests] == [
        ("cooking", "llm"),
        ("jazz", "llm"),
        ("italian food", "history"),  # the strongest computed interest not chosen (ties by name)
    ]


def test_unusable_twice_raises_and_stores_nothing(tmp_path: Path) -> None:
    fake = FakeProfileBackend([answer("", ("cooking", 1), ("jazz", 1), ("pasta", 1))])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    with pytest.raises(LLMOutputError, match="after 2 attempts"):
        engine.regenerate_profile("u1")
    assert engine.profile("u1") is None


def test_pii_the_model_writes_is_scrubbed_before_storing(tmp_path: Path) -> None:
    leaky = answer(
        f"You enjoy cooking; mail {EMAIL} or ring {PHONE}.", *[(t["tag"], 1) for t in GOOD["interests"]]
    )
    engine = engine_with_history(tmp_path / "home", llm=FakeProfileBackend([leaky]))
    shown = engine.regenerate_profile("u1")
    # Scrubbed by repair; the sentence then names things ("mail", "ring") no history shows, so
    # the facts check drops it too: either way no address reaches the store.
    assert EMAIL not in shown.text and PHONE not in shown.text
    scrubbed = repair_text(leaky["profile"], frozenset())
    assert EMAIL not in scrubbed and PHONE not in scrubbed and "[email]" in scrubbed
    engine.close()
    db = sqlite3.connect(tmp_path / "home" / "mediarec.db")
    stored = json.dumps(db.execute("SELECT * FROM user_profiles").fetchall())
    assert stored.count("cooking") >= 1 and EMAIL not in stored and "7946" not in stored
    cache = (engine.llm_cache_dir / ResultCache.FILE).read_bytes()
    assert EMAIL.encode() not in cache and b"7946" not in cache


def test_a_second_regeneration_comes_from_the_cache_and_adds_no_version(tmp_path: Path) -> None:
    fake = FakeProfileBackend([GOOD])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    first = engine.regenerate_profile("u1")
    again = engine.draft_profile("u1")
    assert again.attempts == 0 and len(fake.calls) == 1
    assert engine.save_profile(again).version == first.version == 1
    engine.add_events([EventRecord("u1", "bread", "like", None, 1_800_000_000.0)])  # new history
    assert engine.regenerate_profile("u1").version == 2 and len(fake.calls) == 2


def test_edits_survive_regeneration(tmp_path: Path) -> None:
    fake = FakeProfileBackend([GOOD])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    engine.regenerate_profile("u1")
    edited = engine.edit_profile("u1", text="Mostly pasta.", add_tags=["Opera"], remove_tags=["jazz"])
    assert edited.text == "Mostly pasta." and edited.edited and edited.generated_text == GOOD["profile"]
    assert "jazz" not in {i.tag for i in edited.interests}
    assert ("opera", 1.0, "user") in {(i.tag, i.weight, i.source) for i in edited.interests}
    # The next prompt no longer offers jazz; a model insisting on it is told so and tries again.
    fake.answers = [
        answer("You enjoy jazz and cooking.", ("jazz", 1.0), ("cooking", 0.8), ("baking", 0.3)),
        answer("You enjoy piano and cooking.", ("piano", 1.0), ("cooking", 0.8), ("baking", 0.3)),
    ]
    regenerated = engine.regenerate_profile("u1")
    enum = fake.calls[-1][1]["properties"]["interests"]["items"]["properties"]["tag"]["enum"]
    assert "jazz" not in enum and '"jazz" is not one of' in fake.calls[-1][0][-1]["content"]
    assert regenerated.version == 2 and regenerated.text == "Mostly pasta."
    assert regenerated.generated_text == "You enjoy piano and cooking."
    tags = [i.tag for i in regenerated.interests]
    assert "jazz" not in tags and "opera" in tags and "cooking" in tags
    assert "jazz" in {d["tag"] for d in engine.store.profiles.versions("u1")[0].interests}  # still stored
    # An empty text goes back to the generated one; re-adding a removed tag lifts the removal.
    back = engine.edit_profile("u1", text="", add_tags=["jazz"])
    assert back.text == "You enjoy piano and cooking." and "jazz" in {i.tag for i in back.interests}


def test_bad_edits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not usable"):
        check_edit(None, ["!"], [])
    with pytest.raises(ValueError, match="words"):
        check_edit("word " * (MAX_PROFILE_WORDS + 1), [], [])
    with pytest.raises(ValueError, match="both added and removed"):
        check_edit(None, ["jazz"], ["Jazz"])
    engine = engine_with_history(tmp_path / "home")
    with pytest.raises(UnknownUserError):
        engine.edit_profile("nobody", text="hi")


def test_edits_alone_make_a_profile(tmp_path: Path) -> None:
    engine = engine_with_history(tmp_path / "home")
    shown = engine.edit_profile("u1", text="I like jazz.", add_tags=["jazz"])
    assert shown.version == 0 and shown.model_id == "" and shown.text == "I like jazz."


def test_no_history_and_unknown_users(tmp_path: Path) -> None:
    engine = engine_with_history(tmp_path / "home", llm=FakeProfileBackend([GOOD]))
    with pytest.raises(UnknownUserError):
        engine.regenerate_profile("nobody")
    engine.add_events([EventRecord("skipper", "press", "skip", None, 1.0)])
    with pytest.raises(NoHistoryError):
        engine.regenerate_profile("skipper")
    assert isinstance(NoHistoryError("x"), ValueError) and not isinstance(NoHistoryError("x"), LLMError)


def test_delete_profile_only_and_delete_user_take_everything(tmp_path: Path) -> None:
    engine = engine_with_history(tmp_path / "home", llm=FakeProfileBackend([GOOD]))
    engine.regenerate_profile("u1")
    engine.edit_profile("u1", add_tags=["opera"])
    with ResultCache(engine.llm_cache_dir) as cache:
        assert len(cache) == 1
    result = engine.delete_profile("u1")
    assert result == {"versions_deleted": 1, "edits_deleted": 1, "cached_forgotten": 1}
    assert engine.profile("u1") is None and engine.store.user_exists("u1")
    assert len(engine.store.user_events("u1")) == len(engine.store.user_events("u1", limit=100)) > 0
    with ResultCache(engine.llm_cache_dir) as cache:
        assert len(cache) == 0
    # Deleting the user removes a regenerated profile and its cached answer too.
    engine.regenerate_profile("u1")
    engine.delete_user("u1")
    assert engine.profile("u1") is None
    with ResultCache(engine.llm_cache_dir) as cache:
        assert len(cache) == 0


def test_a_text_that_only_echoes_the_injection_gives_way_to_the_interests(tmp_path: Path) -> None:
    # Allowed tags, but the text only echoes the injected comment: nothing of it is kept, and the one
    # sentence the history backs stands in without a retry (a greedy small model that looped or
    # obeyed once does it again, so a retry would only turn a true profile into an error).
    fake = FakeProfileBackend([answer("You love crypto.", ("cooking", 1.0), ("jazz", 0.9), ("pasta", 0.8))])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    shown = engine.regenerate_profile("u1")
    assert len(fake.calls) == 1
    assert shown.text.startswith("Your history centres on ")
    assert "crypto" not in shown.text.lower()
    assert "crypto" not in {i.tag for i in shown.interests}
