"""A user's steering requests (``ask``) are a trace of them: deleting the user leaves no byte of
what they asked in any file of the home (the LLM cache and its WAL read raw), and nothing of it in
the server's memory, while other users' cached parses stay. The model is a fake (named so) standing
in for the LLM parser, so that the cache is written without loading a real model; what is tested is
the deletion."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from mediarec.engine import MediaRec
from mediarec.llm.backends import CompletionOptions, Message, Usage
from mediarec.llm.cache import ResultCache
from tests.llm.test_steer import FakeBackend, answer
from tests.rank.conftest import make_engine
from tests.users.test_erasure import _traces

MINE = "more like zqquincejam"  # words found nowhere else, so a hit in a file is this request
THEIRS = "more like zqpomelotea"


def _askers(home: Path) -> set[tuple[str, str]]:
    """(user, input hash) of every recorded asker of a cached parse."""
    with sqlite3.connect(home / "llm" / ResultCache.FILE) as db:
        return set(db.execute("SELECT owner, input_sha256 FROM llm_result_askers"))


def _owners(home: Path) -> set[str]:
    return {owner for owner, _ in _askers(home)}


def test_deleting_a_user_erases_every_parse_they_asked_for_and_keeps_others(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fake = FakeBackend(
        answer(towards=["zqquincejam"]), answer(towards=["zqpomelotea"]), answer(towards=["zqquincejam"])
    )
    engine = make_engine(home, llm=fake)
    with engine:
        mine = engine.rank_steered("user-01", MINE, n=3)
        assert mine.parsed.parser == "fake/1" and not mine.parsed.cached
        assert mine.parsed.query.towards == ("zqquincejam",)
        engine.rank_steered("user-02", THEIRS, n=3)
        # The same words from another user: the shared parse answers, and that user is recorded too.
        started = time.perf_counter()
        same = engine.rank_steered("user-05", MINE, n=3)
        assert same.parsed.cached and time.perf_counter() - started < 0.5
        started = time.perf_counter()
        assert engine.steerer.parse(MINE, owner="user-01").cached
        assert time.perf_counter() - started < 0.05  # the cached-answer goal
        askers = _askers(home)
        assert _owners(home) == {"user-01", "user-02", "user-05"} and len(askers) == 3
        assert len({h for _, h in askers}) == 2  # user-01 and user-05 share one parse
        before = _traces(home, ["zqquincejam", "zqpomelotea", "user-01"])
        assert any("zqquincejam" in t and "llm-cache" in t for t in before), before
        assert any("user-01" in t and "llm-cache" in t for t in before), before

        engine.delete_user("user-01")
        assert _traces(home, ["zqquincejam", "user-01"]) == []
        # The shared parse went with the user; user-05 loses their claim on it (asked again, it is
        # parsed again), user-02 keeps theirs.
        assert _owners(home) == {"user-02"}
        assert any("zqpomelotea" in t for t in _traces(home, ["zqpomelotea"]))
        assert engine.steerer.parse(THEIRS, owner="user-02").cached
        # Nothing is remembered in memory either: the same request is parsed anew.
        again = engine.rank_steered("user-01", MINE, n=3)
        assert not again.parsed.cached and again.parsed.parser == "fake/1"
    assert _traces(home, ["zqquincejam"])  # asked again after the deletion: a new trace, as it should be


class DeletingFake(FakeBackend):
    """A fake model during whose answer the asking user is deleted (a deletion racing a parse)."""

    engine: MediaRec | None = None

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        assert self.engine is not None
        self.engine.delete_user("user-03")
        return super().complete_json(messages, schema, options)


def test_a_deletion_while_the_request_is_parsed_wins(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fake = DeletingFake(answer(towards=["zqquincejam"]))
    engine = make_engine(home, llm=fake)
    fake.engine = engine
    with engine:
        steered = engine.rank_steered("user-03", MINE, n=3)
        assert steered.parsed.parser == "fake/1"
        assert not engine.store.user_exists("user-03")
        assert _traces(home, ["zqquincejam"]) == []
        assert "user-03" not in _owners(home)


def test_a_deletion_by_another_process_empties_this_ones_memory(tmp_path: Path) -> None:
    """A server (``server``) remembers parses in memory; ``mediarec delete-user`` in another process
    (``deleter``) sweeps the cache file, and the server's next request drops what it remembers."""
    home = tmp_path / "home"
    deleter = make_engine(home)
    server = MediaRec(home, llm=FakeBackend(answer(towards=["zqquincejam"]), answer(towards=["zqquincejam"])))
    with deleter, server:
        assert not server.rank_steered("user-04", MINE, n=3).parsed.cached
        assert server.steerer.parse(MINE, owner="user-04").cached  # remembered
        deleter.delete_user("user-04")
        assert _traces(home, ["zqquincejam"]) == []
        again = server.steerer.parse(MINE, owner="user-04")
        assert not again.cached and again.parser == "fake/1"  # asked anew, not answered from memory
