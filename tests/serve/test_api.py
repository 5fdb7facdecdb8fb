"""The HTTP API, exercised through a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from tests.serve.helpers import Api, assert_error, serving

# Settings from the environment would change what the server does; the tests pin the defaults.
_ENV = ("MEDIAREC_API_KEY", "MEDIAREC_STORE_URL", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_SEED")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for the module: the demo catalogue and events, and an ALS model trained on them."""
    with pytest.MonkeyPatch.context() as mp:
        for var in _ENV:
            mp.delenv(var, raising=False)
        engine = MediaRec(tmp_path_factory.mktemp("serve") / "home")
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    engine.train("als", factors=16)
    with engine, serving(engine) as api:
        yield api


# -- reads -------------------------------------------------------------------------------
def test_health_reports_store_counts_and_model_version(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200
    body = r.json()
    counts = api.engine.store.counts()
    assert body.pop("serving") in ({}, {"als": "0001"})  # what this process ranks with, once asked
    assert body == {
        "status": "ok",
        "items": counts["items"],
        "users": counts["users"],
        "interactions": counts["interactions"],
        "models": {"als": "0001"},
    }
    assert body["items"] >= len(demo.items()) and body["users"] >= len(demo.user_tastes())


def test_known_user_gets_n_unseen_items_with_reasons(api: Api) -> None:
    body = api.recs("user-01", n=7)
    assert body["user_id"] == "user-01" and body["model"] == "als"
    assert body["fallback"] is False
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 7 and len(set(ids)) == 7
    assert not set(ids) & api.engine.store.seen_items("user-01")
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert any(item["reasons"] for item in body["items"])
    for item in body["items"]:
        # An item none of whose reasons' conditions hold carries none (tests/rank/test_reasons.py).
        first = item["reasons"][0]["kind"] if item["reasons"] else "similar_to_seen"
        assert first in {"similar_to_seen", "collaborative", "trending", "new", "explore", "interest_tag"}
        assert item["fallback"] is None
        assert all(r["text"] and r["evidence"] for r in item["reasons"])
        stored = api.engine.store.get_item(item["item_id"])
        assert stored is not None and item["title"] == stored.title


def test_exclude_seen_false_may_return_seen_items(api: Api) -> None:
    body = api.recs("user-01", n=len(demo.items()), exclude_seen="false")
    ids = {i["item_id"] for i in body["items"]}
    assert ids & api.engine.store.seen_items("user-01")


def test_unknown_user_gets_popular_fallback(api: Api) -> None:
    body = api.recs("never-seen-before", n=5)
    assert body["fallback"] is True
    assert len(body["items"]) == 5
    assert all(i["reasons"][0]["kind"] == "popular" for i in body["items"])
    viewers = [i["reasons"][0]["evidence"]["viewers"] for i in body["items"]]
    assert viewers == sorted(viewers, reverse=True) and viewers[0] > 0


@pytest.mark.parametrize("user", ["user-03", "nobody-at-all"])
def test_kind_and_creator_filters(api: Api, user: str) -> None:
    audio = api.recs(user, n=20, kind="audio")["items"]
    assert audio and all(i["kind"] == "audio" for i in audio)
    by_creator = api.recs(user, n=20, creator="Code Cabin")["items"]
    assert by_creator and all(i["creator"] == "Code Cabin" for i in by_creator)
    both = api.recs(user, n=20, kind="audio", creator="Code Cabin")["items"]
    assert both == []  # Code Cabin publishes video only


def test_bad_query_parameters_are_422(api: Api) -> None:
    assert_error(
        api.client.get("/users/user-01/recommendations", params={"n": 0}), 422, "query parameter 'n'"
    )
    assert_error(api.client.get("/users/user-01/recommendations", params={"n": "ten"}), 422, "'n'")
    assert_error(api.client.get("/users/user-01/recommendations", params={"kind": "film"}), 422, "kind")
    assert_error(api.client.get("/users/user-01/recommendations", params={"model": "magic"}), 422, "als")


def test_similar_items(api: Api) -> None:
    r = api.client.get("/items/cooking-1/similar", params={"n": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 4 and "cooking-1" not in ids
    for item in body["items"]:
        assert item["reasons"][0]["kind"] == "similar_item"
        assert item["reasons"][0]["evidence"]["item_id"] == "cooking-1"


def test_similar_unknown_item_is_404(api: Api) -> None:
    assert_error(api.client.get("/items/no-such-item/similar"), 404, "no-such-item")


def test_get_item_and_404(api: Api) -> None:
    r = api.client.get("/items/science-3")
    assert r.status_code == 200
    assert r.json()["title"] == "Black holes in plain words" and r.json()["creator"] == "Lab Bench"
    assert_error(api.client.get("/items/missing-item"), 404, "missing-item")


def test_items_paging_covers_catalogue_once(api: Api) -> None:
    total = api.engine.store.count_items()
    seen: list[str] = []
    offset = 0
    while True:
        r = api.client.get("/items", params={"limit": 10, "offset": offset})
        assert r.status_code == 200
        page = r.json()
        assert page["total"] == total and page["limit"] == 10 and page["offset"] == offset
        if not page["items"]:
            break
        assert len(page["items"]) <= 10
        seen += [i["id"] for i in page["items"]]
        offset += 10
    assert len(seen) == total == len(set(seen))


def test_items_filters(api: Api) -> None:
    audio = api.client.get("/items", params={"kind": "audio", "limit": 100}).json()
    n_audio = sum(1 for i in demo.items() if i.kind == "audio")
    assert audio["total"] == n_audio and {i["kind"] for i in audio["items"]} == {"audio"}
    found = api.client.get("/items", params={"q": "sourdough"}).json()
    assert [i["id"] for i in found["items"]] == ["cooking-3"] and found["total"] == 1


def test_openapi_lists_every_path(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert set(doc["paths"]) >= {
        "/health",
        "/users/{user_id}/recommendations",
        "/items/{item_id}/similar",
        "/items",
        "/items/{item_id}",
        "/interactions",
        "/interactions/batch",
        "/users/{user_id}",
    }
    assert set(doc["paths"]["/items"]) == {"get", "post"}
    assert "X-API-Key" in str(doc["components"]["securitySchemes"])
    assert api.client.get("/docs").status_code == 200


# -- writes ------------------------------------------------------------------------------
def test_writes_need_the_key(api: Api) -> None:
    before = len(api.engine.store.user_events("user-02"))
    event = {"user": "user-02", "item": "cooking-1", "timestamp": 1}
    assert_error(api.client.post("/interactions", json=event), 401, "missing X-API-Key")
    assert_error(api.client.post("/interactions", json=event, headers={"X-API-Key": "guess"}), 401, "wrong")
    assert_error(api.client.post("/items", json={"id": "x"}), 401)
    assert_error(api.client.delete("/users/user-02"), 401)
    assert api.engine.store.get_item("x") is None
    assert len(api.engine.store.user_events("user-02")) == before
    assert api.engine.store.user_exists("user-02")


def test_posted_interaction_is_stored_and_hides_item_at_once(api: Api) -> None:
    user = "user-04"
    top = api.recs(user, n=3)["items"][0]["item_id"]
    before = len(api.engine.store.user_events(user))
    r = api.client.post(
        "/interactions",
        json={"user": user, "item": top, "type": "view", "value": 0.9, "comment": "great"},
        headers=api.auth,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"inserted": 1, "rejected": []}
    events = api.engine.store.user_events(user)
    assert len(events) == before + 1
    newest = events[0]
    assert (newest.item, newest.type, newest.value, newest.comment) == (top, "view", 0.9, "great")
    assert abs(newest.ts - time.time()) < 60  # no timestamp sent: stamped now
    after = [i["item_id"] for i in api.recs(user, n=3)["items"]]
    assert top not in after and len(after) == 3


def test_single_interaction_on_unknown_item_is_422(api: Api) -> None:
    r = api.client.post("/interactions", json={"user": "user-06", "item": "ghost"}, headers=api.auth)
    assert_error(r, 422, "unknown item 'ghost'")
    assert "ghost" not in api.engine.store.seen_items("user-06")


def test_invalid_records_are_422_with_the_reason(api: Api) -> None:
    bad_type = {"user": "user-06", "item": "cooking-1", "type": "explode"}
    assert_error(api.client.post("/interactions", json=bad_type, headers=api.auth), 422, "event type")
    over = {"user": "user-06", "item": "cooking-1", "type": "view", "value": 1.5}
    assert_error(api.client.post("/interactions", json=over, headers=api.auth), 422, "[0, 1]")


def test_batch_keeps_good_rows_and_reports_bad_ones(api: Api) -> None:
    rows = [
        {"user": "batch-user", "item": "travel-1", "type": "like", "timestamp": 1_700_000_000},
        {"user": "batch-user", "item": "travel-2", "type": "explode"},
        {"user": "batch-user", "item": "ghost-item"},
        {"user": "batch-user", "item": "travel-3", "value": 0.5},
    ]
    r = api.client.post("/interactions/batch", json=rows, headers=api.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inserted"] == 2
    assert [x["index"] for x in body["rejected"]] == [1, 2]
    assert "explode" in body["rejected"][0]["reason"]
    assert "ghost-item" in body["rejected"][1]["reason"]
    stored = {(e.item, e.type) for e in api.engine.store.user_events("batch-user")}
    assert stored == {("travel-1", "like"), ("travel-3", "view")}
    like = next(e for e in api.engine.store.user_events("batch-user") if e.type == "like")
    assert like.ts == 1_700_000_000


def test_concurrent_posts_all_land(api: Api) -> None:
    async def fire() -> list[int]:
        async with httpx.AsyncClient(base_url=api.base_url, headers=api.auth, timeout=30) as client:
            posts = [
                client.post("/interactions", json={"user": f"crowd-{i}", "item": f"music-{i % 6 + 1}"})
                for i in range(40)
            ]
            return [r.status_code for r in await asyncio.gather(*posts)]

    assert asyncio.run(fire()) == [200] * 40
    for i in range(40):
        assert api.engine.store.seen_items(f"crowd-{i}") == {f"music-{i % 6 + 1}"}


def test_post_items_then_get(api: Api) -> None:
    one = {"id": "pod-1", "title": "Pilot episode", "kind": "audio", "creator": "New Show", "duration": 1800}
    r = api.client.post("/items", json=one, headers=api.auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 1, "created": 1, "updated": 0}
    got = api.client.get("/items/pod-1").json()
    assert (got["title"], got["kind"], got["creator"], got["duration"]) == (
        "Pilot episode",
        "audio",
        "New Show",
        1800,
    )

    many = [
        {"id": "pod-1", "title": "Pilot (remastered)", "metadata": {"season": 1}},
        {"id": "pod-2", "title": "Two"},
    ]
    r = api.client.post("/items", json=many, headers=api.auth)
    assert r.json() == {"received": 2, "created": 1, "updated": 1}
    got = api.client.get("/items/pod-1").json()
    assert got["title"] == "Pilot (remastered)" and got["metadata"] == {"season": 1}
    assert api.client.get("/items/pod-2").json()["title"] == "Two"


def test_post_items_rejects_bad_items_whole(api: Api) -> None:
    bad = [{"id": "ok-item"}, {"id": "bad-item", "kind": "film"}]
    assert_error(api.client.post("/items", json=bad, headers=api.auth), 422, "item 1", "kind")
    assert api.engine.store.get_item("ok-item") is None
    typed = [{"id": "ok-item"}, {"id": "bad-item", "duration": "long"}]
    assert_error(api.client.post("/items", json=typed, headers=api.auth), 422, "body.items[1].duration")


def test_invalid_json_and_wrong_types_are_422(api: Api) -> None:
    r = api.client.post(
        "/interactions", content=b'{"user": "u", ', headers={**api.auth, "Content-Type": "application/json"}
    )
    assert_error(r, 422, "not valid JSON")
    wrong = {"user": "u", "item": "cooking-1", "value": "lots"}
    assert_error(api.client.post("/interactions", json=wrong, headers=api.auth), 422, "body.value", "number")
    assert_error(api.client.post("/interactions", json={"user": "u"}, headers=api.auth), 422, "body.item")
    extra = {"user": "u", "item": "cooking-1", "rating": 5}
    assert_error(
        api.client.post("/interactions", json=extra, headers=api.auth), 422, "body.rating: unknown field"
    )
    assert_error(api.client.post("/interactions/batch", json={"user": "u"}, headers=api.auth), 422, "list")
    assert not api.engine.store.user_exists("u")


def test_oversized_body_is_413(api: Api) -> None:
    big = b'{"id": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    r = api.client.post("/items", content=big, headers={**api.auth, "Content-Type": "application/json"})
    assert_error(r, 413, "larger than the limit")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold for streamed bodies too
        yield b'{"id": "'
        for _ in range(11):
            yield b"y" * (1024 * 1024)
        yield b'"}'

    r = api.client.post("/items", content=chunks(), headers={**api.auth, "Content-Type": "application/json"})
    assert_error(r, 413, "larger than the limit")


def test_internal_errors_hide_details(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("secret internals at /srv/db")

    monkeypatch.setattr(api.engine, "similar", broken)
    text = assert_error(api.client.get("/items/cooking-1/similar"), 500, "internal server error")
    assert "secret" not in text
    # The connection survives the failure: the next request on the same client is answered.
    assert api.client.get("/health").status_code == 200


def test_delete_user_removes_events_and_model_rows(api: Api) -> None:
    user = "user-05"
    assert api.recs(user)["fallback"] is False
    n_events = len(api.engine.store.user_events(user))
    assert n_events > 0
    r = api.client.delete(f"/users/{user}", headers=api.auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": user, "events_deleted": n_events, "models_scrubbed": 1}
    assert api.engine.store.user_events(user) == []
    assert not api.engine.store.user_exists(user)
    body = api.recs(user)
    assert body["fallback"] is True and all(i["reasons"][0]["kind"] == "popular" for i in body["items"])
    again = api.client.delete(f"/users/{user}", headers=api.auth)
    assert again.json() == {"user_id": user, "events_deleted": 0, "models_scrubbed": 0}


def test_unknown_route_is_json_404(api: Api) -> None:
    assert_error(api.client.get("/nope"), 404)
    assert_error(api.client.put("/items", json={}), 405)


def test_key_file_is_private(api: Api) -> None:
    path = Path(api.engine.home) / "api_key"
    assert path.read_text().strip() == api.key
    assert path.stat().st_mode & 0o777 == 0o600
