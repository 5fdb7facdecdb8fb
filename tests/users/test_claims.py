"""The facts check of generated profiles (users/claims.py) on hand-written profiles, and on the real
fast LLM's profiles of a few demo users (heavy)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from mediarec.users import compute_interests, load_history
from mediarec.users.claims import check_claims
from mediarec.users.interests import HistoryItem, UserHistory
from mediarec.users.profile import build_prompt, repair_profile
from tests.users.helpers import answer, engine_with_history


def _item(item_id: str, title: str, tags: tuple[str, ...], **kw: object) -> HistoryItem:
    base: dict[str, object] = dict(
        item_id=item_id, title=title, tags=tags, tag_source="metadata", weight=1.0, watch_fraction=None,
        liked=False, shared=False, skipped=False, rating=None, comments=(), last_ts=0.0,
    )  # fmt: skip
    base.update(kw)
    return HistoryItem(**base)  # type: ignore[arg-type]


# Views, a like and a share; no skip at all (the user of the issue's "You skip baking soda ...").
NO_SKIPS = UserHistory(
    "u",
    (
        _item("c1", "Fresh pasta from scratch", ("cooking",), watch_fraction=0.95, liked=True),
        _item("c2", "Sourdough for beginners", ("cooking", "baking"), watch_fraction=0.6),
        _item("s1", "Why the sky is blue", ("science",), watch_fraction=0.3),
        _item("m1", "Jazz chords on piano", ("music", "jazz"), watch_fraction=1.0, shared=True),
    ),
)
WITH_SKIP = UserHistory(
    "v", (*NO_SKIPS.items, _item("f1", "Derby day highlights", ("football",), skipped=True, weight=-1.0))
)


def _kept(
    text: str, history: UserHistory = NO_SKIPS, interests: tuple[str, ...] = ("cooking", "jazz")
) -> str:
    return check_claims(text, history, interests).text


def test_skip_claims_need_skip_events_of_what_they_name() -> None:
    issue = "You skip baking soda and plate tectonics explained."
    check = check_claims(issue, NO_SKIPS, ["cooking"])
    assert check.text == "" and "no skip events" in check.unsupported[0].why
    assert _kept("You skip football.", WITH_SKIP) == "You skip football."
    assert _kept("You skip derby day highlights.", WITH_SKIP) == "You skip derby day highlights."
    assert _kept("You skip cooking.", WITH_SKIP) == ""  # skipped something, but not cooking


def test_like_watch_share_and_interest_claims_are_checked_against_their_events() -> None:
    assert _kept("You enjoy fresh pasta and sourdough.") == "You enjoy fresh pasta and sourdough."
    assert _kept("You love jazz.") == "You love jazz."
    assert _kept("You like science.") == ""  # one 30% view is not liking it
    assert _kept("You watch science videos.") == "You watch science videos."  # but it was watched
    assert _kept("You watch jazz chords to the end.") == "You watch jazz chords to the end."
    assert _kept("You watch sourdough videos to the end.") == ""  # 60%: not to the end
    assert _kept("You share jazz.") == "You share jazz."
    assert _kept("You share pasta recipes.") == ""
    assert _kept("Your interests include cooking and jazz.") == "Your interests include cooking and jazz."
    assert _kept("You are interested in science.") == ""  # not a current interest


def test_things_the_history_never_shows_are_unsupported() -> None:
    assert _kept("You enjoy cooking and horror films.") == ""
    assert _kept("You enjoy cooking, and you skip nothing.") == ""  # a negative claim: unprovable
    assert _kept("You never skip jazz.") == ""


def test_a_clause_that_likes_and_skips_at_once_is_dropped() -> None:
    # What qwen-0.5b wrote for a demo user who skipped the composting video.
    assert _kept("You skip derby day highlights.", WITH_SKIP)
    assert _kept("You enjoy derby day highlights, which is skipped.", WITH_SKIP) == ""


def test_each_clause_of_a_sentence_must_hold() -> None:
    assert _kept("You love jazz but skip football.", WITH_SKIP) == "You love jazz but skip football."
    assert _kept("You love jazz but skip cooking.", WITH_SKIP) == ""
    assert _kept("You love football but skip jazz.", WITH_SKIP) == ""


def test_repeated_and_unfinished_sentences_go_and_the_rest_stays_in_order() -> None:
    text = "You enjoy cooking. You love jazz. You enjoy cooking. You like horror. You also enjoy baking and"
    check = check_claims(text, NO_SKIPS, ["cooking"])
    assert check.text == "You enjoy cooking. You love jazz."
    whys = [c.why for c in check.unsupported]
    assert any("repeats" in w for w in whys) and any("unfinished" in w for w in whys)
    assert any("horro" in w for w in whys)


def test_a_removed_tag_is_never_claimed(tmp_path: Path) -> None:
    assert check_claims("You love jazz.", NO_SKIPS, ["jazz"], removed=["jazz"]).text == ""
    engine = engine_with_history(tmp_path / "home")
    prompt = build_prompt(load_history(engine.store, "u1"), removed=["jazz"])
    fixed, _ = repair_profile(answer("You enjoy cooking. You love jazz.", ("cooking", 1.0)), prompt)
    assert fixed["profile"] == "You enjoy cooking."
    engine.close()


def test_the_stored_profile_holds_only_checked_claims(tmp_path: Path) -> None:
    """Through repair: the issue's profile of a user with no skip events loses its false sentence."""
    engine = engine_with_history(tmp_path / "home")
    prompt = build_prompt(load_history(engine.store, "u1"))
    text = (
        "You enjoy cooking and jazz. You skip baking soda and plate tectonics explained. "
        "You enjoy cooking and jazz. You also watch"
    )
    fixed, _ = repair_profile(answer(text, ("cooking", 1.0), ("jazz", 0.5)), prompt)
    # u1 skipped "The pressing trap" (football) only.
    assert fixed["profile"] == "You enjoy cooking and jazz."
    engine.close()


@pytest.mark.heavy
def test_profiles_of_the_real_fast_llm_state_only_facts(fast_llm: Any, tmp_path: Path) -> None:
    """A seeded sample of 3 demo users (the 20-profile figure: bench/bench_profiles.py)."""
    from mediarec.datasets import demo
    from mediarec.datasets.loader import load_rows
    from mediarec.engine import MediaRec

    engine = MediaRec(tmp_path / "home", llm=fast_llm)
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    for user in random.Random(5).sample(sorted(demo.user_tastes()), 3):
        draft = engine.draft_profile(user)
        print(f"\n{user}: {draft.text}")
        history = load_history(engine.store, user)
        check = check_claims(draft.text, history, [i.tag for i in compute_interests(history, None)])
        assert draft.text and not check.unsupported, (user, draft.text, check.unsupported)
        sentences = [c.sentence for c in check.claims]
        assert all(re.search(r"[.!?][\"')]*$", s) for s in sentences)
        assert len(sentences) == len({s.lower() for s in sentences})
        if not any(it.skipped for it in history.items):
            assert "skip" not in draft.text.lower(), (user, draft.text)
    engine.close()
