"""Issue 15, items 1-4: no 5xx on any input, per-field limits, bounded writes, an honest schema.

Every test runs against a real uvicorn server over a real SQLite home (see ``helpers.serving``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mediarec import limits, recommenders
from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.records import ITEM_KINDS
from tests.serve.helpers import Api, assert_error, serving, without_settings_env


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with without_settings_env():
        engine = MediaRec(tmp_path_factory.mktemp("hardening") / "home")
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    with engine, serving(engine) as api:
        yield api


def _raw_json(api: Api, path: str, body: bytes) -> Any:
    """POST bytes as they are: httpx's json= would refuse to encode a lone surrogate itself."""
    headers = {**api.auth, "Content-Type": "application/json"}
    return api.client.post(path, content=body, headers=headers)


# -- item 1: the five 500s ----------------------------------------------------------------
def test_offset_beyond_sqlite_integers_is_422(api: Api) -> None:
    assert_error(api.client.get("/items", params={"offset": 2**63}), 422, "query parameter 'offset'")
    assert_error(api.client.get("/items", params={"offset": 10**40}), 422, "'offset'")
    r = api.client.get("/items", params={"offset": 2**63 - 1})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/interactions", b'{"user": "sur-1", "item": "cooking-1", "comment": "hi \\ud83d"}', "comment"),
        ("/interactions/batch", b'[{"user": "sur-1", "item": "cooking-1", "comment": "\\udc00"}]', "comment"),
        ("/items", b'{"id": "sur-item", "title": "bad \\ud83d title"}', "title"),
        ("/items", b'{"id": "sur-item", "creator": "\\ud83d"}', "creator"),
        ("/items", b'{"id": "sur-item", "uri": "/x/\\ud83d.mp4"}', "uri"),
        ("/items", b'{"id": "sur-item", "metadata": {"note": "\\ud83d"}}', "metadata"),
        ("/items", b'{"id": "sur-item", "metadata": {"k\\ud83d": 1}}', "metadata"),
        ("/items", b'{"id": "sur-item", "metadata": {"tags": ["ok", "\\ud83d"]}}', "metadata"),
        ("/items", b'{"id": "sur-item\\ud83d"}', "id"),
    ],
)
def test_lone_surrogates_are_422_and_store_nothing(api: Api, path: str, body: bytes, field: str) -> None:
    before = api.engine.store.counts()
    assert_error(_raw_json(api, path, body), 422, field)
    assert api.engine.store.counts() == before
    assert api.engine.store.get_item("sur-item") is None


@pytest.mark.parametrize("ts", [1e18, 1e308, -1.0, limits.MAX_TIMESTAMP, 1.7e12])
def test_implausible_timestamps_are_refused_at_the_door(api: Api, ts: float) -> None:
    user = f"ts-user-{ts:g}"
    event = {"user": user, "item": "cooking-1", "timestamp": ts}
    assert_error(api.client.post("/interactions", json=event, headers=api.auth), 422, "timestamp")
    r = api.client.post(
        "/interactions/batch", json=[event, {**event, "timestamp": 1_700_000_000}], headers=api.auth
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["inserted"] == 1 and [x["index"] for x in body["rejected"]] == [0]
    assert "timestamp" in body["rejected"][0]["reason"]
    assert [e.ts for e in api.engine.store.user_events(user)] == [1_700_000_000]


def test_infinite_timestamp_is_422(api: Api) -> None:
    r = _raw_json(api, "/interactions", b'{"user": "ts-inf", "item": "cooking-1", "timestamp": 1e309}')
    assert_error(r, 422, "timestamp")
    assert not api.engine.store.user_exists("ts-inf")


def test_dashboard_survives_timestamps_stored_before_the_limit(api: Api) -> None:
    """A home written by an older version may hold any REAL; the user page must still render."""
    for n, ts in enumerate((1e18, 1e308, -1e308)):
        user = f"old-odd-{n}"
        r = api.client.post(
            "/interactions", json={"user": user, "item": "cooking-1", "timestamp": 1000}, headers=api.auth
        )
        assert r.status_code == 200, r.text
        with api.engine.store.transaction() as tx:
            tx.execute(
                "UPDATE interactions SET ts = ? WHERE user_id = (SELECT id FROM users WHERE external_id = ?)",
                (ts, user),
            )
        page = api.client.get(f"/ui/users/{user}")
        assert page.status_code == 200, page.text[:300]
        assert "invalid time" in page.text


@pytest.mark.parametrize(
    "params",
    [
        {"freshness": "1e309"},
        {"freshness": "inf"},
        {"freshness": "nan"},
        {"freshness": "-inf"},
        {"freshness": "1e300"},
        {"diversity": "nan"},
        {"explore": "nan"},
        {"explore": "inf"},
        {"max_per_creator": str(10**30)},
    ],
)
def test_float_query_parameters_refuse_non_finite_and_huge(api: Api, params: dict[str, str]) -> None:
    (name,) = params
    r = api.client.get("/users/user-01/recommendations", params=params)
    assert_error(r, 422, f"query parameter {name!r}")


def test_finite_freshness_still_scores(api: Api) -> None:
    r = api.client.get("/users/user-01/recommendations", params={"freshness": "2.5", "n": 3})
    assert r.status_code == 200, r.text
    assert all(isinstance(i["score"], float) for i in r.json()["items"])


# -- item 2: per-field limits --------------------------------------------------------------
_TOO_LONG = [
    ("/interactions", {"user": "u" * (limits.MAX_ID_CHARS + 1), "item": "cooking-1"}, "body.user"),
    ("/interactions", {"user": "lim", "item": "i" * (limits.MAX_ID_CHARS + 1)}, "body.item"),
    (
        "/interactions",
        {"user": "lim", "item": "cooking-1", "comment": "c" * (limits.MAX_COMMENT_CHARS + 1)},
        "body.comment",
    ),
    ("/items", {"id": "x" * (limits.MAX_ID_CHARS + 1)}, "body.item.id"),
    ("/items", {"id": "lim-item", "title": "t" * (limits.MAX_TITLE_CHARS + 1)}, "body.item.title"),
    ("/items", {"id": "lim-item", "creator": "c" * (limits.MAX_CREATOR_CHARS + 1)}, "body.item.creator"),
    ("/items", {"id": "lim-item", "uri": "/" * (limits.MAX_URI_CHARS + 1)}, "body.item.uri"),
    ("/items", {"id": "lim-item", "metadata": {"tags": ["t"] * (limits.MAX_ITEM_TAGS + 1)}}, "metadata.tags"),
    ("/items", {"id": "lim-item", "metadata": {"blob": "b" * limits.MAX_METADATA_BYTES}}, "metadata"),
    ("/items", [{"id": f"many-{i}"} for i in range(limits.MAX_ITEMS_PER_POST + 1)], "body.items"),
    (
        "/interactions/batch",
        [{"user": "lim", "item": "cooking-1"}] * (limits.MAX_EVENTS_PER_BATCH + 1),
        "body",
    ),
    ("/users/lim/profile", {"add_tags": ["jazz"] * (limits.MAX_EDIT_TAGS + 1)}, "body.add_tags"),
    ("/users/lim/profile", {"remove_tags": ["x" * (limits.MAX_TAG_CHARS + 1)]}, "body.remove_tags[0]"),
    ("/users/lim/profile", {"text": "w " * limits.MAX_PROFILE_TEXT_CHARS}, "body.text"),
]


@pytest.mark.parametrize(("path", "body", "field"), _TOO_LONG, ids=[t[2] for t in _TOO_LONG])
def test_fields_beyond_their_limit_are_422_naming_the_field(
    api: Api, path: str, body: Any, field: str
) -> None:
    before = api.engine.store.counts()
    send = api.client.put if path.endswith("/profile") else api.client.post
    assert_error(send(path, json=body, headers=api.auth), 422, field)
    assert api.engine.store.counts() == before
    assert api.engine.store.get_item("lim-item") is None and api.engine.store.get_item("many-0") is None


def test_fields_at_their_limit_are_stored(api: Api) -> None:
    item = {
        "id": "e" * limits.MAX_ID_CHARS,
        "title": "t" * limits.MAX_TITLE_CHARS,
        "creator": "c" * limits.MAX_CREATOR_CHARS,
        "metadata": {"tags": [f"tag {i}" for i in range(limits.MAX_ITEM_TAGS)]},
    }
    r = api.client.post("/items", json=item, headers=api.auth)
    assert r.status_code == 200, r.text
    event = {"user": "u" * limits.MAX_ID_CHARS, "item": item["id"], "comment": "c" * limits.MAX_COMMENT_CHARS}
    r = api.client.post("/interactions", json=event, headers=api.auth)
    assert r.status_code == 200, r.text
    stored = api.engine.store.user_events("u" * limits.MAX_ID_CHARS)
    assert len(stored) == 1 and stored[0].comment == event["comment"]


def test_the_schema_states_the_limits(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    event = schemas["InteractionIn"]["properties"]
    assert event["comment"]["anyOf"][0]["maxLength"] == limits.MAX_COMMENT_CHARS
    assert event["user"]["maxLength"] == limits.MAX_ID_CHARS
    assert schemas["ItemIn"]["properties"]["title"]["maxLength"] == limits.MAX_TITLE_CHARS
    assert schemas["ProfileEditIn"]["properties"]["add_tags"]["maxItems"] == limits.MAX_EDIT_TAGS


# -- item 3: bounded profile edits, abandoned writes never run later ------------------------
def test_profile_edit_keeps_a_bounded_number_of_tags(api: Api) -> None:
    user = "tag-collector"
    assert api.client.post(
        "/interactions", json={"user": user, "item": "cooking-1"}, headers=api.auth
    ).is_success
    for start in range(0, limits.MAX_KEPT_PROFILE_TAGS, limits.MAX_EDIT_TAGS):
        tags = [f"tag {i}" for i in range(start, start + limits.MAX_EDIT_TAGS)]
        r = api.client.put(f"/users/{user}/profile", json={"add_tags": tags}, headers=api.auth)
        assert r.status_code == 200, r.text
    r = api.client.put(f"/users/{user}/profile", json={"add_tags": ["one too many"]}, headers=api.auth)
    assert_error(r, 422, "added tags", str(limits.MAX_KEPT_PROFILE_TAGS))
    edits = api.engine.store.profiles.edits(user)
    assert edits is not None and len(edits.added) == limits.MAX_KEPT_PROFILE_TAGS


def test_profile_store_edit_is_linear(api: Api) -> None:
    """The store itself (no API limit in front): 30,000 tags were ~0.45 billion list scans before."""
    user = "many-tags"
    assert api.client.post(
        "/interactions", json={"user": user, "item": "cooking-2"}, headers=api.auth
    ).is_success
    started = time.perf_counter()
    with pytest.raises(ValueError, match="limit"):
        api.engine.store.profiles.edit(user, add_tags=[f"tag {i}" for i in range(30_000)])
    assert time.perf_counter() - started < 1.0
    assert api.engine.store.profiles.edits(user) is None  # refused whole, nothing half-stored


def _block_writer(api: Api) -> threading.Event:
    """Occupy the app's single writer until the returned event is set (a slow write, for real)."""
    gate = threading.Event()
    busy = threading.Event()

    def slow_write() -> None:
        busy.set()
        gate.wait(20)

    api.app.state.writer.submit(slow_write)
    assert busy.wait(5)
    return gate


def _drain(api: Api) -> None:
    api.app.state.writer.submit(lambda: None).result(timeout=20)


def test_write_of_a_client_that_disconnected_never_runs(api: Api) -> None:
    user = "gone-client"
    gate = _block_writer(api)
    try:
        body = json.dumps({"user": user, "item": "cooking-3", "timestamp": 1_700_000_000}).encode()
        port = int(api.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            head = (
                f"POST /interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {api.key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body)
            deadline = time.monotonic() + 5
            while api.app.state.writer._queue.qsize() == 0:  # the write is queued behind the slow one
                assert time.monotonic() < deadline, "the write never reached the writer's queue"
                time.sleep(0.01)
        time.sleep(0.3)  # the client is gone; let the server notice the closed connection
    finally:
        gate.set()
    _drain(api)
    assert not api.engine.store.user_exists(user)


def test_a_write_queued_past_its_deadline_is_dropped_with_503(api: Api) -> None:
    user = "late-client"
    with serving(api.engine, write_timeout=0.3) as quick:
        gate = _block_writer(quick)
        try:
            event = {"user": user, "item": "cooking-4", "timestamp": 1_700_000_000}
            r = quick.client.post("/interactions", json=event, headers=quick.auth)
        finally:
            gate.set()
        assert_error(r, 503, "busy", "without being made")
        assert int(r.headers["Retry-After"]) > 0
        _drain(quick)
        assert not api.engine.store.user_exists(user)
        r = quick.client.post("/interactions", json=event, headers=quick.auth)  # not busy: it lands
        assert r.status_code == 200, r.text
    assert api.engine.store.user_exists(user)


# -- item 4: the schema says which values are taken; 405 says which methods are ------------
def _param(doc: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    params = doc["paths"][path]["get"]["parameters"]
    return next(p["schema"] for p in params if p["name"] == name)


def _enum(schema: dict[str, Any]) -> list[str]:
    return next(s["enum"] for s in schema["anyOf"] if "enum" in s)


def test_kind_and_model_are_enums_in_the_schema(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    recs = "/users/{user_id}/recommendations"
    assert _enum(_param(doc, recs, "kind")) == list(ITEM_KINDS)
    assert _enum(_param(doc, recs, "model")) == list(recommenders.MODELS)
    assert _enum(_param(doc, "/items/{item_id}/similar", "model")) == list(recommenders.MODELS)
    assert _enum(_param(doc, "/items", "kind")) == list(ITEM_KINDS)
    # What the schema allows, the server takes; what it does not, the server refuses.
    for kind in ITEM_KINDS:
        assert api.client.get("/items", params={"kind": kind}).status_code == 200
    assert api.client.get("/items", params={"kind": ""}).status_code == 200  # empty means "any"
    assert_error(api.client.get("/items", params={"kind": "film"}), 422, "'kind'", "video")
    assert_error(api.client.get("/items/cooking-1/similar", params={"model": "magic"}), 422, "'model'", "als")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/items", "GET, POST"),
        ("DELETE", "/items", "GET, POST"),
        ("GET", "/interactions", "POST"),
        ("POST", "/health", "GET"),
        ("POST", "/users/someone", "DELETE"),
        ("PATCH", "/users/someone/profile", "DELETE, GET, PUT"),
    ],
)
def test_405_names_every_allowed_method(api: Api, method: str, path: str, allow: str) -> None:
    r = api.client.request(method, path, headers=api.auth)
    assert_error(r, 405, method, allow)
    assert r.headers["Allow"] == allow
