"""Deleting a user wins over a profile generation in flight: nothing derived from the deleted user
is written afterwards, not into the LLM cache, not as a profile, not into a new user of the same id.

The LLM is a fake that blocks on an Event, so the deletion lands exactly while it "thinks".
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from mediarec.llm.backends import CompletionOptions, Message, Usage
from mediarec.llm.cache import ResultCache
from mediarec.records import EventRecord
from mediarec.store.profiles import UnknownUserError
from tests.users.helpers import GOOD, FakeProfileBackend, engine_with_history


class BlockingFakeBackend(FakeProfileBackend):
    """A fake LLM that signals ``entered`` when asked, then waits for ``release`` before answering."""

    def __init__(self, answers: list[Any]) -> None:
        super().__init__(answers)
        self.entered = threading.Event()
        self.release = threading.Event()

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        self.entered.set()
        assert self.release.wait(30), "the test never released the fake LLM"
        return super().complete_json(messages, schema, options)


def _regenerate_in_thread(engine: Any, user: str) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            engine.regenerate_profile(user)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run, name="regenerate")
    thread.start()
    return thread, errors


def _cache_rows(engine: Any) -> int:
    with ResultCache(engine.llm_cache_dir) as cache:
        return len(cache)


def _raw_home(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


@pytest.mark.parametrize("comes_back", [False, True], ids=["deleted", "deleted-then-new-user-same-id"])
def test_a_deletion_during_generation_wins(tmp_path: Path, comes_back: bool) -> None:
    fake = BlockingFakeBackend([GOOD])
    engine = engine_with_history(tmp_path / "home", llm=fake)
    thread, errors = _regenerate_in_thread(engine, "u1")
    assert fake.entered.wait(30)
    # The deletion runs on this thread's connection, as the server's writer thread would.
    assert engine.delete_user("u1")["events_deleted"] > 0
    if comes_back:
        # Someone new under the same id: the old user's profile must not become theirs.
        engine.add_events([EventRecord("u1", "jazz", "view", 1.0, 1_800_000_000.0)])
    fake.release.set()
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], UnknownUserError), errors
    assert _cache_rows(engine) == 0  # no orphaned answer in the LLM cache
    assert engine.store.profiles.versions("u1") == []
    assert GOOD["profile"].encode() not in _raw_home(tmp_path / "home")
    engine.close()


def test_a_draft_made_before_the_deletion_is_neither_saved_nor_left_in_the_cache(tmp_path: Path) -> None:
    """The other window: the answer is cached, then the user is deleted before the draft is saved
    (the server saves through its writer after the LLM's thread returns)."""
    engine = engine_with_history(tmp_path / "home", llm=FakeProfileBackend([GOOD]))
    draft = engine.draft_profile("u1")
    assert _cache_rows(engine) == 1  # never saved, so no profile version names it
    engine.delete_user("u1")
    assert _cache_rows(engine) == 0
    engine.add_events([EventRecord("u1", "jazz", "view", 1.0, 1_800_000_000.0)])
    with pytest.raises(UnknownUserError):
        engine.save_profile(draft)
    assert engine.store.profiles.versions("u1") == []
    engine.close()


def test_a_generation_without_a_deletion_still_caches_and_saves(tmp_path: Path) -> None:
    engine = engine_with_history(tmp_path / "home", llm=FakeProfileBackend([GOOD]))
    shown = engine.regenerate_profile("u1")
    assert shown.text == GOOD["profile"] and _cache_rows(engine) == 1
    # Another user's deletion does not stop the first user's next save.
    engine.add_events([EventRecord("other", "jazz", "view", 1.0, 1.0)])
    draft = engine.draft_profile("u1")
    engine.delete_user("other")
    assert engine.save_profile(draft).text == GOOD["profile"]
    engine.close()


def test_a_deletion_during_training_does_not_end_up_in_the_new_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user is deleted (by another process: another engine on the same home) after the training
    data was read and before the new version is saved, so the deletion's own model scrub cannot
    see that version yet; training must notice and leave the user out."""
    from mediarec import engine as engine_module
    from mediarec.engine import MediaRec
    from mediarec.recommenders import repository

    home = tmp_path / "home"
    trainer = engine_with_history(home)
    trainer.add_events([EventRecord("stays", "jazz", "view", 1.0, 5.0)])
    elsewhere = MediaRec(home)
    real_save = repository.save

    def save_after_a_deletion(model: Any, where: Any, name: Any = None, **kw: Any) -> Path:
        assert "u1" in {str(u) for u in model.user_ids}  # trained with the user in
        elsewhere.delete_user("u1")
        return real_save(model, where, name, **kw)

    monkeypatch.setattr(engine_module.repository, "save", save_after_a_deletion)
    path, fitted = trainer.train("itemknn")
    monkeypatch.undo()
    assert "u1" not in {str(u) for u in fitted.user_ids} and "stays" in {str(u) for u in fitted.user_ids}
    assert "u1" not in {str(u) for u in repository.load(path).user_ids}
    assert "u1".encode("utf-32-le") not in (path / "arrays.npz").read_bytes()
    trainer.close()
    elsewhere.close()
