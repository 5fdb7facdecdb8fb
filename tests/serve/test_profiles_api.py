"""Taste profile routes through a real uvicorn server, with a fake (slow) LLM backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from mediarec.engine import MediaRec
from tests.serve.helpers import Api, assert_error, serving
from tests.users.helpers import EMAIL, GOOD, FakeProfileBackend, engine_with_history

_ENV = ("MEDIAREC_API_KEY", "MEDIAREC_STORE_URL", "MEDIAREC_LLM_URL")


@pytest.fixture
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with pytest.MonkeyPatch.context() as mp:
        for var in _ENV:
            mp.delenv(var, raising=False)
        fake = FakeProfileBackend([GOOD], delay=1.5)  # a local model takes tens of seconds
        engine = engine_with_history(tmp_path_factory.mktemp("profiles") / "home", llm=fake)
    with engine, serving(engine) as api:
        yield api


def test_profile_lifecycle(api: Api) -> None:
    assert_error(api.client.get("/users/u1/profile"), 404, "no profile", "regenerate")
    assert_error(api.client.post("/users/u1/profile/regenerate"), 401, "X-API-Key")
    r = api.client.post("/users/u1/profile/regenerate", headers=api.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == "u1" and body["version"] == 1 and body["model_id"] == "fake/profile-1"
    assert body["text"] == GOOD["profile"] and not body["edited"]
    assert [i["tag"] for i in body["interests"]][:2] == ["cooking", "pasta"]
    assert EMAIL not in r.text
    assert api.client.get("/users/u1/profile").json() == body

    edit = {"text": "Mostly pasta.", "add_tags": ["Opera"], "remove_tags": ["jazz"]}
    assert_error(api.client.put("/users/u1/profile", json=edit), 401)
    r = api.client.put("/users/u1/profile", json=edit, headers=api.auth)
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (
        edited["text"] == "Mostly pasta." and edited["edited"] and edited["generated_text"] == GOOD["profile"]
    )
    tags = {i["tag"]: i["source"] for i in edited["interests"]}
    assert tags["opera"] == "user" and "jazz" not in tags
    assert api.client.get("/users/u1/profile").json() == edited

    r = api.client.delete("/users/u1/profile", headers=api.auth)
    assert r.json() == {"user_id": "u1", "versions_deleted": 1, "edits_deleted": 1}
    assert_error(api.client.get("/users/u1/profile"), 404)
    assert api.engine.store.user_events("u1")  # the events stay


def test_bad_requests(api: Api) -> None:
    put = api.client.put
    assert_error(put("/users/u1/profile", json={"add_tags": ["!"]}, headers=api.auth), 422, "not usable")
    assert_error(put("/users/u1/profile", json={"text": "w " * 81}, headers=api.auth), 422, "81 words")
    assert_error(put("/users/u1/profile", json={"colour": "red"}, headers=api.auth), 422, "colour")
    assert_error(put("/users/ghost/profile", json={"text": "x"}, headers=api.auth), 404, "unknown user")
    r = api.client.post("/users/ghost/profile/regenerate", headers=api.auth)
    assert_error(r, 404, "unknown user")


def test_regeneration_runs_off_the_event_loop(api: Api) -> None:
    result: dict[str, int] = {}

    def regenerate() -> None:
        import httpx

        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            r = client.post("/users/u1/profile/regenerate", headers=api.auth)
            result["status"] = r.status_code

    worker = threading.Thread(target=regenerate)
    worker.start()
    time.sleep(0.3)  # the fake model is now "thinking" for 1.5 s
    started = time.perf_counter()
    assert api.client.get("/health").status_code == 200
    assert api.client.get("/users/u1/profile").status_code == 404  # not stored yet
    assert time.perf_counter() - started < 1.0
    worker.join(timeout=30)
    assert result == {"status": 200}
    assert api.client.get("/users/u1/profile").json()["version"] == 1


def test_deleting_the_user_deletes_the_profile(api: Api) -> None:
    api.engine.regenerate_profile("u1")
    api.engine.edit_profile("u1", add_tags=["opera"])
    assert api.client.delete("/users/u1", headers=api.auth).status_code == 200
    assert_error(api.client.get("/users/u1/profile"), 404)
    count = api.engine.store.conn.execute("SELECT count(*) FROM user_profile_edits").fetchone()[0]
    assert count == 0


def test_no_llm_answers_503(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for var in _ENV:
            mp.delenv(var, raising=False)
        # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        mp.setenv("MEDIAREC_LLM_URL", "http://127.0.0.1:9/v1?model=none")
        engine = engine_with_history(tmp_path_factory.mktemp("nollm") / "home")
    assert isinstance(engine, MediaRec)
    with engine, serving(engine) as api:
        r = api.client.post("/users/u1/profile/regenerate", headers=api.auth)
        assert_error(r, 503, "LLM is not available")


def test_openapi_describes_the_profile_routes(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert set(paths["/users/{user_id}/profile"]) == {"get", "put", "delete"}
    assert set(paths["/users/{user_id}/profile/regenerate"]) == {"post"}
    assert paths["/users/{user_id}/profile/regenerate"]["post"]["security"]
