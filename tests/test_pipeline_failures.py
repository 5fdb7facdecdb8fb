"""Files that fail alone, runs that always end, and damaged audio: ingest over real media files.

Where the models do not matter the stages are fakes (named Fake*), which read the real decoded audio;
the speech stage is the real one, on silent soundtracks, where it decides without loading Whisper.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediarec.cli import EXIT_SOME_FAILED, main
from mediarec.media.paths import real_path
from mediarec.pipeline import IngestOptions, ingest
from mediarec.settings import Settings
from mediarec.store import Store
from mediarec.understand.base import Extractor, Feature, ItemContext
from mediarec.understand.speech import SpeechExtractor

pytest.importorskip("av", reason="needs the media extra: pip install 'mediarec[media]'")
from tests.media.fixtures import ffmpeg, flip_audio_copy

BAD_NAME = os.fsdecode(b"bad\xffbyte.mp4")  # legal on Linux, not UTF-8


def clip(path: Path, seconds: float, silent: bool = False) -> Path:
    """A small H.264 + AAC clip; ``seconds`` makes its bytes (and so its item) distinct."""
    sound = "anullsrc=r=48000:cl=mono" if silent else "sine=f=440:r=48000"
    ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=s=96x64:r=25:d={seconds}", "-f", "lavfi", "-i", sound),
        *("-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", path),
    )
    return path


class FakeAudioStage(Extractor):
    """A fake stage that decodes the real soundtrack (as the audio stages do) and stores its length;
    ``interrupt_on`` raises KeyboardInterrupt for that file, as Ctrl-C would."""

    name = "fakeaudio"  # type: ignore[misc]
    version = "1"  # type: ignore[assignment]

    def __init__(self, interrupt_on: str | None = None) -> None:
        self.interrupt_on = interrupt_on

    def run(self, ctx: ItemContext) -> Feature:
        if self.interrupt_on and ctx.path.name == self.interrupt_on:
            raise KeyboardInterrupt
        return self.feature({"seconds": len(ctx.audio()) / 16000})


def run_row(store: Store, run_id: int) -> tuple[str, dict[str, int]]:
    status, counts = store.conn.execute(
        "SELECT status, counts FROM import_runs WHERE id = ?", (run_id,)
    ).fetchone()
    return str(status), json.loads(counts)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_a_file_name_that_is_not_utf8_works_and_the_batch_goes_on(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    clip(folder / "a.mp4", 1.0)
    bad = clip(folder / BAD_NAME, 1.2)
    clip(folder / "z.mp4", 1.4)
    store = Store(home / "mediarec.db")
    summary = ingest(
        store, Settings(home=str(home)), [folder, tmp_path / "gone.mp4"], IngestOptions(workers=0),
        extractors=[FakeAudioStage()],
    )  # fmt: skip
    by_name = {Path(o.path).name: o for o in summary.outcomes}
    assert [by_name[n].status for n in ("a.mp4", "bad\\xffbyte.mp4", "z.mp4")] == ["processed"] * 3
    assert by_name["gone.mp4"].status == "failed" and "file not found" in by_name["gone.mp4"].errors["probe"]
    item = store.get_item(str(by_name["bad\\xffbyte.mp4"].item_id))
    assert item is not None and item.title == "bad\ufffdbyte"
    found = real_path(item.uri, home)
    assert found is not None and os.fsencode(found) == os.fsencode(bad), "the stored path finds the file"
    assert run_row(store, summary.run_id) == (
        "done", {"processed": 3, "skipped": 0, "failed": 1, "not_media": 0, "warnings": 0}
    )  # fmt: skip
    again = ingest(
        store, Settings(home=str(home)), [bad], IngestOptions(workers=0), extractors=[FakeAudioStage()]
    )
    assert again.outcomes[0].status == "skipped", "the same item, found again by its content"


def test_ctrl_c_ends_the_run_as_interrupted(tmp_path: Path, home: Path) -> None:
    files = [clip(tmp_path / "a.mp4", 1.0), clip(tmp_path / "b.mp4", 1.2), clip(tmp_path / "c.mp4", 1.4)]
    store = Store(home / "mediarec.db")
    with pytest.raises(KeyboardInterrupt):
        ingest(store, Settings(home=str(home)), files, IngestOptions(workers=0), [FakeAudioStage("b.mp4")])
    status, counts = run_row(store, 1)
    assert status == "interrupted" and counts["processed"] == 1
    assert store.latest_feature(store.all_item_ids()[0], "fakeaudio") is not None, "a.mp4's work is kept"


_SLOW_INGEST = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mediarec.cli import _sigterm_interrupts
    from mediarec.pipeline import IngestOptions, ingest
    from mediarec.settings import Settings
    from mediarec.store import Store
    from mediarec.understand.base import Extractor

    class FakeSlowStage(Extractor):
        name, version = "fakeslow", "1"
        def run(self, ctx):
            with open(sys.argv[2], "a") as fh:
                fh.write(f"{os.getpid()} ")
            time.sleep(60)

    _sigterm_interrupts()
    home = Path(sys.argv[1])
    ingest(Store(home / "mediarec.db"), Settings(home=str(home)), sys.argv[4:],
           IngestOptions(workers=int(sys.argv[3])), extractors=[FakeSlowStage()])
    """
)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie has exited
    except FileNotFoundError:
        return True


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGTERM, 0), (signal.SIGKILL, 0), (signal.SIGTERM, 2)])
def test_a_killed_run_does_not_stay_running(
    tmp_path: Path, home: Path, sig: signal.Signals, workers: int
) -> None:
    """SIGTERM interrupts the run (as the CLI installs it) and ends its workers; after SIGKILL, which
    nothing can catch, the next run to start finds the process gone and marks the old run."""
    media = [clip(tmp_path / "a.mp4", 1.0), clip(tmp_path / "b.mp4", 1.2)]
    marker = tmp_path / "stage-started"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_INGEST, str(home), str(marker), str(workers), *map(str, media)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[0].decode(errors="replace")
        assert time.monotonic() < deadline, "the stage never started"
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    stage_pids = [int(p) for p in marker.read_text().split()]
    if workers:
        assert proc.pid not in stage_pids, "the stage ran in a worker process"
        deadline = time.monotonic() + 10
        while not all(_gone(p) for p in stage_pids):
            assert time.monotonic() < deadline, "a worker outlived the interrupted run"
            time.sleep(0.05)
    store = Store(home / "mediarec.db")
    expected = "interrupted" if sig == signal.SIGTERM else "running"
    assert run_row(store, 1)[0] == expected
    store.start_import("next", "ingest")
    assert run_row(store, 1)[0] == "interrupted"
    assert run_row(store, 2)[0] == "running", "this process's own run is alive"


def test_a_damaged_soundtrack_is_a_warning_and_not_silence(tmp_path: Path, home: Path) -> None:
    tone = clip(tmp_path / "tone.mp4", 4.0)
    flipped = flip_audio_copy(tone, tmp_path / "flipped.mp4")
    quiet = clip(tmp_path / "quiet.mp4", 4.0, silent=True)
    quiet_flipped = flip_audio_copy(quiet, tmp_path / "quiet-flipped.mp4")
    store = Store(home / "mediarec.db")
    settings = Settings(home=str(home), kit_dir=str(tmp_path / "no-kit"))  # Whisper cannot load
    speech = SpeechExtractor(settings)
    summary = ingest(
        store, settings, [tone, flipped, quiet, quiet_flipped], IngestOptions(workers=0, stages=("speech",)),
        extractors=[FakeAudioStage(), speech],
    )  # fmt: skip
    by_name = {Path(o.path).name: o for o in summary.outcomes}
    warned = by_name["flipped.mp4"].warnings
    assert len(warned) == 1 and "of the 4.00 s soundtrack could be decoded" in warned[0], warned
    assert by_name["quiet-flipped.mp4"].warnings and not by_name["tone.mp4"].warnings
    assert not by_name["quiet.mp4"].warnings
    logged = [e.reason for e in store.import_errors(summary.run_id)]
    assert sum(r.startswith("warning: audio: only") for r in logged) == 2, logged
    assert run_row(store, summary.run_id)[1]["warnings"] == 2

    def reason(name: str) -> str:
        found = store.latest_feature(str(by_name[name].item_id), "speech")
        assert found is not None
        return str(found[1]["reason"])

    assert reason("quiet.mp4") == "silence"
    assert reason("quiet-flipped.mp4") == "undecodable audio", "a damaged track is not called silence"


def test_batch_commands_exit_3_when_some_items_failed(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    clip(folder / BAD_NAME, 1.0, silent=True)
    flip_audio_copy(clip(tmp_path / "q.mp4", 3.0, silent=True), folder / "damaged.mp4")
    env = {"MEDIAREC_KIT_DIR": str(tmp_path / "no-kit")}
    args = ["--home", str(home), "ingest", "--workers", "0", "--stage", "speech"]
    ok = CliRunner(env=env).invoke(main, [*args, str(folder)], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert "2 processed" in ok.output and "0 failed" in ok.output
    assert re.search(r"warning '[^']*damaged\.mp4': audio: only", ok.output), ok.output
    some = CliRunner(env=env).invoke(main, [*args, str(folder), str(tmp_path / "gone.mp4")])
    assert some.exit_code == EXIT_SOME_FAILED == 3, some.output
    assert "file not found" in some.output and "2 skipped" in some.output
    missing = CliRunner(env=env).invoke(main, [*args, "--stage", "nonsense", str(folder)])
    assert missing.exit_code == 1 and "unknown stage" in missing.output, "the command itself failed"

    (tmp_path / "items.csv").write_text("id,title,kind\nv1,One,video\nv2,Two,cartoon\n")
    imported = CliRunner().invoke(main, ["--home", str(home), "import", str(tmp_path / "items.csv")])
    assert imported.exit_code == 3 and "1 bad rows" in imported.output, imported.output


def test_describe_exits_3_when_an_item_failed(tmp_path: Path, home: Path) -> None:
    from mediarec.engine import MediaRec
    from mediarec.llm.backends import LLMBackend

    class FakeUnusedBackend(LLMBackend):
        """A fake LLM; the one item asked for does not exist, so it is never called."""

        name = "fake"
        model_id = "fake/1"  # type: ignore[assignment]

        def complete_json(self, *args: object, **kwargs: object) -> tuple[object, object]:
            raise AssertionError("not called")

    engine = MediaRec(
        settings=Settings(home=str(home), kit_dir=str(tmp_path / "no-kit")), llm=FakeUnusedBackend()
    )
    result = CliRunner().invoke(main, ["describe", "nope"], obj={"engine": engine})
    assert result.exit_code == 3 and "unknown item" in result.output, result.output
