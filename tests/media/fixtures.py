"""Test media made on the spot with imageio-ffmpeg's bundled ffmpeg: nothing is downloaded or committed.

Reuse from another test package by importing the fixtures into its ``conftest.py``::

    from tests.media.fixtures import cuts_video, media_dir  # noqa: F401

Everything is generated once per session under one temporary folder. The helpers (``ffmpeg``,
``make_*``) also work on their own, for a test that needs its own variant.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

FPS = 25
# The cuts video: four segments of different test patterns, so every cut is a hard cut at a known frame.
CUT_FRAMES = (37, 80, 131)
CUTS_TOTAL_FRAMES = 176
_SEGMENT_SOURCES = ("testsrc", "smptebars", "mandelbrot", "testsrc2")
_ENCODE_H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


def ffmpeg_exe() -> str:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="test media needs imageio-ffmpeg")
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def ffmpeg(*args: str | os.PathLike[str], timeout: float = 120) -> None:
    """Run the bundled ffmpeg quietly; a failure shows its stderr."""
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y", *(os.fspath(a) for a in args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")


def make_cuts_video(path: Path, size: str = "320x240", audio: bool = True, gop: int = 25) -> Path:
    """Hard cuts at CUT_FRAMES (the first frame of each new shot), CUTS_TOTAL_FRAMES frames at FPS.

    ``gop`` puts a keyframe every that many frames, so that seeking is exercised.
    """
    bounds = (0, *CUT_FRAMES, CUTS_TOTAL_FRAMES)
    inputs: list[str] = []
    for source, start, stop in zip(_SEGMENT_SOURCES, bounds, bounds[1:], strict=False):
        inputs += ["-f", "lavfi", "-i", f"{source}=s={size}:r={FPS},trim=end_frame={stop - start}"]
    chain = "".join(f"[{i}:v]format=yuv420p,setpts=PTS-STARTPTS[v{i}];" for i in range(4))
    chain += "".join(f"[v{i}]" for i in range(4)) + "concat=n=4:v=1:a=0[v]"
    tone = ["-f", "lavfi", "-i", f"sine=f=220:r=48000:d={CUTS_TOTAL_FRAMES / FPS}"] if audio else []
    tone_out = ["-map", "4:a", "-c:a", "aac"] if audio else []
    video_out = ["-map", "[v]", *_ENCODE_H264, "-g", str(gop)]
    ffmpeg(*inputs, *tone, "-filter_complex", chain, *video_out, *tone_out, path)
    return path


def make_video(
    path: Path,
    seconds: float = 2.0,
    codec_args: tuple[str, ...] = _ENCODE_H264,
    audio_args: tuple[str, ...] = (),
) -> Path:
    """One shot of ``testsrc2`` (moving, no cut); with ``audio_args`` a 440 Hz tone too."""
    args = ["-f", "lavfi", "-i", f"testsrc2=s=160x120:r={FPS}:d={seconds}"]
    if audio_args:
        args += ["-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}", *audio_args]
    ffmpeg(*args, *codec_args, path)
    return path


def make_sine(
    path: Path, freq: float = 440.0, rate: int = 48000, channels: int = 2, seconds: float = 3.0,
    codec_args: tuple[str, ...] = (),
) -> Path:
    # lavfi's sine has amplitude 1/8; volume brings it near full scale so that clipping would show.
    source = f"sine=f={freq}:r={rate}:d={seconds},volume=6"
    ffmpeg("-f", "lavfi", "-i", source, "-ac", str(channels), *codec_args, path)
    return path


def make_silence(path: Path, seconds: float = 600.0, rate: int = 16000) -> Path:
    # Large FLAC frames keep a long file quick to decode: the test is about memory, not frame count.
    ffmpeg("-f", "lavfi", "-i", f"anullsrc=r={rate}:cl=mono", "-t", str(seconds), "-c:a", "flac",
           "-frame_size", "16384", path)
    return path


def truncate_copy(src: Path, dst: Path, keep_bytes: int) -> Path:
    dst.write_bytes(src.read_bytes()[:keep_bytes])
    return dst


def flip_audio_copy(src: Path, dst: Path, keep_packets: int = 1) -> Path:
    """A copy of ``src`` whose audio packets after the first ``keep_packets`` have every bit flipped:
    the header (and so the probed duration) is intact, but the decoder gives up after a few
    hundredths of a second. The video packets are left as they are."""
    import av

    data = bytearray(src.read_bytes())
    with av.open(str(src)) as container:
        stream = container.streams.audio[0]
        spans = [(p.pos, p.size) for p in container.demux(stream) if p.size and p.pos is not None]
    for pos, size in spans[keep_packets:]:
        data[pos : pos + size] = bytes(b ^ 0xFF for b in data[pos : pos + size])
    dst.write_bytes(bytes(data))
    return dst


@dataclass(frozen=True)
class Case:
    """One file of the broken-file corpus and what probing it must give."""

    path: Path
    error: str | None  # a phrase the MediaError's reason must contain; None: probes fine
    has_video: bool | None = None
    has_audio: bool | None = None


def build_corpus(root: Path) -> dict[str, Case]:
    """Odd and broken files, each with the outcome :func:`mediarec.media.probe` must give."""
    root.mkdir(parents=True, exist_ok=True)
    av_mp4 = make_video(root / "av.mp4", audio_args=("-c:a", "aac"))
    faststart = root / "faststart.mp4"
    ffmpeg("-i", av_mp4, "-c", "copy", "-movflags", "+faststart", faststart)
    size = av_mp4.stat().st_size
    wav = make_sine(root / "tone.wav", seconds=2.0)
    mp3 = make_sine(root / "tone.mp3", seconds=2.0, codec_args=("-c:a", "libmp3lame"))
    cases: dict[str, Case] = {}

    def add(
        name: str, path: Path, error: str | None, video: bool | None = None, audio: bool | None = None
    ) -> None:
        cases[name] = Case(path, error, video, audio)

    add("zero_bytes", _touch(root / "zero.mp4"), "empty file")
    add("truncated_half", truncate_copy(av_mp4, root / "half.mp4", size // 2), "truncated or corrupt")
    add("truncated_1k", truncate_copy(av_mp4, root / "first_kb.mp4", 1024), "truncated or corrupt")
    add("truncated_half_faststart", truncate_copy(faststart, root / "half_fs.mp4", size // 2), "truncated")
    add("truncated_1k_faststart", truncate_copy(faststart, root / "first_kb_fs.mp4", 1024), "truncated")
    text = root / "notes.mp4"
    text.write_text("This is a shopping list, not a video.\nmilk\neggs\n", encoding="utf-8")
    add("text_named_mp4", text, "not a media file")
    add("wav_named_mp4", _copy(wav, root / "tone_wav.mp4"), None, video=False, audio=True)
    add("mp3_named_mp4", _copy(mp3, root / "tone_mp3.mp4"), None, video=False, audio=True)
    audio_only = root / "audio_only.m4a"
    ffmpeg("-i", av_mp4, "-vn", "-c", "copy", audio_only)
    add("audio_only", audio_only, None, video=False, audio=True)
    add("video_only", make_video(root / "video_only.mp4"), None, video=True, audio=False)
    zero_duration = root / "zero_duration.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", zero_duration)
    add("zero_duration", zero_duration, "zero duration")
    no_streams = root / "no_streams.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:r=25", "-frames:v", "0", *_ENCODE_H264, no_streams)
    add("no_streams", no_streams, "no audio or video stream")
    add("long_silence", make_silence(root / "silence.flac"), None, video=False, audio=True)
    add("mpeg4_avi", make_video(root / "mpeg4.avi", codec_args=("-c:v", "mpeg4")), None, video=True)
    add("mjpeg_avi", make_video(root / "mjpeg.avi", codec_args=("-c:v", "mjpeg")), None, video=True)
    vp9 = make_video(root / "vp9.webm", codec_args=("-c:v", "libvpx-vp9", "-deadline", "realtime"),
                     audio_args=("-c:a", "libopus"))
    add("vp9_opus_webm", vp9, None, video=True, audio=True)
    add("flac", make_sine(root / "tone.flac", seconds=2.0), None, video=False, audio=True)
    vorbis = make_sine(root / "tone.ogg", seconds=2.0, codec_args=("-c:a", "libvorbis"))
    add("ogg_vorbis", vorbis, None, video=False, audio=True)
    raw = root / "raw.h264"  # no container, so no stated duration: probing must demux to measure it
    ffmpeg("-f", "lavfi", "-i", f"testsrc=s=64x64:r={FPS}:d=2", *_ENCODE_H264, "-f", "h264", raw)
    add("raw_h264_no_duration", raw, None, video=True, audio=False)
    still = root / "still.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64", "-frames:v", "1", still)
    add("still_image", still, "still image")
    playlist = root / "playlist.mp4"  # FFmpeg's concat format, found by content whatever the name
    playlist.write_text(f"ffconcat version 1.0\nfile '{av_mp4.name}'\n", encoding="utf-8")
    add("playlist", playlist, "a playlist")
    for label, name in (("space", "my holiday clip.mp4"), ("unicode", "vidéo 日本語 ✓.mp4"),
                        ("newline", "two\nlines.mp4"), ("colon", "clip:1.mp4")):
        add(f"name_with_{label}", _copy(av_mp4, root / name), None, video=True, audio=True)
    loop = root / "loop.mp4"
    os.symlink(loop, loop)
    add("symlink_loop", loop, "symlink loop")
    dangling = root / "dangling.mp4"
    os.symlink(root / "gone.mp4", dangling)
    add("broken_symlink", dangling, "broken symlink")
    folder = root / "folder.mp4"
    folder.mkdir()
    add("directory", folder, "a directory")
    fifo = root / "pipe.mp4"
    os.mkfifo(fifo)  # opening a FIFO for reading blocks until a writer comes: must be refused, not read
    add("fifo", fifo, "not a regular file")
    return cases


def within(seconds: float, fn: Callable[[], T]) -> T:
    """``fn()``, failing the test if it takes longer than ``seconds`` (a hang, not slowness, is the worry).

    It runs on a daemon thread, so a call stuck in C code cannot hold up the end of the session.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test's thread below
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"did not finish within {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.getbasetemp() / "media"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def cuts_video(media_dir: Path) -> Path:
    """320x240 H.264 + AAC, hard cuts at CUT_FRAMES, CUTS_TOTAL_FRAMES frames at FPS."""
    return make_cuts_video(media_dir / "cuts.mp4")


@pytest.fixture(scope="session")
def sine_wav(media_dir: Path) -> Path:
    """3 s of 440 Hz, 48 kHz stereo PCM."""
    return make_sine(media_dir / "sine_48k_stereo.wav")


@pytest.fixture(scope="session")
def corpus(media_dir: Path) -> dict[str, Case]:
    return build_corpus(media_dir / "corpus")
