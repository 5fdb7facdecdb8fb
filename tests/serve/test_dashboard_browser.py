"""The dashboard in a real browser: Debian's headless Chromium (apt, never a downloaded build)
driven by Playwright against a live server on loopback, over demo clips the content pipeline
really ingested. Screenshots go to ``$MEDIAREC_SCREENSHOTS`` when set, else the pytest temp dir.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mediarec.engine import MediaRec
from mediarec.records import EventRecord, ItemRecord
from tests.serve.helpers import Api, serving

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MEDIAREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = ["<script>alert(1)</script>", '<img src=x onerror="alert(2)">', "<b onmouseover=alert(3)>bold</b>"]
_ENV = ("MEDIAREC_API_KEY", "MEDIAREC_STORE_URL", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_HOST")


@dataclass
class Site:
    api: Api
    engine: MediaRec
    clips: list[Any]  # MediaClip of each ingested clip
    browser: Any
    shots: Path

    def page(self) -> Any:
        page = self.browser.new_page(viewport={"width": 1280, "height": 900})
        page.dialogs = []  # every alert/confirm the page raised: none is expected anywhere
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        return page

    def url(self, path: str) -> str:
        return self.api.base_url + path

    def snap(self, page: Any, name: str) -> Path:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path


def until(page: Any, js: str, timeout: float = 15.0) -> Any:
    """Poll a JavaScript expression until it is truthy. Playwright's wait_for_function evaluates
    strings with eval, which the dashboard's Content-Security-Policy (rightly) refuses."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(js)
        except Exception as exc:  # the page reloaded under the evaluation (saving or deleting does)
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {js}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def site(demo_media: Any, shared_kit: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    pytest.importorskip(
        "faster_whisper", reason="needs the understand extra: pip install 'mediarec[understand]'"
    )
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the dev extra (playwright)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/_venv.sh does)")
    root = tmp_path_factory.mktemp("dashboard-browser")
    shots = Path(os.environ.get("MEDIAREC_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        for var in _ENV:
            mp.delenv(var, raising=False)
        # ask_parser rules: no LLM parses the steering box's requests here (the kit may hold one).
        settings = dataclasses.replace(shared_kit, home=str(root / "home"), ask_parser="rules")
        engine = MediaRec(settings=settings)
    clips = ingest_clips(engine, demo_media, root)
    plant(engine, clips)
    with engine, serving(engine) as api, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"]
        )
        try:
            yield Site(api, engine, clips, browser, shots)
        finally:
            browser.close()


def ingest_clips(engine: MediaRec, demo_media: Any, root: Path) -> list[Any]:
    """Three narrated clips on three topics, through the real content pipeline."""
    from mediarec.pipeline import IngestOptions, default_extractors

    chosen: dict[str, Any] = {}
    for clip in demo_media.clips:
        if clip.kind == "video" and clip.truth.script and clip.topic not in chosen:
            chosen[clip.topic] = clip
    clips = list(chosen.values())[:3]
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({**c.manifest_row(), "file": str(c.path)}) + "\n" for c in clips))
    content = tuple(e.name for e in default_extractors(engine.settings) if e.name not in ("llm", "describe"))
    summary = engine.ingest([manifest], IngestOptions(workers=0, stages=content))
    assert summary.count("processed") == 3, [o.errors for o in summary.outcomes]
    return clips


def plant(engine: MediaRec, clips: list[Any]) -> None:
    """LLM tags and moments grounded on each clip's real transcript (the describe stage's shape), a
    hostile item, viewers, and a trained model, so that recommendations carry moment reasons."""
    store = engine.store
    for clip in clips:
        found = store.latest_feature(clip.id, "speech")
        assert found is not None
        seg = found[1]["segments"][-1]
        evidence = [{"id": "s1", "kind": "transcript", "text": seg["text"], "start": seg["start"]}]
        payload = {
            "tags": [{"tag": clip.topic, "evidence": evidence}],
            "moments": [
                {"segment": 1, "start": seg["start"], "end": seg["end"], "label": f"{clip.topic} tip"}
            ],
            "topics": [clip.topic],
            "description": clip.description,
        }
        store.add_feature(clip.id, "llm", "test", payload)
    store.upsert_items(
        [
            ItemRecord(
                external_id="hostile",
                title=f"Hostile {HOSTILE[2]}",
                kind="video",
                duration=10.0,
                uri=str(clips[0].path),
                creator=HOSTILE[0],
                metadata={"description": HOSTILE[1]},
            )
        ]
    )
    segments = [{"start": float(i), "end": float(i + 1), "text": text} for i, text in enumerate(HOSTILE)]
    store.add_feature("hostile", "speech", "test", {"language": "en", "segments": segments})
    store.add_feature(
        "hostile",
        "llm",
        "test",
        {
            "tags": [
                {
                    "tag": "hostile",
                    "evidence": [{"id": "s1", "kind": "transcript", "text": HOSTILE[1], "start": 1.0}],
                }
            ]
        },
    )
    a, b, c = (clip.id for clip in clips)
    # Two viewers of `a` also watched `b`: the co-viewers a "liked by viewers with your taste" reason
    # needs, and a moment is shown only beside a reason that holds.
    views = {"viewer": [a], "profiled": [a, b], "leaver": [b, c], "other": [a, b, c], "fourth": [b]}
    events = [
        EventRecord(user, item, "view", 0.9, 1_700_000_000.0 + k)
        for user, items in views.items()
        for k, item in enumerate(items)
    ]
    events.append(EventRecord("leaver", c, "comment", None, 1_700_000_100.0, HOSTILE[0]))
    store.add_events(events)
    engine.train("als", factors=4)


def test_catalogue_shows_ingested_clips_with_keyframes(site: Site) -> None:
    page = site.page()
    page.goto(site.url("/"))
    cards = page.locator(".card")
    assert cards.count() == 4
    for clip in site.clips:
        card = page.locator(f'.card[data-item="{clip.id}"]')
        assert card.locator(".title").inner_text() == clip.title
        until(page, f"""document.querySelector('.card[data-item="{clip.id}"] img').naturalWidth > 0""")
        assert clip.topic in card.locator(".tags").inner_text()
    page.fill('input[name="tag"]', site.clips[1].topic)
    page.click('form.filters button[type="submit"]')
    page.wait_for_load_state()
    assert [c.get_attribute("data-item") for c in page.locator(".card").all()] == [site.clips[1].id]
    site.snap(page, "catalogue-filtered")
    page.goto(site.url("/"))
    site.snap(page, "catalogue")
    assert page.dialogs == []


def test_clicking_a_transcript_line_seeks_the_player(site: Site) -> None:
    clip = site.clips[0]
    page = site.page()
    page.goto(site.url("/"))
    page.click(f'.card[data-item="{clip.id}"] .title')
    page.wait_for_load_state()
    assert page.url.endswith(f"/ui/items/{clip.id}")
    until(page, "document.getElementById('player').readyState >= 1")  # metadata came over range requests
    lines = page.locator("#transcript button")
    assert lines.count() >= 2
    line = lines.nth(lines.count() - 1)
    start = float(line.get_attribute("data-seek"))
    assert start > 1.0
    line.click()
    now = until(
        page,
        f"""(() => {{ const p = document.getElementById('player');
        return !p.seeking && Math.abs(p.currentTime - {start}) < 1.0 && p.currentTime; }})()""",
    )
    assert abs(now - start) < 1.0
    assert page.locator("img[src*='/ui/keyframes/']").count() >= 2
    site.snap(page, "item-after-transcript-click")
    assert page.dialogs == []


def test_a_recommended_moment_plays_from_its_timestamp(site: Site) -> None:
    page = site.page()
    page.goto(site.url("/ui/users/viewer"))
    moment = page.locator("li.reason.moment a.play").first
    href = moment.get_attribute("href")
    assert href and "?t=" in href
    start = float(href.split("?t=")[1])
    site.snap(page, "user-recommendations")
    moment.click()
    page.wait_for_load_state()
    now = until(
        page,
        f"""(() => {{ const p = document.getElementById('player'); return p.readyState >= 1
        && !p.seeking && Math.abs(p.currentTime - {start}) < 1.0 && p.currentTime; }})()""",
    )
    assert abs(now - start) < 1.0
    site.snap(page, "item-from-moment")


def test_profile_edit_survives_a_reload(site: Site) -> None:
    page = site.page()
    page.goto(site.url("/ui/users/profiled"))
    text = "I like <em>short</em> tutorials & calm narration"
    page.fill('#profile-form textarea[name="text"]', text)
    page.fill('#profile-form input[name="add_tags"]', "night walks, jazz")
    with page.expect_navigation():  # the page reloads once the edit is stored
        page.click("#profile-save")
    until(
        page,
        "document.getElementById('profile-text') && "
        "document.getElementById('profile-text').textContent.includes('calm narration')",
    )
    page.reload()
    assert page.locator("#profile-text").inner_text() == text  # shown as typed: escaped, not parsed
    assert page.locator("#profile-text em").count() == 0
    tags = page.locator("#profile-tags").inner_text()
    assert "night walks" in tags and "jazz" in tags
    shown = site.engine.profile("profiled")
    assert shown is not None and shown.text == text
    site.snap(page, "user-profile-edited")
    assert page.dialogs == []


def test_delete_my_data_with_confirmation(site: Site) -> None:
    store = site.engine.store
    assert store.user_events("leaver")
    page = site.page()
    page.goto(site.url("/ui/users/leaver"))
    page.click("#delete-open")
    assert page.locator("#delete-dialog").is_visible()
    page.click("#delete-cancel")  # cancelling keeps everything
    assert not page.locator("#delete-dialog").is_visible() and store.user_exists("leaver")
    page.click("#delete-open")
    site.snap(page, "user-delete-confirmation")
    page.click("#delete-confirm")
    until(page, "document.getElementById('no-data') !== null")  # the page reloads once done
    assert not store.user_exists("leaver") and not store.user_events("leaver")
    assert site.engine.profile("leaver") is None
    r = site.api.client.get("/users/leaver/recommendations")
    assert r.status_code == 200 and r.json()["fallback"] is True  # a stranger now, to the API too
    site.snap(page, "user-deleted")
    assert page.dialogs == []


def test_hostile_transcript_renders_as_text(site: Site) -> None:
    page = site.page()
    page.goto(site.url("/ui/items/hostile"))
    texts = page.locator("#transcript .text").all_inner_texts()
    assert texts == HOSTILE
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#transcript b, main b[onmouseover]").count() == 0
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert scripts == ["/ui/static/dashboard.js"]
    assert HOSTILE[2] in page.locator("h1").inner_text()
    page.locator("#transcript button").nth(1).click()  # clicking the hostile line only seeks
    page.goto(site.url("/?q=hostile"))
    assert page.locator(".card .title").inner_text() == f"Hostile {HOSTILE[2]}"
    site.snap(page, "catalogue-hostile")
    page.goto(site.url("/ui/items/hostile"))
    site.snap(page, "item-hostile")
    time.sleep(0.3)  # an onerror handler would have fired by now
    assert page.dialogs == []


def test_ingest_and_evaluation_pages(site: Site) -> None:
    from mediarec.eval import evaluate, write_report

    report = evaluate(site.engine.dataset(), "random", ["popularity", "random"], k=3, seed=1)
    write_report(report, site.engine.home / "reports" / "20250101-000000")
    page = site.page()
    page.goto(site.url("/ui/ingest"))
    assert "processed: 3" in page.locator(".run").first.inner_text()
    site.snap(page, "ingest")
    page.goto(site.url("/ui/eval"))
    rows = page.locator("#report-table tbody tr")
    assert sorted(r.split("\t")[0] for r in rows.all_inner_texts()) == ["popularity", "random"]
    if page.locator("figure img").count():
        until(page, "document.querySelector('figure img').naturalWidth > 0")
    site.snap(page, "evaluation")


def test_asking_in_the_box_steers_the_recommendations(site: Site) -> None:
    """Typed into the user page's box and submitted: the page shows what was understood and a list
    that holds it; the request's markup stays text (no parser LLM here: the rules answer)."""
    page = site.page()
    page.goto(site.url("/ui/users/viewer"))
    typed = f"only video, shorter than 1 hour {HOSTILE[1]}"
    page.fill("#ask-input", typed)
    with page.expect_navigation():
        page.click("#ask-submit")
    assert "ask=" in page.url
    understood = page.locator("#understood").inner_text()
    assert understood.startswith("understood:") and "kind video" in understood and "≤ 60 min" in understood
    items = page.locator("#steered-recs > li")
    assert items.count() >= 1
    assert page.input_value("#ask-input") == typed  # shown back as typed, to correct it
    assert page.locator("img[src='x']").count() == 0
    site.snap(page, "user-steered")
    time.sleep(0.3)  # an onerror handler would have fired by now
    assert page.dialogs == []


def test_an_item_page_with_t_starts_the_player_there(site: Site) -> None:
    clip = site.clips[0]
    page = site.page()
    page.goto(site.url(f"/ui/items/{clip.id}?t=12"))
    src = page.eval_on_selector("#player", "p => p.currentSrc")
    assert src.endswith("#t=12.0"), src  # a media fragment: the browser starts there, script or not
    now = until(
        page,
        """(() => { const p = document.getElementById('player'); return p.readyState >= 1
        && !p.seeking && Math.abs(p.currentTime - 12) < 1.0 && p.currentTime; })()""",
    )
    assert abs(now - 12) < 1.0
    page.goto(site.url(f"/ui/items/{clip.id}?t=oops"))  # a bad value is ignored with a note
    assert "ignored" in page.locator("#t-note").inner_text()
    assert page.eval_on_selector("#player", "p => p.getAttribute('src')").endswith(clip.id)
    assert page.dialogs == []
