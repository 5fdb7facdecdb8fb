"""The dashboard's steering box, ``?t=`` start times and the links reasons and moments make to them,
through a real server on loopback (no LLM: the rule-based parser answers). The browser side (typing
in the box, the player starting at ``?t=``) is in test_dashboard_browser.py."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Iterator

import pytest

from mediarec.datasets import demo
from mediarec.records import ItemRecord
from mediarec.serve.dashboard_pages import _reason
from mediarec.serve.dashboard_steer import start_time
from tests.rank.conftest import make_engine, topic_of
from tests.serve.helpers import Api, serving, without_settings_env

HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(2)> no football'
MOMENT_S = 12.5  # the start of every planted LLM moment and tag evidence (tests/rank/conftest.py)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with without_settings_env(), pytest.MonkeyPatch.context() as mp:
        mp.delenv("MEDIAREC_ASK_PARSER", raising=False)
        root = tmp_path_factory.mktemp("dashboard-steer")
        engine = make_engine(root / "home")
    clip = root / "clip.mp4"  # bytes the player is never asked to decode here; the page is what is tested
    clip.write_bytes(b"\0" * 4096)
    engine.store.upsert_items(
        [ItemRecord(external_id="clip", title="Clip", kind="video", duration=30.0, uri=str(clip))]
    )
    engine.settings = dataclasses.replace(engine.settings, ask_parser="rules")  # no LLM here
    with engine, serving(engine) as api:
        yield api


def page(api: Api, path: str, status: int = 200, **params: str) -> str:
    r = api.client.get(path, params=params)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def listed(body: str, list_id: str) -> list[str]:
    found = re.search(rf'<ol class="recs" id="{list_id}">(.*?)</ol>', body, re.S)
    assert found, f"no list #{list_id}"
    return [html.unescape(i) for i in re.findall(r'<li data-item="([^"]+)"', found.group(1))]


def test_the_user_page_box_steers_the_list_and_says_what_it_understood(site: Api) -> None:
    plain = page(site, "/ui/users/user-01")
    assert 'id="ask-form"' in plain and 'maxlength="300"' in plain and 'id="understood"' not in plain
    body = page(site, "/ui/users/user-01", ask="about cooking, no football")
    assert "understood: topic cooking, not football" in body
    items = listed(body, "steered-recs")
    assert items and {topic_of(i) for i in items} == {"cooking"}
    assert 'value="about cooking, no football"' in body  # the request stays in the box to correct it


def test_an_unsatisfiable_request_is_a_message_not_an_error(site: Api) -> None:
    body = page(site, "/ui/users/user-01", ask="in Japanese")
    assert "understood: language ja" in body
    assert re.search(r'id="ask-message">[^<]*language ja', body)
    assert 'id="steered-recs"' not in body


def test_a_refused_request_is_a_422_page_with_the_reason(site: Api) -> None:
    body = page(site, "/ui/users/user-01", 422, ask="x" * 301)
    assert "at most 300 characters" in body and 'id="ask-error"' in body
    body = page(site, "/ui/items/cooking-1", 422, ask="y" * 5000)
    assert "at most 300 characters" in body


def test_hostile_request_text_is_shown_as_text(site: Api) -> None:
    body = page(site, "/ui/users/user-01", ask=HOSTILE)
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # in the box, escaped
    assert "not football" in body  # and still parsed as a request


def test_the_item_page_box_steers_similar_items(site: Api) -> None:
    item = next(i.external_id for i in demo.items() if topic_of(i.external_id) == "cooking")
    body = page(site, f"/ui/items/{item}", ask="like this but audio")
    assert "understood: kind audio" in body
    kinds = dict(re.findall(r'<li data-item="([^"]+)"><a [^>]+>[^<]*</a> <small>(\w+)', body))
    assert kinds and set(kinds.values()) == {"audio"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12.0), ("12.5", 12.5), ("1:05", 65.0), ("1:00:02", 3602.0), ("0", 0.0), (" 7 ", 7.0)],
)
def test_start_times_that_are_kept(raw: str, expected: float) -> None:
    assert start_time(raw, 4000.0) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("abc", "give seconds"),
        ("nan", "give seconds"),
        ("inf", "give seconds"),
        ("1e400", "give seconds"),
        ("-3", "before the start"),
        ("9999", "long"),
        ("1" * 5000, "give seconds"),
        ("1:75", "give seconds"),
        ("1:60:00", "give seconds"),
    ],
)
def test_start_times_that_are_ignored_with_a_note(raw: str, why: str) -> None:
    start, note = start_time(raw, 300.0)
    assert start is None and note is not None and why in note
    assert len(note) < 120  # a huge value is not echoed whole


def test_item_page_starts_the_player_at_t_or_says_why_not(site: Api) -> None:
    body = page(site, "/ui/items/clip", t="12")
    assert 'src="/ui/media/clip#t=12.0"' in body and 'data-start-at="12.0"' in body
    assert 'id="t-note"' not in body
    assert 'src="/ui/media/clip#t=25.0"' in page(site, "/ui/items/clip", t="0:25")
    for bad, why in (
        ("abc", "give seconds"),
        ("-1", "before the start"),
        ("nan", "give seconds"),
        ("31", "0:30 long"),
        ("<script>", "give seconds"),
    ):
        body = page(site, "/ui/items/clip", t=bad)  # ignored with a note, never an error page
        assert "data-start-at" not in body and "#t=" not in body
        note = re.search(r'id="t-note">([^<]*)<', body)
        assert note and why in html.unescape(note.group(1)), bad
    assert "<script>" not in page(site, "/ui/items/clip", t="<script>")


def test_reasons_link_to_a_time_only_when_they_have_one() -> None:
    moment = _reason("a b", "moment", "key moment at 0:12: the tip", {"start": MOMENT_S, "end": 20.0})
    assert moment["play"] == {"href": "/ui/items/a%20b?t=12.5", "clock": "0:12"}
    seen = _reason("a", "similar_to_seen", "because you watched B", {"item_id": "b", "title": "B"})
    assert seen["play"] is None and seen["link"] == "/ui/items/b"
    for bad in (-1.0, float("nan"), "soon", None):
        assert _reason("a", "moment", "x", {"start": bad})["play"] is None
    tag = _reason(
        "a",
        "interest_tag",
        "matches your interest",
        {"item_evidence": [{"kind": "S", "text": "said", "start": 3.0}, {"kind": "M", "text": "title"}]},
    )
    assert [ev["href"] for ev in tag["evidence"]] == ["/ui/items/a?t=3", None]


def test_the_user_pages_reason_and_moment_links_carry_real_times(site: Api) -> None:
    body = page(site, "/ui/users/user-01")
    plays = re.findall(r'<a class="play" href="([^"]+)"', body)
    assert plays, "the planted moments should give the recommendations timed reasons"
    for href in plays:
        # Every planted moment and timed evidence line starts at MOMENT_S; nothing else has a time.
        assert href.startswith("/ui/items/") and href.endswith(f"?t={MOMENT_S:g}"), href
    reasons = re.findall(r'<li class="reason (\w+)">(.*?)</li>', body, re.S)
    assert any(kind == "moment" for kind, _ in reasons)
    for kind, inner in reasons:
        if kind == "similar_to_seen":
            assert 'class="play"' not in inner  # a "because you watched" has no time to link to
    moment_link = r'<ol class="user-moments">.*?<a class="play" href="/ui/items/[^"]+\?t=12\.5"'
    assert re.search(moment_link, body, re.S)  # the user's moments link to their start
