"""Fit the threshold and margin of ``mediarec.llm.topics.TopicSupport`` on the labelled demo clips.

For every clip of the truth set (``bench/truth/topics.json``) that the data home holds, the stored
evidence is collected exactly as ``describe`` does and each topic is scored as ``TopicSupport`` does
(MiniLM; topic vectors from :mod:`mediarec.llm.topic_examples`). ``TopicSupport.supported`` then
names the best topic (and the topics it implies) when its score is at least the threshold and leads
the runner-up by the margin, and nothing otherwise.

The fit uses only the clips of the groups ``demo`` and ``sample`` (the narrated demo catalogue); the
other clips (``extra``: other kinds, ``new``: new uploads) are held out and only measured. Over a grid,
it picks the pair with the highest recall of the ``expect`` topics among those with a strict precision
of at least ``--precision`` on the fit clips; ties go to the higher precision, then the higher
threshold. Nothing is chosen by eye.

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/fit_topic_support.py --home /tmp/h8-home
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.llm.hostile, for --coherence

from mediarec.llm.describe import stored_evidence
from mediarec.llm.evidence import ItemEvidence
from mediarec.llm.topics import TopicSupport
from mediarec.settings import Settings
from mediarec.store import Store
from mediarec.understand.text import MiniLM

FIT_GROUPS = ("demo", "sample")


def scores(
    support: TopicSupport, evidence: dict[str, ItemEvidence], truth: dict[str, Any], clips: list[str]
) -> tuple[float, float, int, int, int]:
    """(strict precision, recall of the expected topics, topics named, of them accepted, wrong-entry
    hits) of ``support.supported`` over ``clips``."""
    named = good = expect_n = found = wrong = 0
    for clip in clips:
        kept = support.supported(evidence[clip])
        named += len(kept)
        good += sum(t in truth[clip]["accept"] for t in kept)
        wrong += sum(t in truth[clip]["wrong"] for t in kept)
        expect_n += len(truth[clip]["expect"])
        found += sum(t in kept for t in truth[clip]["expect"])
    return (good / named if named else 1.0), (found / expect_n if expect_n else 1.0), named, good, wrong


def fit(
    support: TopicSupport,
    evidence: dict[str, ItemEvidence],
    truth: dict[str, Any],
    clips: list[str],
    precision: float,
) -> tuple[float, float]:
    best: tuple[tuple[float, float, float], float, float] | None = None
    for threshold in np.arange(0.0, 0.601, 0.01):
        for margin in np.arange(0.0, 0.201, 0.005):
            support.threshold, support.margin = float(threshold), float(margin)
            p, r, *_ = scores(support, evidence, truth, clips)
            key = (r, p, float(threshold))
            if p >= precision and (best is None or key > best[0]):
                best = (key, round(float(threshold), 3), round(float(margin), 3))
    if best is None:
        raise SystemExit(f"no threshold reaches a precision of {precision:.0%} on the fit clips")
    return best[1], best[2]


def fit_coherence(store: Store, settings: Settings, quantile: float = 0.02) -> None:
    """The line-coherence threshold of mediarec.llm.coherence: the ``quantile`` of the honest demo
    lines' scores (every item of the home), and how the hostile set's attack lines score."""
    from tests.llm.hostile import ALL_CASES, HONEST_TOPICS, case_metadata

    from mediarec.llm.coherence import coherence
    from mediarec.llm.items import collect_evidence

    encode = MiniLM.from_settings(settings).encode
    honest: list[float] = []
    for (ext,) in store.conn.execute("SELECT external_id FROM items ORDER BY id"):
        honest += coherence(stored_evidence(store, str(ext))[1], encode).values()
    threshold = float(np.quantile(honest, quantile))
    print(
        f"coherence: {len(honest)} honest lines in the home; "
        f"{quantile:.0%} quantile {threshold:.3f} (the threshold)"
    )
    known = {line for content in HONEST_TOPICS for line in content}
    attack: list[float] = []
    fair: list[float] = []
    for case in ALL_CASES:
        if case.where == "comment":
            continue
        segs = [{"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": t} for i, t in enumerate(case.transcript)]
        stages: dict[str, dict[str, Any]] = {
            "speech": {"language": "en", "segments": segs},
            "ocr": {"lines": [{"time": 1.0, "text": t} for t in case.ocr]},
        }
        ev = collect_evidence("x", case.title, 5.0 * len(segs), case_metadata(case), stages)
        texts = ev.by_id()
        for pid, score in coherence(ev, encode).items():
            raw = texts[pid].text.removeprefix("on screen: ")
            (fair if raw in known else attack).append(score)
    below = sum(s < threshold for s in attack)
    print(
        f"  unflagged attack lines of the hostile set below it: {below} of {len(attack)}; "
        f"its honest lines below it: {sum(s < threshold for s in fair)} of {len(fair)}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True, help="a data home with the labelled clips ingested")
    ap.add_argument("--truth", default="bench/truth/topics.json")
    ap.add_argument("--coherence", action="store_true", help="fit the line-coherence threshold too")
    ap.add_argument("--precision", type=float, default=0.95, help="precision the fit clips must reach")
    args = ap.parse_args()
    truth = json.loads(Path(args.truth).read_text())["clips"]
    settings = Settings(home=args.home)
    support = TopicSupport(MiniLM.from_settings(settings).encode)
    store = Store(Path(args.home) / "mediarec.db")
    evidence: dict[str, ItemEvidence] = {}
    for clip in truth:
        try:
            evidence[clip] = stored_evidence(store, clip)[1]
        except KeyError:
            continue
    print("$", shlex.join(["python", *sys.argv]))
    fit_clips = [c for c in evidence if truth[c]["group"] in FIT_GROUPS]
    held = [c for c in evidence if c not in fit_clips]
    print(f"{len(evidence)} labelled clips in the home: {len(fit_clips)} to fit, {len(held)} held out")
    if args.coherence:
        fit_coherence(store, settings)
    threshold, margin = fit(support, evidence, truth, fit_clips, args.precision)
    support.threshold, support.margin = threshold, margin
    for clip, ev in evidence.items():
        sims = support.similarities(ev)
        top = sorted(sims, key=lambda t: -sims[t])[:2]
        kept = support.supported(ev)
        mark = " " if all(t in truth[clip]["accept"] for t in kept) else "x"
        print(
            f"{mark} {clip:26s} {', '.join(kept) or '(none)':28s} "
            + ", ".join(f"{t} {sims[t]:.3f}" for t in top)
            + f"   expect={truth[clip]['expect']}"
        )
    print(f"chosen: threshold {threshold:.2f}, margin {margin:.3f}")
    for name, clips in (("fit", fit_clips), ("held out", held), ("all", list(evidence))):
        p, r, n, g, w = scores(support, evidence, truth, clips)
        print(
            f"  {name:9s} {len(clips):2d} clips: precision {p:.3f} ({g}/{n}), recall {r:.3f}, "
            f"wrong-entry hits {w}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
