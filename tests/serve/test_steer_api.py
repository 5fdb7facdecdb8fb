"""``ask=`` on the recommendation and similar-item APIs, through a real uvicorn server: the parsed
request comes back, every item satisfies its hard constraints, bad requests are 422, an
unsatisfiable one is an empty list with a message (never a 500)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from mediarec.datasets import demo
from tests.rank.conftest import make_engine, topic_of
from tests.serve.helpers import Api, assert_error, serving, without_settings_env


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with without_settings_env(), pytest.MonkeyPatch.context() as mp:
        mp.delenv("MEDIAREC_ASK_PARSER", raising=False)
        engine = make_engine(tmp_path_factory.mktemp("steer-api") / "home")
    engine.settings = dataclasses.replace(engine.settings, ask_parser="rules")  # no LLM in this test
    with engine, serving(engine) as api:
        yield api


def test_ask_filters_the_list_and_returns_what_was_understood(api: Api) -> None:
    body = api.recs("user-01", n=6, ask="about cooking, no football")
    steering = body["steering"]
    assert steering["understood"] == "topic cooking, not football"
    assert steering["query"] == {"topics": ["cooking"], "exclude_topics": ["football"]}
    assert steering["parser"] == "rules" and steering["message"] is None
    assert len(body["items"]) == 6 and {topic_of(i["item_id"]) for i in body["items"]} == {"cooking"}


def test_kind_request_and_plain_list_unchanged(api: Api) -> None:
    body = api.recs("user-02", n=5, ask="only audio")
    assert body["items"] and all(i["kind"] == "audio" for i in body["items"])
    plain = api.recs("user-02", n=5)
    assert plain.get("steering") is None


def test_unsatisfiable_request_is_an_empty_list_with_a_message(api: Api) -> None:
    body = api.recs("user-01", n=5, ask="in Japanese")
    assert body["items"] == []
    assert "language ja" in body["steering"]["message"]


def test_over_long_or_empty_ask_is_422(api: Api) -> None:
    r = api.client.get("/users/user-01/recommendations", params={"ask": "x" * 301})
    assert_error(r, 422, "ask")
    r = api.client.get("/users/user-01/recommendations", params={"ask": "   "})
    assert_error(r, 422, "ask", "empty")


def test_similar_with_ask(api: Api) -> None:
    item = next(i.external_id for i in demo.items() if topic_of(i.external_id) == "cooking")
    r = api.client.get(f"/items/{item}/similar", params={"ask": "like this but audio", "n": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["steering"]["query"] == {"kinds": ["audio"]}
    assert body["items"] and all(i["kind"] == "audio" for i in body["items"])
    r = api.client.get(f"/items/{item}/similar", params={"ask": "y" * 400})
    assert_error(r, 422, "ask")


def test_search_and_moments_endpoints(api: Api) -> None:
    api.engine.store.add_feature(
        "cooking-1",
        "speech",
        "test/2",
        {"segments": [{"start": 4.4, "end": 11.3, "text": "Knead the dough for ten minutes."}]},
    )
    r = api.client.get("/search", params={"q": "kneading dough"})
    assert r.status_code == 200, r.text
    first = r.json()["items"][0]
    assert first["item_id"] == "cooking-1" and (first["start"], first["end"]) == (4.4, 11.3)
    assert_error(api.client.get("/search", params={"q": "z" * 201}), 422, "q")
    assert_error(api.client.get("/search", params={"q": "  "}), 422, "empty")
    r = api.client.get("/users/user-01/moments", params={"n": 3})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(i["why"] and i["interest"] and i["start"] <= i["end"] for i in items)
