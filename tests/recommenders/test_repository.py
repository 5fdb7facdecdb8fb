from __future__ import annotations

from pathlib import Path

import numpy as np

from mediarec import recommenders
from mediarec.recommenders import repository
from tests.recommenders.recommender_base import community_data


def test_versions_increase_and_latest_loads(tmp_path: Path) -> None:
    data = community_data()
    first = repository.save(recommenders.create("als", factors=4).fit(data), tmp_path)
    second = repository.save(recommenders.create("als", factors=8).fit(data), tmp_path)
    assert [p.name for p in repository.versions(tmp_path, "als")] == [first.name, second.name]
    latest = repository.latest(tmp_path, "als")
    assert latest is not None and latest.params.factors == 8  # type: ignore[attr-defined]
    assert not list((tmp_path / "models" / "als").glob(".tmp-*")), "no temp folders left behind"


def test_half_written_version_is_invisible(tmp_path: Path) -> None:
    data = community_data()
    repository.save(recommenders.create("popularity").fit(data), tmp_path)
    (tmp_path / "models" / "popularity" / ".tmp-crashed").mkdir()
    (tmp_path / "models" / "popularity" / "0002").mkdir()  # no meta.json: a crash mid-write
    assert [p.name for p in repository.versions(tmp_path, "popularity")] == ["0001"]


def test_scrub_user_removes_their_rows_everywhere(tmp_path: Path) -> None:
    data = community_data()
    for name in ("als", "itemknn", "popularity"):
        repository.save(recommenders.create(name).fit(data), tmp_path)
    before = repository.latest(tmp_path, "als")
    assert before is not None
    assert repository.scrub_user(tmp_path, "u3") == 3
    for name in ("als", "itemknn", "popularity"):
        model = repository.latest(tmp_path, name)
        assert model is not None and "u3" not in model.user_ids
        assert model.n_users == data.n_users - 1
    after = repository.latest(tmp_path, "als")
    assert after is not None
    # Everyone else keeps exactly their factors and recommendations.
    old_row, new_row = (
        int(np.flatnonzero(before.user_ids == "u5")[0]),
        int(np.flatnonzero(after.user_ids == "u5")[0]),
    )
    np.testing.assert_array_equal(before.recommend([old_row], n=5)[0], after.recommend([new_row], n=5)[0])
    assert repository.scrub_user(tmp_path, "u3") == 0
