"""Stored paths: relative to the home inside it, absolute elsewhere, exact for names that are not UTF-8."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from mediarec.media.paths import display_name, display_path, real_path, stored_path


def test_inside_the_home_is_relative_and_follows_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clip = home / "demo-media" / "clip one.mp4"
    assert stored_path(clip, home) == "demo-media/clip one.mp4"
    moved = tmp_path / "elsewhere" / "copy"
    assert real_path("demo-media/clip one.mp4", moved) == moved / "demo-media" / "clip one.mp4"


def test_outside_the_home_is_absolute(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert stored_path(tmp_path / "videos" / "a.mp4", home) == str(tmp_path / "videos" / "a.mp4")
    assert stored_path(home / ".." / "b.mp4", home) == str(tmp_path / "b.mp4"), "no '..' escapes"
    assert real_path(str(tmp_path / "a.mp4"), home) == tmp_path / "a.mp4"


def test_relative_input_is_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert stored_path("mediarec-data/media/x.jpg", "mediarec-data") == "media/x.jpg"
    assert stored_path("clips/a.mp4", "mediarec-data") == str(tmp_path / "clips" / "a.mp4")


def test_a_symlinked_home_still_counts_as_inside(tmp_path: Path) -> None:
    real = tmp_path / "real-home"
    (real / "media").mkdir(parents=True)
    link = tmp_path / "link-home"
    link.symlink_to(real)
    assert stored_path(real / "media" / "k.jpg", link) == "media/k.jpg"


def test_names_that_are_not_utf8_round_trip_and_can_be_stored(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xffbyte \xe9.mp4"
    path = Path(os.fsdecode(raw))
    path.write_bytes(b"x")
    for home in (tmp_path / "home", tmp_path):  # outside and inside the home
        stored = stored_path(path, home)
        stored.encode("utf-8")  # valid text, so SQLite and JSON take it
        sqlite3.connect(":memory:").execute("SELECT ?", (stored,))
        back = real_path(stored, home)
        assert back is not None and os.fsencode(back) == raw and back.read_bytes() == b"x"
    assert display_path(path).endswith("bad\\xffbyte \\xe9.mp4")
    assert display_name(path) == "bad\ufffdbyte \ufffd"


def test_urls_and_empty_values(tmp_path: Path) -> None:
    assert real_path(None, tmp_path) is None and real_path("", tmp_path) is None
    assert real_path("https://example.org/a.mp4", tmp_path) is None
    assert real_path("file://otherhost/a.mp4", tmp_path) is None
    assert real_path("file:///srv/a%20b.mp4", tmp_path) == Path("/srv/a b.mp4")


def test_stages_read_keyframes_stored_relative_to_the_home(tmp_path: Path) -> None:
    from mediarec.records import MediaInfo
    from mediarec.understand.base import Feature, ItemContext
    from mediarec.understand.vision import keyframes

    shots = {
        "shots": [{"index": 0, "start": 0.0, "end": 2.0, "keyframe_path": "media/ab/keyframes/shot_0000.jpg"}]
    }
    info = MediaInfo("x.mp4", 1, "mov,mp4", 2.0, has_video=True, has_audio=False)
    ctx = ItemContext("i", tmp_path / "x.mp4", info, home=tmp_path / "home", features={
        "shots": Feature("shots", "v", shots)
    })  # fmt: skip
    (frame,) = keyframes(ctx)
    assert frame.path == str(tmp_path / "home" / "media" / "ab" / "keyframes" / "shot_0000.jpg")
