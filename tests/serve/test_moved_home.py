"""A data home that moves: ingested from one folder, copied elsewhere (``cp -r``), served from a third,
and it still plays its media and shows its keyframes; homes written before paths were stored relative
to the home are migrated (migration 6) and play too. Real files, real shots stage, real server."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediarec.cli import main
from mediarec.engine import MediaRec
from mediarec.media import content_hash
from mediarec.store import Store
from tests.serve.helpers import Api, serving

pytest.importorskip("av", reason="needs the media extra: pip install 'mediarec[media]'")
pytest.importorskip("scenedetect", reason="needs the media extra: pip install 'mediarec[media]'")
from tests.media.fixtures import make_video

_ENV = ("MEDIAREC_API_KEY", "MEDIAREC_STORE_URL", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_HOST", "MEDIAREC_HOME")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _ENV:
        monkeypatch.delenv(var, raising=False)


def video(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_video(path, seconds, audio_args=("-c:a", "aac"))


@contextmanager
def serve_from(folder: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(folder)  # the server's working folder has nothing to do with the home
    engine = MediaRec(home)
    with engine, serving(engine) as api:
        yield api


def assert_plays(api: Api, item: str, media: bytes) -> None:
    page = api.client.get(f"/ui/items/{item}")
    assert page.status_code == 200 and "No playable file" not in page.text, page.text[:3000]
    part = api.client.get(f"/ui/media/{item}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == media[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(media)}"


def assert_thumbnail(api: Api, item: str) -> None:
    thumb = api.client.get(f"/ui/keyframes/0/{item}")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:3] == b"\xff\xd8\xff"


def test_a_copied_home_plays_its_media_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "first"
    inside = video(first / "mediarec-data" / "clips" / "in.mp4", 2.0)
    outside = video(tmp_path / "outside.mp4", 2.4)
    monkeypatch.chdir(first)  # a relative --home, as with the default ./mediarec-data
    args = ["--home", "mediarec-data", "ingest", "--workers", "0", "--stage", "shots"]
    result = CliRunner().invoke(main, [*args, "mediarec-data/clips/in.mp4", "../outside.mp4"])
    assert result.exit_code == 0, result.output
    with Store(first / "mediarec-data" / "mediarec.db") as store:
        rows = dict(store.conn.execute("SELECT content_hash, uri FROM items").fetchall())
        shots = store.conn.execute("SELECT payload FROM item_features WHERE extractor = 'shots'").fetchall()
    inside_hash, outside_hash = content_hash(inside), content_hash(outside)
    assert rows == {inside_hash: "clips/in.mp4", outside_hash: str(outside)}
    keyframes = [s["keyframe_path"] for (p,) in shots for s in json.loads(p)["shots"]]
    assert keyframes and all(k.startswith("media/") for k in keyframes), keyframes

    moved = tmp_path / "second" / "moved-home"
    shutil.copytree(first / "mediarec-data", moved, symlinks=True)  # cp -r
    shutil.rmtree(first / "mediarec-data")  # the copy must not lean on the original
    with serve_from(tmp_path / "third", moved, monkeypatch) as api:
        ids = dict(api.engine.store.conn.execute("SELECT content_hash, external_id FROM items").fetchall())
        items = {"in": ids[inside_hash], "out": ids[outside_hash]}
        assert_plays(api, items["in"], (moved / "clips" / "in.mp4").read_bytes())
        assert_plays(api, items["out"], outside.read_bytes())
        assert_thumbnail(api, items["in"])


def _legacy_home(root: Path) -> tuple[Path, dict[str, str]]:
    """A home as older versions wrote it from ``root`` with ``--home mediarec-data``: paths relative to
    the working directory. Returns the home and item -> uri as stored."""
    home = root / "mediarec-data"
    video(home / "demo-media" / "cooking-1.mp4", 2.0)
    elsewhere = video(root / "videos" / "talk.mp4", 2.2)
    jpeg = home / "media" / "0123456789abcdef" / "keyframes" / "shot_0000.jpg"
    jpeg.parent.mkdir(parents=True)
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"frame" * 40 + b"\xff\xd9")
    uris = {
        "cooking-1": "mediarec-data/demo-media/cooking-1.mp4",  # under the home's old spelling
        "talk": "videos/talk.mp4",  # relative to the old working directory, outside the home
        "lost": "gone/away.mp4",  # exists nowhere now
        "absolute": str(elsewhere),
        "catalogue": "relative/by/the/importer.mp4",  # not ingested: whatever its writer meant
    }
    store = Store(home / "mediarec.db")
    with store.transaction() as tx:
        for n, (item, uri) in enumerate(uris.items()):
            digest = None if item == "catalogue" else f"{n:064x}"
            tx.execute(
                "INSERT INTO items (external_id, content_hash, title, uri, created, updated) "
                "VALUES (?, ?, ?, ?, 0, 0)",
                (item, digest, item, uri),
            )
        shots = {"shots": [{"index": 0, "start": 0, "end": 2, "keyframe_path": str(jpeg.relative_to(root))}]}
        tx.execute(
            "INSERT INTO item_features (item_id, extractor, model_version, payload, created) "
            "VALUES (1, 'shots', 'v', ?, 0), (1, 'probe', 'pyav', ?, 0)",
            (json.dumps(shots), json.dumps({"path": uris["cooking-1"], "duration": 2.0})),
        )
        tx.execute("PRAGMA user_version = 5")  # as if migration 6 had never run
    store.close()
    return home, uris


def test_old_homes_are_migrated_and_play(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    home, _ = _legacy_home(root)
    monkeypatch.chdir(tmp_path)  # not the old working directory: the migration must not need it
    store = Store(home / "mediarec.db")
    uris = dict(store.conn.execute("SELECT external_id, uri FROM items").fetchall())
    assert uris == {
        "cooking-1": "demo-media/cooking-1.mp4",
        "talk": str(root / "videos" / "talk.mp4"),  # found under the old working directory
        "lost": str(root / "gone" / "away.mp4"),  # the best guess, absolute so it is not misread
        "absolute": str(root / "videos" / "talk.mp4"),
        "catalogue": "relative/by/the/importer.mp4",
    }
    found = store.latest_feature("cooking-1", "shots")
    assert found is not None and found[1]["shots"][0]["keyframe_path"] == (
        "media/0123456789abcdef/keyframes/shot_0000.jpg"
    )
    probe = store.latest_feature("cooking-1", "probe")
    assert probe is not None and probe[1]["path"] == "demo-media/cooking-1.mp4"
    store.close()
    moved = tmp_path / "elsewhere" / "home-copy"
    shutil.copytree(home, moved)
    with serve_from(tmp_path / "cwd", moved, monkeypatch) as api:
        assert_plays(api, "cooking-1", (moved / "demo-media" / "cooking-1.mp4").read_bytes())
        assert_thumbnail(api, "cooking-1")


def test_an_absolute_old_home_copied_elsewhere_plays_its_own_files(tmp_path: Path) -> None:
    """A home ingested with an absolute --home (as /work/demo-home) and then copied: its rows name the
    original's files; migrated, they name the copy's."""
    root = tmp_path / "project"
    home, _ = _legacy_home(root)
    with sqlite3.connect(home / "mediarec.db") as con:  # rewrite the legacy rows with absolute paths
        con.execute(
            "UPDATE items SET uri = ? WHERE external_id = 'cooking-1'",
            (str(root / "mediarec-data/demo-media/cooking-1.mp4"),),
        )
        (payload,) = con.execute("SELECT payload FROM item_features WHERE extractor = 'shots'").fetchone()
        shots = json.loads(payload)
        shots["shots"][0]["keyframe_path"] = str(root / shots["shots"][0]["keyframe_path"])
        con.execute("UPDATE item_features SET payload = ? WHERE extractor = 'shots'", (json.dumps(shots),))
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    store = Store(copy / "mediarec.db")
    item = store.get_item("cooking-1")
    assert item is not None and item.uri == "demo-media/cooking-1.mp4"
    found = store.latest_feature("cooking-1", "shots")
    assert found is not None and found[1]["shots"][0]["keyframe_path"].startswith("media/0123456789abcdef/")
    store.close()
