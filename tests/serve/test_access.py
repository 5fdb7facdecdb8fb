"""Issue 15, items 9 and 11: reads need a key beyond loopback (or with ``read_key``), key guessing is
rate-limited, and /docs and /redoc work offline from assets this server serves itself."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.serve.auth import AttemptLimiter
from mediarec.serve.dashboard import CSP
from mediarec.settings import load_settings
from tests.serve.helpers import Api, assert_error, serving, without_settings_env

READS = [
    "/health",
    "/users/user-01/recommendations",
    "/items",
    "/items/cooking-1",
    "/items/cooking-1/similar",
    "/users/user-01/profile",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with without_settings_env():
        path = tmp_path_factory.mktemp("access") / "home"
        with MediaRec(path) as engine:
            load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        yield path


def _engine(home: Path, **settings: str) -> MediaRec:
    return MediaRec(settings=load_settings(home, api_key="the-write-key", **settings))


def _denied(api: Api, path: str, headers: dict[str, str] | None = None) -> None:
    r = api.client.get(path, headers=headers or {})
    assert_error(r, 401, "X-API-Key")
    assert "user-01" not in r.text and "cooking" not in r.text.replace(path, "")


def _allowed(api: Api, path: str, headers: dict[str, str] | None = None) -> None:
    # Similar needs a trained model (503) and the profile a generated one (404): both are answers.
    assert api.client.get(path, headers=headers or {}).status_code in (200, 404, 503), path


# -- item 9: read keys -------------------------------------------------------------------
def test_beyond_loopback_every_read_needs_a_key(home: Path) -> None:
    with _engine(home) as engine, serving(engine, host="0.0.0.0") as api:
        for path in READS:
            _denied(api, path)
            _denied(api, path, {"X-API-Key": "a-guess"})
            _allowed(api, path, {"X-API-Key": "the-write-key"})  # no read_key: the write key reads
        recs = api.client.get(READS[1], headers={"X-API-Key": "the-write-key"})
        assert recs.status_code == 200 and recs.json()["items"]
        # The contract stays public, so a client can learn how to authenticate.
        assert api.client.get("/openapi.json").status_code == 200
        assert api.client.get("/docs").status_code == 200


def test_read_key_opens_reads_but_not_writes(home: Path) -> None:
    with _engine(home, read_key="the-read-key") as engine, serving(engine, host="0.0.0.0") as api:
        for path in READS:
            _denied(api, path)
            _allowed(api, path, {"X-API-Key": "the-read-key"})
            _allowed(api, path, {"X-API-Key": "the-write-key"})
        event = {"user": "reader", "item": "cooking-1"}
        r = api.client.post("/interactions", json=event, headers={"X-API-Key": "the-read-key"})
        assert_error(r, 401, "wrong X-API-Key")
        assert not engine.store.user_exists("reader")


def test_on_loopback_reads_are_open_unless_a_read_key_is_set(home: Path) -> None:
    with _engine(home) as engine, serving(engine, host="127.0.0.1") as api:
        for path in READS:
            _allowed(api, path)
    with _engine(home, read_key="the-read-key") as engine, serving(engine, host="127.0.0.1") as api:
        for path in READS:
            _denied(api, path)
            _allowed(api, path, {"X-API-Key": "the-read-key"})


def test_the_schema_marks_reads_as_keyed(home: Path) -> None:
    with _engine(home) as engine, serving(engine, host="0.0.0.0") as api:
        doc = api.client.get("/openapi.json").json()
        for path in ("/users/{user_id}/recommendations", "/items", "/health"):
            assert doc["paths"][path]["get"].get("security"), path


# -- item 9: guessing is rate-limited ----------------------------------------------------
def test_wrong_logins_are_rate_limited_with_retry_after(home: Path) -> None:
    with _engine(home) as engine, serving(engine, host="0.0.0.0") as api:
        statuses = [
            api.client.post("/ui/login", data={"key": f"guess-{i}", "next": "/"}).status_code
            for i in range(30)
        ]
        limiter = api.app.state.auth_limiter
        assert statuses[: limiter.burst] == [401] * limiter.burst
        assert set(statuses[limiter.burst :]) == {429}
        r = api.client.post("/ui/login", data={"key": "the-write-key", "next": "/"})
        assert r.status_code == 429, "while limited, even the right key gets no answer"
        assert 0 < int(r.headers["Retry-After"]) <= limiter.refill_seconds + 1
        # The API shares the bucket: guessing there instead gets no answers either.
        r = api.client.get("/items", headers={"X-API-Key": "the-write-key"})
        assert_error(r, 429, "too many wrong keys")
        assert "Retry-After" in r.headers


def test_wrong_api_keys_are_rate_limited(home: Path) -> None:
    with _engine(home) as engine, serving(engine) as api:
        event = {"user": "guesser", "item": "cooking-1"}
        statuses = [
            api.client.post("/interactions", json=event, headers={"X-API-Key": f"g{i}"}).status_code
            for i in range(15)
        ]
        assert statuses == [401] * 10 + [429] * 5
        assert not engine.store.user_exists("guesser")
        # A missing key is no guess and costs nothing; reads on loopback need no key at all.
        assert api.client.get("/items").status_code == 200


def test_limiter_refills_per_client_and_stays_bounded() -> None:
    now = [1000.0]
    limiter = AttemptLimiter(burst=3, refill_seconds=10, max_clients=50, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a") == 0
        limiter.failed("a")
    assert limiter.retry_after("a") == 10
    assert limiter.retry_after("b") == 0  # another address has its own bucket
    now[0] += 4
    assert limiter.retry_after("a") == 6
    now[0] += 6
    assert limiter.retry_after("a") == 0
    for i in range(500):
        limiter.failed(f"client-{i}")
    assert len(limiter._buckets) <= 50


# -- item 11: docs offline -----------------------------------------------------------------
_REF = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_every_asset_from_this_server(home: Path, page: str) -> None:
    with _engine(home) as engine, serving(engine) as api:
        r = api.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), "an external URL"
        refs = {a or b for a, b in _REF.findall(html)}
        assets = {ref for ref in refs if ref != "/openapi.json"}
        assert any(ref.endswith(".js") for ref in assets), refs
        for ref in refs:
            assert ref.startswith("/") and not ref.startswith("//"), ref
            got = api.client.get(ref)
            assert got.status_code == 200, ref
            assert len(got.content) > 1000, ref
        assert api.client.get("/docs/assets/../api_key").status_code == 404


def test_dashboard_keeps_its_csp(home: Path) -> None:
    with _engine(home) as engine, serving(engine) as api:
        r = api.client.get("/")
        assert r.status_code == 200
        assert r.headers["Content-Security-Policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "http" not in CSP


@pytest.mark.browser
def test_docs_render_in_a_browser_with_no_network(home: Path) -> None:
    """Real Chromium, every request that leaves this server refused: both pages still render."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the dev extra (playwright)")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        pytest.skip(f"no Chromium at {chromium}: apt-get install chromium (scripts/_venv.sh does)")
    with _engine(home) as engine, serving(engine) as api, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        try:
            outside: list[str] = []

            def only_here(route: Any) -> None:
                if route.request.url.startswith(api.base_url):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", only_here)
            page.goto(api.base_url + "/docs")
            page.wait_for_selector(".opblock", timeout=20_000)  # Swagger UI drew the operations
            assert page.locator(".opblock").count() >= 10
            page.goto(api.base_url + "/redoc")
            page.wait_for_selector("[data-section-id]", timeout=20_000)  # ReDoc drew its sections
            assert page.locator("[data-section-id]").count() >= 10
            assert page.get_by_text("List Items").count() >= 1
            assert outside == []
            # ReDoc's footer asks for its logo from a CDN: the page's CSP refuses it before it leaves.
            assert all("violates the following Content Security Policy" in e for e in errors), errors
        finally:
            browser.close()
