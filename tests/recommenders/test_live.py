"""LiveModels: the newest saved version, looked for at most every check_seconds, loaded beside the
one being served and switched to in one step; repository.save when two trainers race."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mediarec import recommenders
from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.interactions import Interactions
from mediarec.recommenders import repository
from mediarec.recommenders.live import LiveModels, LoadedModel
from mediarec.settings import load_settings


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Interactions:
    with MediaRec(tmp_path_factory.mktemp("live") / "home") as engine:
        load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        return engine.interactions()


def save(data: Interactions, root: Path) -> Path:
    model = recommenders.create("als", factors=4, iterations=2, seed=1).fit(data)
    return repository.save(model, "", "als", root=root)


def test_newest_version_skips_unfinished_folders(data: Interactions, tmp_path: Path) -> None:
    assert repository.newest_version("", "als", root=tmp_path) is None
    first = save(data, tmp_path)
    (tmp_path / "als" / ".tmp-abc").mkdir()  # a save in progress
    (tmp_path / "als" / "0007").mkdir()  # no meta.json: not a version
    assert repository.newest_version("", "als", root=tmp_path) == first
    second = save(data, tmp_path)
    assert repository.newest_version("", "als", root=tmp_path) == second
    assert repository.versions("", "als", root=tmp_path)[-1] == second


def test_a_version_appears_after_the_check_interval_or_an_expire(data: Interactions, tmp_path: Path) -> None:
    save(data, tmp_path)
    live = LiveModels(tmp_path, check_seconds=3600)
    first = live.get("als")
    assert first is not None and first.version == "0001"
    save(data, tmp_path)
    assert live.get("als") is first  # within the interval: no look at the disk
    live.expire("als")
    assert live.get("als").version == "0002"  # type: ignore[union-attr]
    assert live.serving() == {"als": "0002"}

    eager = LiveModels(tmp_path, check_seconds=0.0)
    assert eager.get("als").version == "0002"  # type: ignore[union-attr]
    save(data, tmp_path)
    assert eager.get("als").version == "0003"  # type: ignore[union-attr]


def test_requests_keep_the_old_version_while_the_new_one_loads(data: Interactions, tmp_path: Path) -> None:
    save(data, tmp_path)
    entered, release = threading.Event(), threading.Event()

    def slow_warm_up(loaded: LoadedModel) -> None:  # a warm-up hook that takes as long as we say
        if loaded.version == "0002":
            entered.set()
            assert release.wait(30)

    live = LiveModels(tmp_path, check_seconds=0.0, warm=slow_warm_up)
    old = live.get("als")
    assert old is not None
    save(data, tmp_path)
    got: list[LoadedModel | None] = []
    loader = threading.Thread(target=lambda: got.append(live.get("als")))
    loader.start()
    assert entered.wait(30)
    started = time.monotonic()
    assert live.get("als") is old  # not blocked behind the load, and never a part-loaded model
    assert time.monotonic() - started < 1.0
    release.set()
    loader.join(30)
    assert got[0] is not None and got[0].version == "0002"
    assert live.get("als") is got[0]


def test_a_load_in_flight_across_a_clear_is_not_installed(data: Interactions, tmp_path: Path) -> None:
    save(data, tmp_path)
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_warm_up(loaded: LoadedModel) -> None:  # blocks the first load only
        calls.append(loaded.version)
        if len(calls) == 1:
            entered.set()
            assert release.wait(30)

    live = LiveModels(tmp_path, check_seconds=3600, warm=slow_warm_up)
    loader = threading.Thread(target=live.get, args=("als",))
    loader.start()
    assert entered.wait(30)
    live.clear()  # a user was deleted while the version was being read
    release.set()
    loader.join(30)
    # What the first load read may hold the deleted user: it was read again after the clear.
    assert len(calls) == 2 and live.serving() == {"als": "0001"}


def test_two_trainers_that_pick_the_same_number_both_keep_their_version(
    data: Interactions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = save(data, tmp_path)
    # The second trainer listed the folder before the first one published (another machine, say).
    monkeypatch.setattr(repository, "versions", lambda *a, **k: [])
    second = save(data, tmp_path)
    monkeypatch.undo()
    assert (first.name, second.name) == ("0001", "0002")
    assert [p.name for p in repository.versions("", "als", root=tmp_path)] == ["0001", "0002"]


def test_the_ranker_keeps_views_of_at_most_two_versions_per_model(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home", models_dir=str(tmp_path / "models"))
    with MediaRec(settings=settings) as engine:
        load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        for version in ("0001", "0002", "0003", "0004"):
            engine.train("als", factors=4, iterations=2)
            assert engine.rank("user-01", n=5).model_version == version
        paths = {key[0].name for key in engine._ranker._views}
        assert paths <= {"0003", "0004"} and "0004" in paths
        assert (tmp_path / "models" / "als" / "0004").is_dir() and not (tmp_path / "home" / "models").exists()
