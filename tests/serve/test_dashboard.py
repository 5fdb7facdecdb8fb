"""The dashboard's routes through a real server on loopback: rendering, escaping, range requests,
files it will and will not serve, and who may see and change what."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.records import ItemRecord
from tests.serve.helpers import Api, serving

_ENV = ("MEDIAREC_API_KEY", "MEDIAREC_STORE_URL", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_HOST")
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_IMG = "<img src=x onerror=alert(2)>"
MEDIA_BYTES = bytes(range(256)) * 20  # 5,120 bytes, every offset distinguishable
JPEG = b"\xff\xd8\xff\xe0" + b"keyframe" * 50 + b"\xff\xd9"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The demo catalogue and events, plus one item with a file, keyframes and hostile text."""
    root = tmp_path_factory.mktemp("dashboard")
    with pytest.MonkeyPatch.context() as mp:
        for var in _ENV:
            mp.delenv(var, raising=False)
        engine = MediaRec(root / "home")
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    plant_clip(engine, root)
    with engine, serving(engine) as api:
        yield api


def plant_clip(engine: MediaRec, root: Path) -> None:
    clip = root / "clip.mp4"
    clip.write_bytes(MEDIA_BYTES)
    record = ItemRecord(
        external_id="clip",
        title=f"Clip {HOSTILE_SCRIPT}",
        kind="video",
        duration=12.0,
        uri=str(clip),
        creator="Mallory <b>",
        metadata={"tags": ["Hostile <i>Tag</i>"], "description": HOSTILE_IMG},
    )
    engine.store.register_media(hashlib.sha256(MEDIA_BYTES).hexdigest(), record)
    keyframe = engine.home / "media" / "abc" / "keyframes" / "shot_0000.jpg"
    keyframe.parent.mkdir(parents=True)
    keyframe.write_bytes(JPEG)
    outside = root / "secret.jpg"  # a path the store names but that lies outside <home>/media
    outside.write_bytes(b"secret")
    shots = [
        {"index": 0, "start": 0.0, "end": 5.0, "keyframe_path": str(keyframe)},
        {"index": 1, "start": 5.0, "end": 12.0, "keyframe_path": str(outside)},
    ]
    engine.store.add_feature("clip", "shots", "test", {"shots": shots})
    segments = [
        {"start": 1.5, "end": 4.0, "text": HOSTILE_SCRIPT},
        {"start": 6.25, "end": 9.0, "text": HOSTILE_IMG},
    ]
    engine.store.add_feature("clip", "speech", "test", {"language": "en", "segments": segments})
    llm = {
        "tags": [
            {
                "tag": "Planted LLM tag",
                "evidence": [{"id": "s1", "kind": "transcript", "text": HOSTILE_IMG, "start": 6.25}],
            }
        ],
        "moments": [{"segment": 1, "start": 6.25, "end": 9.0, "label": HOSTILE_SCRIPT}],
        "description": "An item planted by the dashboard tests.",
    }
    engine.store.add_feature("clip", "llm", "test", llm)


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]*)">', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def count_shown(html: str) -> int:
    found = re.search(r'id="result-count">([\d,]+) item', html)
    assert found, html[:2000]
    return int(found.group(1).replace(",", ""))


# -- catalogue -------------------------------------------------------------------------------
def test_catalogue_lists_pages_and_filters(site: Api) -> None:
    r = site.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    total = site.engine.store.count_items()
    assert count_shown(r.text) == total and total > 48
    assert r.text.count('class="card"') == 48 and 'rel="next"' in r.text and 'rel="prev"' not in r.text
    last = site.client.get("/", params={"page": 999})  # past the end: the last page
    assert last.text.count('class="card"') == total - 48 and 'rel="prev"' in last.text

    cooking = {i.external_id for i in demo.items() if "cooking" in i.metadata.get("tags", [])}
    r = site.client.get("/", params={"tag": "Cooking"})  # tags match whatever their case
    assert count_shown(r.text) == len(cooking)
    assert set(re.findall(r'class="card" data-item="([^"]+)"', r.text)) == cooking

    audio = site.engine.store.count_items(kind="audio")
    assert 0 < audio < total and count_shown(site.client.get("/?kind=audio").text) == audio
    r = site.client.get("/", params={"q": "pasta"})
    assert count_shown(r.text) == 1 and "Fresh pasta from scratch" in r.text
    creator = demo.items()[0].creator
    assert creator and count_shown(site.client.get("/", params={"creator": creator}).text) == sum(
        i.creator == creator for i in demo.items()
    )


def test_tag_filter_follows_llm_and_metadata_writes(site: Api) -> None:
    store = site.engine.store
    r = site.client.get("/", params={"tag": "planted llm tag"})
    assert count_shown(r.text) == 1 and 'data-item="clip"' in r.text
    store.add_feature("clip", "llm", "test", {"tags": [{"tag": "rewritten", "evidence": []}]})
    assert count_shown(site.client.get("/", params={"tag": "planted llm tag"}).text) == 0
    assert count_shown(site.client.get("/", params={"tag": "rewritten"}).text) == 1
    store.upsert_items(
        [
            ItemRecord(
                external_id="cooking-1", title="Fresh pasta from scratch", metadata={"tags": ["pasta night"]}
            )
        ]
    )
    assert count_shown(site.client.get("/", params={"tag": "pasta night"}).text) == 1


# -- escaping --------------------------------------------------------------------------------
def test_text_from_media_and_users_renders_as_text(site: Api) -> None:
    for url in ("/ui/items/clip", "/?q=clip", "/?tag=hostile+%3Ci%3Etag%3C/i%3E"):
        html = site.client.get(url).text
        assert HOSTILE_SCRIPT not in html and "<img src=x" not in html and "<b>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert len(re.findall(r"<script\b", html)) == 1, "only the dashboard's own script"
    item = site.client.get("/ui/items/clip").text
    assert "&lt;img src=x onerror=alert(2)&gt;" in item  # transcript, evidence and description
    assert 'data-seek="6.25"' in item and 'data-seek="1.5"' in item


# -- files -----------------------------------------------------------------------------------
def test_media_streams_with_range_requests(site: Api) -> None:
    full = site.client.get("/ui/media/clip")
    assert full.status_code == 200 and full.content == MEDIA_BYTES
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-type"] == "video/mp4"
    part = site.client.get("/ui/media/clip", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(MEDIA_BYTES)}"
    assert part.content == MEDIA_BYTES[100:200]
    tail = site.client.get("/ui/media/clip", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == MEDIA_BYTES[-10:]
    past = site.client.get("/ui/media/clip", headers={"Range": "bytes=999999-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(MEDIA_BYTES)}"


def test_files_are_only_the_items_own(site: Api) -> None:
    assert site.client.get("/ui/media/cooking-2").status_code == 404  # catalogue item, no file
    key_file = site.engine.home / "api_key"
    assert key_file.is_file()
    # A uri is writable through the API; one naming a file that is not audio or video is never served.
    site.engine.store.upsert_items([ItemRecord(external_id="sneaky", title="sneaky", uri=str(key_file))])
    r = site.client.get("/ui/media/sneaky")
    assert r.status_code == 404 and site.key not in r.text
    assert site.client.get("/ui/media/no-such-item").status_code == 404
    kf = site.client.get("/ui/keyframes/0/clip")
    assert kf.status_code == 200 and kf.content == JPEG and kf.headers["content-type"] == "image/jpeg"
    assert site.client.get("/ui/thumbs/clip").content == JPEG
    assert site.client.get("/ui/keyframes/1/clip").status_code == 404, "outside <home>/media"
    assert site.client.get("/ui/keyframes/7/clip").status_code == 404
    assert site.client.get("/ui/static/dashboard.js").status_code == 200
    for url in ("/ui/static/..%2Fapp.py", "/ui/static/app.py", "/ui/reports/..%2F..%2Fapi_key/report.png"):
        assert site.client.get(url).status_code == 404, url


def test_unknown_item_is_an_html_404(site: Api) -> None:
    r = site.client.get("/ui/items/%3Cnope%3E")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "&lt;nope&gt;" in r.text and "<nope>" not in r.text


# -- writes and access -----------------------------------------------------------------------
def test_local_writes_need_the_page_token(site: Api) -> None:
    body = {"user": "user-03", "text": "Loves <em>risotto</em> & late-night jazz", "add_tags": ["jazz"]}
    assert site.client.post("/ui/api/profile", json=body).status_code == 403
    bad = site.client.post("/ui/api/profile", json=body, headers={"X-CSRF-Token": "guess"})
    assert bad.status_code == 403
    token = csrf_of(site.client.get("/ui/users/user-03").text)
    ok = site.client.post("/ui/api/profile", json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200, ok.text
    shown = site.engine.profile("user-03")
    assert shown is not None and shown.text == body["text"] and "jazz" in [i.tag for i in shown.interests]
    page = site.client.get("/ui/users/user-03").text
    assert "Loves &lt;em&gt;risotto&lt;/em&gt; &amp; late-night jazz" in page


def test_dns_rebinding_is_refused_on_loopback(site: Api) -> None:
    r = site.client.get("/", headers={"Host": "attacker.example:8000"})
    assert r.status_code == 403
    assert site.client.get("/", headers={"Host": "localhost:8000"}).status_code == 200


def test_delete_user_from_the_dashboard(site: Api) -> None:
    store = site.engine.store
    assert store.user_events("user-04")
    token = csrf_of(site.client.get("/ui/users/user-04").text)
    r = site.client.post("/ui/api/delete-user", json={"user": "user-04"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["events_deleted"] > 0
    assert not store.user_exists("user-04") and not store.user_events("user-04")
    assert site.engine.profile("user-04") is None
    assert 'id="no-data"' in site.client.get("/ui/users/user-04").text


def test_beyond_localhost_the_dashboard_asks_for_the_key(site: Api) -> None:
    with serving(site.engine, host="0.0.0.0") as remote:
        c = remote.client
        r = c.get("/ui/users/user-05")
        assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=%2Fui%2Fusers%2Fuser-05"
        assert c.get("/ui/media/clip").status_code == 401
        assert c.get("/ui/keyframes/0/clip").status_code == 401
        assert c.post("/ui/api/delete-user", json={"user": "user-05"}).status_code == 401
        form = {"key": "wrong", "next": "/ui/users/user-05"}
        r = c.post("/ui/login", data=form)
        assert r.status_code == 401 and "set-cookie" not in r.headers
        form["key"] = remote.key
        r = c.post("/ui/login", data={**form, "next": "//evil.example/"})
        assert r.status_code == 303 and r.headers["location"] == "/", "no open redirect"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and remote.key.lower() not in cookie
        page = c.get("/ui/users/user-05", headers={"Host": "media.example.org"})
        assert page.status_code == 200 and remote.key not in page.text
        assert c.get("/ui/media/clip", headers={"Range": "bytes=0-9"}).status_code == 206
        token = csrf_of(page.text)
        assert c.post("/ui/api/delete-user", json={"user": "user-05"}).status_code == 403
        r = c.post("/ui/api/delete-user", json={"user": "user-05"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 200 and not site.engine.store.user_exists("user-05")
        c.post("/ui/logout")
        assert c.get("/").status_code == 303
    # The loopback server is unaffected: no login there.
    assert site.client.get("/").status_code == 200


# -- ingest and evaluation -------------------------------------------------------------------
def test_ingest_page_shows_running_runs_and_failures(site: Api) -> None:
    from mediarec.records import BadRow

    store = site.engine.store
    done = store.start_import("/media/old", "ingest")
    store.add_import_errors(done, [BadRow("/media/old/broken.mp4", 0, "probe: not a media file <b>")])
    store.finish_import(done, "done", {"processed": 3, "failed": 1})
    running = store.start_import("/media/new", "ingest")
    html = site.client.get("/ui/ingest").text
    assert f'id="run-{running}"' in html and "In progress:" in html and 'http-equiv="refresh"' in html
    section = html[html.index(f'id="run-{done}"') :]
    assert "broken.mp4" in section and "probe: not a media file &lt;b&gt;" in section
    assert "processed: <strong>3</strong>" in section
    store.finish_import(running, "done", {"processed": 0})
    assert 'http-equiv="refresh"' not in site.client.get("/ui/ingest").text


def test_eval_page_shows_the_latest_report(site: Api) -> None:
    from mediarec.eval import write_report
    from mediarec.eval.runner import ModelResult, Report

    assert "No evaluation report yet" in site.client.get("/ui/eval").text
    reports = site.engine.home / "reports"
    for name, recall in (("20250101-000000", 0.1), ("20250102-000000", 0.25)):
        rows = [
            ModelResult("als", {}, {"recall": recall, "ndcg": 0.2}, 1.0, 0.5),
            ModelResult("popularity", {}, {"recall": 0.05, "ndcg": float("nan")}, 0.1, 0.1),
        ]
        report = Report("demo <data>", "temporal", "global cut", 10, 42, 5, 80, 100, 20, 0, rows=rows)
        write_report(report, reports / name)
    html = site.client.get("/ui/eval").text
    assert "20250102-000000" in html and "0.2500" in html and "demo &lt;data&gt;" in html
    assert "<td>n/a</td>" in html and "Recall@10" in html
    older = site.client.get("/ui/eval", params={"report": "20250101-000000"}).text
    assert "0.1000" in older
    if (reports / "20250102-000000" / "report.png").is_file():  # matplotlib (plots extra) made one
        png = site.client.get("/ui/reports/20250102-000000/report.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_dashboard_routes_stay_out_of_the_api_description(site: Api) -> None:
    paths: dict[str, Any] = site.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/ui")]


def test_dashboard_client_needs_no_cookie_jar_on_loopback(site: Api) -> None:
    with httpx.Client(base_url=site.base_url) as fresh:
        assert fresh.get("/ui/ingest").status_code == 200


def test_similar_items_fall_back_to_content_before_training(site: Api) -> None:
    import numpy as np

    assert site.engine.loaded() is None  # no model in this store: content must answer
    store = site.engine.store
    for item, vector in (
        ("clip", [1.0, 0.0, 0.0]),
        ("cooking-3", [0.9, 0.2, 0.0]),
        ("music-1", [0.0, 1.0, 0.0]),
    ):
        store.add_feature(item, "fused", "test", vector=np.asarray(vector, dtype=np.float32))
    html = site.client.get("/ui/items/clip").text
    similar = html[html.index("Similar items") :]
    assert "by content (fused vectors)" in similar
    titles = re.findall(r'<a href="/ui/items/([^"]+)">', similar)
    assert titles == ["cooking-3", "music-1"]
