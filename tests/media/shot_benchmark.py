"""Shot-detector accuracy on synthetic clips with known cuts, plus any clips you give with their cuts.

Not a test (pytest does not collect it): run it to choose or re-check ShotOptions defaults::

    .venv/bin/python -m tests.media.shot_benchmark [CLIP:CUT,CUT,... ...]

e.g. ``bikes.mp4:30,76,137,187,242``; a clip without cuts is ``clip.mp4:``. A detected cut counts as
found when it lies within two frames of a true one; every other detected cut is a false cut.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from mediarec.media import ShotOptions, detect_shots
from tests.media.fixtures import FPS, ffmpeg

TOLERANCE = 2
CANDIDATES = [("content", t) for t in (27.0, 30.0, 35.0)] + [("adaptive", t) for t in (1.5, 2.0, 3.0)] + [
    ("histogram", 0.1)
]


def synthetic(root: Path) -> dict[Path, list[int]]:
    enc = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50"]
    s = f"s=320x240:r={FPS}"

    def concat(name: str, sources: list[str]) -> Path:
        inputs = [arg for src in sources for arg in ("-f", "lavfi", "-i", src)]
        chain = "".join(f"[{i}:v]format=yuv420p,setpts=PTS-STARTPTS[v{i}];" for i in range(len(sources)))
        chain += "".join(f"[v{i}]" for i in range(len(sources))) + f"concat=n={len(sources)}:v=1:a=0"
        ffmpeg(*inputs, "-filter_complex", chain, *enc, root / name)
        return root / name

    return {
        # Distinct test patterns.
        concat("distinct.mp4", [f"testsrc={s}:d=1.48", f"testsrc2={s}:d=1.72", f"smptebars={s}:d=2.04",
                                f"mandelbrot={s},trim=end_frame=45"]): [37, 80, 131],
        # Grainy near-identical colours, then cellular automata with constant motion.
        concat("grain.mp4", [f"color=c=0x203050:{s}:d=1.6,noise=alls=30:allf=t",
                             f"color=c=0x305020:{s}:d=2,noise=alls=30:allf=t",
                             f"life={s}:mold=10:ratio=0.5,trim=end_frame=60",
                             f"cellauto={s}:rule=110,trim=end_frame=50"]): [40, 90, 150],
        # Very fast motion inside each shot: a scroll, then a spin.
        concat("motion.mp4", [f"testsrc2={s}:d=4,scroll=h=0.04:v=0.03",
                              f"smptehdbars={s}:d=4,rotate=a=5*t"]): [100],
    }


def score(clips: dict[Path, list[int]], options: ShotOptions) -> tuple[int, int, int, list[int], list[str]]:
    found = false = missed = 0
    errors: list[int] = []
    notes: list[str] = []
    for clip, cuts in clips.items():
        got = [shot.start_frame for shot in detect_shots(clip, options)[1:]]
        unmatched = list(got)
        for cut in cuts:
            near = [g for g in unmatched if abs(g - cut) <= TOLERANCE]
            if near:
                found += 1
                errors.append(near[0] - cut)
                unmatched.remove(near[0])
            else:
                missed += 1
                notes.append(f"missed {clip.name}@{cut}")
        false += len(unmatched)
        notes += [f"false {clip.name}@{g}" for g in unmatched]
    return found, false, missed, errors, notes


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clips = synthetic(Path(tmp))
        for arg in argv:
            path, _, cuts = arg.rpartition(":")
            clips[Path(path)] = [int(c) for c in cuts.split(",") if c]
        total = sum(len(c) for c in clips.values())
        print(f"{len(clips)} clips, {total} cuts, tolerance {TOLERANCE} frames")
        for detector, threshold in CANDIDATES:
            started = time.perf_counter()
            options = ShotOptions(detector=detector, threshold=threshold)
            found, false, missed, errors, notes = score(clips, options)
            worst = max(map(abs, errors), default=0)
            print(f"{detector:9s} {threshold:<5g} found {found}/{total}  false {false}  missed {missed}  "
                  f"worst error {worst} frames  {time.perf_counter() - started:.1f}s  {'; '.join(notes)}")


if __name__ == "__main__":
    main(sys.argv[1:])
