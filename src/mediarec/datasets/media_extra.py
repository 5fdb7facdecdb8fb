"""Clips of other kinds than the demo's, rendered offline, for the labelled truth set (bench/truth).

The demo's 24 narrated clips are all English tutorials with speech over title cards. A content
pipeline that must be "true, or silent" also has to cope with a melody and no words, a black silent
clip, a colour-bar test card, speech in another language, a two-voice audio podcast, a clip that
only shows text, a long silent intro, and subjects outside the demo's eight topics. This module
renders those, plus a few new narrated uploads on the demo's own topics (ids ``new-*``, which no
simulated viewer has seen: the fresh-item exposure measurement ingests them into the demo).

Everything is made from code with the tools :mod:`mediarec.datasets.media_demo` already needs
(espeak-ng; imageio-ffmpeg's ffmpeg, whose lavfi sources make the tones, bars and black frames);
nothing is downloaded. The topics each clip should and should not get are labelled, from these
scripts, in ``bench/truth/topics.json``; ``labels`` here is only the intended subject, for tests.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import wave
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from mediarec.datasets.media_demo import (
    MANIFEST,
    ClipTruth,
    MediaClip,
    MediaDemoOptions,
    _check_render_tools,
    _ffmpeg,
    _render,
    _run,
    _scene_image,
    _video_encoder,
    _write_atomic,
)
from mediarec.datasets.media_scripts import LEAD_S, TAIL_S, ClipPlan, Scene

_WORDS_PER_S = 2.6  # a little under espeak's pace, so the nominal length covers the narration
_COLOURS = [(205, 45, 45), (40, 150, 70), (45, 75, 200), (235, 180, 40), (135, 55, 170)]
_PATTERNS = ("stripes", "checker", "diagonal", "grid")
_SILENT_INTRO_S = 20.0
# A C-major tune, up and down and up again.
_NOTES_HZ = (262, 294, 330, 349, 392, 349, 330, 294, 262, 330, 392, 523, 392, 330, 262)
_NOTE_S = 0.5


@dataclass(frozen=True)
class ExtraClip:
    """One clip to render: what it says (``script``; lines alternate voices for ``podcast``), shows
    (``cards``: the title first, then on-screen words) and which recipe renders it."""

    id: str
    title: str
    creator: str
    recipe: str  # narrated | podcast | cards | melody | silence | bars | silent-intro
    labels: tuple[str, ...]  # the intended subject (topic vocabulary); empty for non-content
    description: str = ""  # the uploader's blurb
    script: str = ""
    cards: tuple[str, ...] = ()
    voice: str = "en-us"
    topic: str = ""  # the uploader's own topic field; blank where an uploader would leave it blank


EXTRA_CLIPS: tuple[ExtraClip, ...] = (
    ExtraClip("extra-music-only", "Evening melody", "Tone Box", "melody", ("music",),
              "A short melody of pure tones."),
    ExtraClip("extra-silence", "Untitled clip", "Unknown", "silence", ()),
    ExtraClip("extra-test-card", "Test signal", "Unknown", "bars", ()),
    ExtraClip(
        "extra-french-cooking", "Omelette aux fines herbes", "Cuisine Facile", "narrated", ("cooking",),
        "Une omelette en cinq minutes.",
        "Cassez trois oeufs dans un bol et battez-les avec une pincée de sel. Faites fondre un morceau de "
        "beurre dans une poêle chaude. Versez les oeufs, remuez doucement, puis ajoutez la ciboulette et le "
        "persil. Pliez l'omelette en deux et servez-la tout de suite.",
        ("OEUFS", "BEURRE", "CIBOULETTE"), voice="fr", topic="cuisine",
    ),
    ExtraClip(
        "extra-podcast-history", "The press that printed the world", "Past Tense Podcast", "podcast",
        ("history",), "Episode twelve: Gutenberg and the printing press.",
        "Welcome back to Past Tense. Today we are talking about Johannes Gutenberg and his printing press.\n"
        "Around the year fourteen fifty, in the German city of Mainz, Gutenberg combined movable metal type "
        "with an oil based ink and a wooden press.\n"
        "And the first big book he printed was the Bible, about one hundred and eighty copies.\n"
        "Within fifty years there were printing shops in more than two hundred European towns, and books "
        "became cheap enough for ordinary people.\n"
        "That is all for this episode. Thanks for listening.",
        topic="history",
    ),
    ExtraClip("extra-onscreen-gardening", "Succulent care in four cards", "Green Plot", "cards",
              ("gardening",), "",
              cards=("SUCCULENT CARE", "WATER EVERY TWO WEEKS", "BRIGHT LIGHT", "GRITTY SOIL IN THE POT"),
              topic="gardening"),
    ExtraClip(
        "extra-chess-lesson", "The Italian Game for beginners", "Board Study", "narrated", (),
        "A classic chess opening, move by move.",
        "The Italian Game is one of the oldest chess openings. White plays pawn to e four, and black answers "
        "pawn to e five. White brings the knight to f three, black defends with the knight to c six, and "
        "then the white bishop goes to c four, aiming at the weak square next to the black king.",
        ("PAWN E4", "KNIGHT F3", "BISHOP C4"), topic="chess",
    ),
    ExtraClip(
        "extra-moon-lecture", "Lecture: the phases of the Moon", "Open Lecture Hall", "narrated",
        ("science",),
        "Week three of the astronomy course.",
        "Good morning. Today's lecture explains the phases of the Moon. The Moon does not make its own "
        "light; we see the half that the Sun lights up. As the Moon orbits the Earth every twenty nine "
        "days, we see more or less of that lit half, from new moon to full moon and back again.",
        ("ORBIT", "SUNLIGHT", "FULL MOON"), topic="astronomy",
    ),
    ExtraClip(
        "extra-silent-intro-finance", "A monthly budget in three steps", "Money Basics", "silent-intro",
        ("finance",), "Where your money goes, in three steps.",
        "A monthly budget starts with your income after tax. First list the fixed costs such as rent and "
        "bills, then the flexible ones such as groceries and travel. Whatever is left, move part of it into "
        "savings on the day you are paid.",
        ("INCOME", "FIXED COSTS", "SAVINGS"), topic="finance",
    ),
    ExtraClip(
        "extra-counting-children", "Let's count to ten", "Little Steps", "narrated", ("children",),
        "Counting practice for little ones.",
        "Hello, children! Let's count to ten together. One apple, two apples, three apples. Four, five, six. "
        "Seven, eight, nine, and ten! Well done, you counted all the way to ten.",
        ("ONE", "FIVE", "TEN"), topic="kids",
    ),
    # New uploads on the demo's topics: new ids, so no simulated viewer has seen them.
    ExtraClip(
        "new-cooking-1", "Roasting vegetables on one tray", "Kitchen Notes", "narrated", ("cooking",),
        "One tray, forty minutes, no fuss.",
        "Heat the oven to two hundred degrees. Cut carrots, peppers, onions and potatoes into even chunks, "
        "so that they all cook at the same speed. Toss them in olive oil and salt, spread them out on one "
        "tray, and roast them for forty minutes, turning once.",
        ("OVEN", "CARROTS", "ROAST"), topic="cooking",
    ),
    ExtraClip(
        "new-football-1", "Playing out from the back", "Touchline TV", "narrated", ("football",),
        "Building attacks from the goalkeeper.",
        "Playing out from the back starts with the goalkeeper. The centre backs split wide, a midfielder "
        "drops between them, and the team passes its way through the press instead of kicking the ball long. "
        "It needs calm players who are happy to receive the ball under pressure.",
        ("GOALKEEPER", "CENTRE BACKS", "PASSING"), topic="football",
    ),
    ExtraClip(
        "new-science-1", "How lightning forms", "Lab Bench", "narrated", ("science",),
        "Charge, clouds and thunder.",
        "Inside a storm cloud, ice crystals and hailstones collide and separate electric charge. The top of "
        "the cloud becomes positive and the bottom negative. When the difference grows large enough, a giant "
        "spark jumps to the ground and heats the air so fast that it explodes into thunder.",
        ("STORM CLOUD", "CHARGE", "THUNDER"), topic="science",
    ),
    ExtraClip(
        "new-gardening-1", "Growing potatoes in bags", "Green Plot", "narrated", ("gardening",),
        "A crop of potatoes on a balcony.",
        "You can grow potatoes in a large bag on a balcony. Put a little compost in the bottom, plant three "
        "seed potatoes, and cover them. As the leaves grow, keep adding compost until the bag is full, then "
        "water well and harvest after about twelve weeks.",
        ("SEED POTATOES", "COMPOST", "HARVEST"), topic="gardening",
    ),
)


@dataclass(frozen=True)
class ExtraCatalogue:
    out_dir: Path
    manifest: Path
    clips: tuple[MediaClip, ...]
    seconds: float


def build_extra_media(
    out_dir: str | Path, only: Iterable[str] | None = None, options: MediaDemoOptions | None = None
) -> ExtraCatalogue:
    """Render the clips of :data:`EXTRA_CLIPS` (or the ids in ``only``) into ``out_dir`` and write its
    ``manifest.jsonl`` (the demo's format, ready for ``mediarec ingest``). Always renders afresh."""
    t0 = time.perf_counter()
    o = options or MediaDemoOptions()
    wanted = set(only) if only is not None else None
    clips = [c for c in EXTRA_CLIPS if wanted is None or c.id in wanted]
    if wanted is not None and len(clips) != len(wanted):
        raise ValueError(f"unknown extra clip ids: {sorted(wanted - {c.id for c in clips})}")
    _check_render_tools()
    ff = _ffmpeg(o)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".work-", dir=out) as work:
        made = tuple(_render_extra(c, o, ff, Path(work), out) for c in clips)
    manifest = out / MANIFEST
    _write_atomic(manifest, "".join(json.dumps(c.manifest_row()) + "\n" for c in made))
    return ExtraCatalogue(out, manifest, made, time.perf_counter() - t0)


def _narrated_plan(c: ExtraClip, fps: int) -> ClipPlan:
    """The clip as the demo renderer's plan: the title card, then one card per keyword, evenly cut."""
    nominal = math.ceil((len(c.script.split()) / _WORDS_PER_S + LEAD_S + TAIL_S) * fps)
    texts = (c.title, *c.cards)
    scenes = tuple(
        Scene(nominal * i // len(texts), t, _COLOURS[i % len(_COLOURS)], _PATTERNS[i % len(_PATTERNS)])
        for i, t in enumerate(texts)
    )
    return ClipPlan(c.id, c.topic, c.title, c.creator, "video", c.script, c.description, c.cards, scenes,
                    nominal)


def _clip(c: ExtraClip, name: str, out: Path, kind: str, truth: ClipTruth) -> MediaClip:
    return MediaClip(c.id, name, out / name, c.title, c.creator, kind, c.topic, c.labels, c.description,
                     truth)


def _render_extra(c: ExtraClip, o: MediaDemoOptions, ff: str, work: Path, out: Path) -> MediaClip:
    if c.recipe == "narrated":
        made = _render(_narrated_plan(c, o.fps), replace(o, voice=c.voice), ff, work, out)
        return replace(made, tags=c.labels, topic=c.topic)
    if c.recipe == "silent-intro":
        return _silent_intro(c, o, ff, work, out)
    if c.recipe == "podcast":
        return _podcast(c, o, ff, work, out)
    if c.recipe == "cards":
        return _cards(c, o, ff, work, out)
    return _synthetic(c, o, ff, work, out)


_AUDIO_OUT = ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-ar", "22050"]


def _synthetic(c: ExtraClip, o: MediaDemoOptions, ff: str, work: Path, out: Path) -> MediaClip:
    """Melody (audio only), silence (black video, silent track) and bars (SMPTE bars, 1 kHz tone)."""
    size = f"{o.width}x{o.height}"
    if c.recipe == "melody":
        duration = len(_NOTES_HZ) * _NOTE_S
        # One sine per note, gated to its half second and faded in and out to avoid clicks.
        notes = "+".join(
            f"between(t,{i * _NOTE_S},{(i + 1) * _NOTE_S})*0.3*sin(2*PI*{f}*t)"
            f"*min(1,min(t-{i * _NOTE_S},{(i + 1) * _NOTE_S}-t)*40)"
            for i, f in enumerate(_NOTES_HZ)
        )
        name = f"{c.id}.m4a"
        cmd = [ff, "-y", "-f", "lavfi", "-i", f"aevalsrc='{notes}':s=22050:d={duration}", *_AUDIO_OUT,
               "-t", f"{duration}", str(work / name)]
        kind = "audio"
        truth = ClipTruth("ffmpeg-lavfi", duration, None, (), None, None, ())
    else:
        duration = 8.0
        if c.recipe == "silence":
            video, audio = f"color=c=black:s={size}:r={o.fps}:d={duration}", "anullsrc=r=22050:cl=mono"
        elif c.recipe == "bars":
            video, audio = f"smptebars=s={size}:r={o.fps}:d={duration}", "sine=f=1000:r=22050"
        else:
            raise ValueError(f"unknown recipe {c.recipe!r} for {c.id}")
        name = f"{c.id}.mp4"
        frames = int(duration * o.fps)
        cmd = [ff, "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio, "-map", "0:v", "-map", "1:a",
               *_video_encoder(ff), "-pix_fmt", "yuv420p", "-frames:v", str(frames), *_AUDIO_OUT,
               "-t", f"{duration}", "-movflags", "+faststart", str(work / name)]
        kind = "video"
        truth = ClipTruth("ffmpeg-lavfi", duration, None, (), float(o.fps), frames, ())
    _run(cmd, f"ffmpeg ({name})")
    os.replace(work / name, out / name)
    return _clip(c, name, out, kind, truth)


def _speak(text: str, voice: str, o: MediaDemoOptions, path: Path) -> float:
    _run(["espeak-ng", "-v", voice, "-s", str(o.words_per_minute), "-w", str(path), text], path.name)
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _podcast(c: ExtraClip, o: MediaDemoOptions, ff: str, work: Path, out: Path) -> MediaClip:
    """Audio only: the script's lines spoken by two alternating voices with short pauses between."""
    voices = ("en-us", "en-gb+f3")
    parts = []
    for i, line in enumerate(c.script.splitlines()):
        path = work / f"{c.id}-{i}.wav"
        _speak(line, voices[i % 2], o, path)
        parts.append(path)
    inputs = [arg for p in parts for arg in ("-i", str(p))]
    pads = ";".join(f"[{i}:a]aresample=22050,apad=pad_dur=0.5[p{i}]" for i in range(len(parts)))
    graph = pads + ";" + "".join(f"[p{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[a]"
    name = f"{c.id}.m4a"
    _run([ff, "-y", *inputs, "-filter_complex", graph, "-map", "[a]", *_AUDIO_OUT, str(work / name)],
         f"ffmpeg ({name})")
    duration = sum(_wav_seconds(p) + 0.5 for p in parts)
    os.replace(work / name, out / name)
    truth = ClipTruth("espeak-ng", round(duration, 3), " ".join(c.script.splitlines()), (), None, None, ())
    return _clip(c, name, out, "audio", truth)


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _cards(c: ExtraClip, o: MediaDemoOptions, ff: str, work: Path, out: Path) -> MediaClip:
    """On-screen text only: one card every three seconds over a silent audio track, no speech."""
    per_card = 3 * o.fps
    inputs: list[str] = []
    parts = []
    for i, text in enumerate(c.cards):
        still = work / f"{c.id}-{i}.png"
        _scene_image(Scene(i * per_card, text, _COLOURS[i % len(_COLOURS)], _PATTERNS[i % len(_PATTERNS)]), o,
                     still)
        inputs += ["-loop", "1", "-framerate", str(o.fps), "-t", "3", "-i", str(still)]
        parts.append(f"[{i}:v]setpts=PTS-STARTPTS[v{i}]")
    n = len(c.cards)
    chain = "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0,format=yuv420p[v]"
    graph = ";".join([*parts, chain])
    frames = n * per_card
    duration = frames / o.fps
    name = f"{c.id}.mp4"
    _run([ff, "-y", *inputs, "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-filter_complex", graph,
          "-map", "[v]", "-map", f"{n}:a", *_video_encoder(ff), "-r", str(o.fps), "-frames:v", str(frames),
          *_AUDIO_OUT, "-t", f"{duration}", "-movflags", "+faststart", str(work / name)], f"ffmpeg ({name})")
    os.replace(work / name, out / name)
    cuts = tuple(i * per_card for i in range(1, n))
    truth = ClipTruth("pillow", duration, None, cuts, float(o.fps), frames, c.cards)
    return _clip(c, name, out, "video", truth)


def _silent_intro(c: ExtraClip, o: MediaDemoOptions, ff: str, work: Path, out: Path) -> MediaClip:
    """A narrated clip (rendered as the demo's are) after 20 s of black frames and silence."""
    inner = _render(_narrated_plan(c, o.fps), o, ff, work, work)
    name = f"{c.id}.mp4"
    size = f"{o.width}x{o.height}"
    intro = f"color=c=black:s={size}:r={o.fps}:d={_SILENT_INTRO_S}"
    graph = ("[0:v]format=yuv420p,setsar=1[bv];[2:v]setsar=1[cv];[1:a]aformat=sample_rates=22050:"
             "channel_layouts=mono[ba];[2:a]aformat=sample_rates=22050:channel_layouts=mono[ca];"
             "[bv][ba][cv][ca]concat=n=2:v=1:a=1[v][a]")
    tmp = work / f"{c.id}-full.mp4"
    _run([ff, "-y", "-f", "lavfi", "-i", intro, "-f", "lavfi", "-i",
          f"anullsrc=r=22050:cl=mono:d={_SILENT_INTRO_S}", "-i", str(inner.path), "-filter_complex", graph,
          "-map", "[v]", "-map", "[a]", *_video_encoder(ff), "-r", str(o.fps), *_AUDIO_OUT,
          "-movflags", "+faststart", str(tmp)], f"ffmpeg ({name})")
    os.replace(tmp, out / name)
    t = inner.truth
    shift = int(_SILENT_INTRO_S * o.fps)
    truth = ClipTruth(t.source, round(t.duration + _SILENT_INTRO_S, 3), t.script,
                      (shift, *(shift + k for k in (t.cuts or ()))), t.fps, (t.frames or 0) + shift,
                      ("", *(t.on_screen_text or ())))
    return _clip(c, name, out, "video", truth)
