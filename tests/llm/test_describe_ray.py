"""``describe`` with the LLM work on a real local Ray instance, against the local path.

The LLM is the fake of tests/llm/test_items.py (FakeBackend, canned answers): what is tested is
where the work runs and what gets stored and cached, not the model. Each Ray actor gets its own
copy of the fake, so the parent's copy is never asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediarec.llm.cache import ResultCache
from mediarec.llm.describe import EXTRACTOR, DescribeOptions, describe_items
from mediarec.llm.describe_ray import describe_on_ray
from mediarec.settings import Settings
from mediarec.store import Store
from tests.llm.hostile import COOKING
from tests.llm.test_describe import _store
from tests.llm.test_items import GOOD, FakeBackend

ITEMS = ["nope", "pasta", "bread"]
OPTIONS = DescribeOptions(embed=False)
# Two items with different evidence (the same evidence twice would be a cache hit on the local path
# and asked twice on Ray, where both are in flight at once).
CONTENT = {"pasta": list(COOKING), "bread": [*COOKING, "Let the dough rest before you cut it."]}


def _stored(store: Store) -> dict[str, Any]:
    """Each item's stored LLM result: version and payload."""
    out = {}
    for item in ITEMS[1:]:
        found = store.latest_feature(item, EXTRACTOR)
        out[item] = None if found is None else found[:2]
    return out


def test_describe_on_ray_stores_and_caches_what_the_local_path_does(ray_local: Any, tmp_path: Path) -> None:
    local_store = _store(tmp_path / "local", CONTENT)
    with ResultCache(tmp_path / "local" / "llm") as cache:
        local = describe_items(local_store, FakeBackend([GOOD] * 2), ITEMS, OPTIONS, cache)
    ray_store = _store(tmp_path / "ray", CONTENT)
    settings = Settings(home=str(tmp_path / "ray"), ray_address="local")
    parent_copy = FakeBackend([GOOD] * 2)
    with ResultCache(tmp_path / "ray" / "llm") as cache:
        on_ray = describe_on_ray(ray_store, settings, parent_copy, ITEMS, OPTIONS, cache)
    assert parent_copy.seen == [], "the LLM was asked in the Ray actors, not here"
    assert [(o.item_id, o.status, o.tags, o.error) for o in on_ray.outcomes] == [
        (o.item_id, o.status, o.tags, o.error) for o in local.outcomes
    ]
    assert [o.status for o in on_ray.outcomes] == ["failed", "described", "described"]
    assert _stored(ray_store) == _stored(local_store)
    assert [e.reason for e in ray_store.import_errors(1)] == ["describe: unknown item"]

    with ResultCache(tmp_path / "ray" / "llm") as cache:
        again = describe_on_ray(ray_store, settings, FakeBackend([]), ITEMS[1:], OPTIONS, cache)
    assert [o.status for o in again.outcomes] == ["current", "current"], "a rerun does no work"
    # The answers the actors produced reached the parent's cache: a fresh store resumes from it.
    fresh = _store(tmp_path / "fresh", CONTENT)
    with ResultCache(tmp_path / "ray" / "llm") as cache:
        resumed = describe_on_ray(fresh, settings, FakeBackend([]), ITEMS[1:], OPTIONS, cache)
    assert [o.status for o in resumed.outcomes] == ["cached", "cached"]
    assert _stored(fresh) == _stored(local_store)
