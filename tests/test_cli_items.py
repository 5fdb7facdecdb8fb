"""``mediarec items`` lists the catalogue with the API's filters; ``ingest`` prints the items it
created, titled by the file's own title tag when it has one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import invoke, small_home
from tests.media.fixtures import make_sine, make_video


def test_items_lists_pages_and_filters_like_the_api(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    result = invoke(home, "items", "--limit", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("v0  audio") and lines[0].endswith("alice  Video 0")
    assert "1-3 of 40 items; next page: --offset 3" in result.stderr

    def ids(*args: str) -> list[str]:
        page = invoke(home, "items", "--json", "--limit", "100", *args)
        assert page.exit_code == 0, page.output
        return [i["id"] for i in json.loads(page.stdout)["items"]]

    assert ids("--kind", "audio") == [f"v{i}" for i in range(0, 40, 4)]
    assert ids("--creator", "bob") == [f"v{i}" for i in range(20, 40)]
    assert ids("--tag", "jazz", "--kind", "video") == [f"v{i}" for i in range(20, 40) if i % 4]
    assert ids("-q", "Video 1") == ["v1", *(f"v{i}" for i in range(10, 20))]
    assert ids("--creator", "nobody") == []
    page = json.loads(invoke(home, "items", "--json", "--limit", "2", "--offset", "38").stdout)
    assert (page["total"], page["limit"], page["offset"]) == (40, 2, 38)
    assert [i["id"] for i in page["items"]] == ["v38", "v39"]
    assert set(page["items"][0]) == {
        "id",
        "title",
        "kind",
        "duration",
        "uri",
        "creator",
        "metadata",
        "created",
    }
    empty = invoke(home, "items", "--offset", "100")
    assert empty.exit_code == 0 and empty.stdout == "" and "none of 40 items" in empty.stderr


@pytest.mark.parametrize(
    "args", [("--offset", "9223372036854775808"), ("--limit", "0"), ("--kind", "podcast"), ("--offset", "-1")]
)
def test_items_bad_options_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = invoke(small_home(tmp_path / "home"), "items", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_probe_reads_the_container_title(tmp_path: Path) -> None:
    from mediarec.media import probe

    tagged = make_video(
        tmp_path / "tagged.mp4", 1.0, codec_args=("-c:v", "mpeg4", "-metadata", "title=A  Tagged\nFilm")
    )
    plain = make_video(tmp_path / "plain.mp4", 1.0, codec_args=("-c:v", "mpeg4"))
    song = make_sine(
        tmp_path / "song.flac", seconds=1.0, codec_args=("-c:a", "flac", "-metadata", "title=Song")
    )
    assert probe(tagged).title == "A Tagged Film"
    assert probe(plain).title is None
    assert probe(song).title == "Song"


def test_ingest_prints_the_ids_of_new_items_titled_by_their_tag(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    make_sine(
        media / "track-01.flac", seconds=1.0, codec_args=("-c:a", "flac", "-metadata", "title=Morning Song")
    )
    make_sine(media / "untagged.flac", freq=330.0, seconds=1.0, codec_args=("-c:a", "flac"))
    home = tmp_path / "home"
    # Only the probe and registration run: the shots stage does not apply to audio.
    result = invoke(home, "ingest", str(media), "--stage", "shots", "--workers", "0")
    assert result.exit_code == 0, result.output
    listed = json.loads(invoke(home, "items", "--json").stdout)["items"]
    titles = {i["id"]: i["title"] for i in listed}
    assert sorted(titles.values()) == ["Morning Song", "untagged"]
    for item_id, title in titles.items():
        assert f"new item {item_id}: {title} (" in result.stdout
    # A second run creates nothing, so it prints no "new item" line.
    again = invoke(home, "ingest", str(media), "--stage", "shots", "--workers", "0")
    assert again.exit_code == 0 and "new item" not in again.output
