"""A server over a home with a catalogue but no trained model yet."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from tests.serve.helpers import assert_error, serving


def test_serves_store_popularity_until_a_model_is_trained(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDIAREC_API_KEY", raising=False)
    monkeypatch.delenv("MEDIAREC_DEFAULT_MODEL", raising=False)
    with MediaRec(home) as engine:
        load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        with serving(engine) as api:
            assert api.client.get("/health").json()["models"] == {}

            body = api.recs("user-01", n=5)
            assert body["fallback"] is True and len(body["items"]) == 5
            assert not {i["item_id"] for i in body["items"]} & engine.store.seen_items("user-01")
            assert all(i["reasons"][0]["kind"] == "popular" for i in body["items"])

            assert_error(api.client.get("/items/cooking-1/similar"), 503, "mediarec train --model als")

            # Training while the server runs: the next request picks the new model up.
            engine.train("als", factors=8)
            assert api.recs("user-01", n=5)["fallback"] is False
            assert api.client.get("/items/cooking-1/similar").status_code == 200
            assert api.client.get("/health").json()["models"] == {"als": "0001"}
