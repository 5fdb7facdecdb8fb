"""Fit the topic-support threshold and margin of ``mediarec.llm.topics.TopicSupport`` on labelled clips.

For every clip of the truth set (``bench/truth/topics.json``) that the data home holds, the stored
evidence is collected exactly as ``describe`` does, and the similarity between each of the 52
topics and the item's trusted evidence is computed as ``TopicSupport`` does (MiniLM; the topic
vectors of :meth:`~mediarec.llm.topics.TopicSupport.topic_vectors`; the evidence text of
:func:`~mediarec.llm.topics.evidence_text`). A (threshold, margin) pair keeps a topic when its
similarity is at least the threshold and within the margin of the best topic.

The support check is a veto on the topics the LLM names, so it must keep the right topics (the final
recall cannot exceed the veto's) and reject as many wrong ones as it can. The script therefore picks,
over a grid, the pair that rejects the largest share of the clips' ``wrong`` topics among the pairs
that keep at least ``--keep`` of their ``expect`` topics; ties go to the pair rejecting more of all
non-accepted topics, then to the higher threshold. Nothing is chosen by eye. It also prints, for
reference, the filter used alone (the encoder's top topics, no LLM): its strict precision and recall.

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
from mediarec.llm.topics import TopicSupport
from mediarec.settings import Settings
from mediarec.store import Store
from mediarec.understand.text import MiniLM


def scores(
    sims: dict[str, dict[str, float]], truth: dict[str, dict[str, list[str]]], threshold: float, margin: float
) -> tuple[float, float, int, int]:
    kept_n = good = expect_n = found = 0
    for clip, s in sims.items():
        best = max(s.values())
        kept = [t for t in sorted(s, key=lambda t: -s[t]) if s[t] >= threshold and s[t] >= best - margin][:3]
        kept_n += len(kept)
        good += sum(t in truth[clip]["accept"] for t in kept)
        expect_n += len(truth[clip]["expect"])
        found += sum(t in kept for t in truth[clip]["expect"])
    precision = good / kept_n if kept_n else 1.0
    recall = found / expect_n if expect_n else 1.0
    return precision, recall, kept_n, good


def veto_grid(
    sims: dict[str, dict[str, float]], truth: dict[str, dict[str, list[str]]]
) -> tuple[list[tuple[float, float, float, float, float]], list[Any], list[Any], list[Any]]:
    """(threshold, margin, share of expected topics kept, of wrong ones rejected, of all
    non-accepted rejected) over the grid."""
    vocab = list(next(iter(sims.values())))
    expected = [(c, t) for c in sims for t in truth[c]["expect"]]
    wrong = [(c, t) for c in sims for t in truth[c]["wrong"]]
    other = [(c, t) for c in sims for t in vocab if t not in truth[c]["accept"]]
    grid = []
    for threshold in np.arange(-0.1, 0.41, 0.01):
        for margin in np.arange(0.0, 0.301, 0.01):
            th, mg = round(float(threshold), 2), round(float(margin), 2)

            def keep(c: str, t: str, th: float = th, mg: float = mg) -> bool:
                return sims[c][t] >= th and sims[c][t] >= max(sims[c].values()) - mg

            kept = sum(keep(c, t) for c, t in expected) / len(expected)
            rejected = sum(not keep(c, t) for c, t in wrong) / len(wrong)
            rejected_all = sum(not keep(c, t) for c, t in other) / len(other)
            grid.append((th, mg, kept, rejected, rejected_all))
    return grid, expected, wrong, other


def variants(store: Store, truth: dict[str, Any], settings: Settings, keep: float) -> None:
    """How the ways of making topic vectors compare (the choice in TopicSupport.topic_vectors)."""
    from mediarec.llm.item_schema import TOPIC_VOCABULARY
    from mediarec.llm.topics import SUPPORT_TEMPLATES, evidence_text

    encode = MiniLM.from_settings(settings).encode
    texts = {}
    for clip in truth:
        try:
            texts[clip] = evidence_text(stored_evidence(store, clip)[1])
        except KeyError:
            continue
    ev = {c: encode([t])[0] for c, t in texts.items()}
    rows = {t: np.asarray(encode([t.format(v) for v in TOPIC_VOCABULARY])) for t in SUPPORT_TEMPLATES}

    def centred(m: np.ndarray) -> np.ndarray:
        m = m - m.mean(axis=0)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    mean = np.mean(list(rows.values()), axis=0)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    ways = {**{f"'{t}'": m for t, m in rows.items()}, "mean of the templates": mean}
    ways |= {
        "'a video about {}', centred": centred(rows[SUPPORT_TEMPLATES[0]]),
        "mean, centred": centred(mean),
    }
    for name, topics in ways.items():
        sims = {
            c: dict(zip(TOPIC_VOCABULARY, (float(x) for x in topics @ v), strict=True)) for c, v in ev.items()
        }
        grid, *_ = veto_grid(sims, truth)
        best = max((g for g in grid if g[2] >= keep), key=lambda g: (g[3], g[4], g[0]))
        top1 = np.mean(
            [max(s, key=s.__getitem__) in truth[c]["accept"] for c, s in sims.items() if truth[c]["accept"]]
        )
        print(
            f"  variant {name:34s} top-1 accepted {top1:.2f}; "
            f"keeps {best[2]:.2f}, rejects {best[3]:.2f} of wrong"
        )


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
    ap.add_argument("--variants", action="store_true", help="compare the ways of making topic vectors")
    ap.add_argument("--keep", type=float, default=0.90, help="share of expected topics the veto keeps")
    args = ap.parse_args()
    truth = json.loads(Path(args.truth).read_text())["clips"]
    settings = Settings(home=args.home)
    support = TopicSupport(MiniLM.from_settings(settings).encode)
    store = Store(Path(args.home) / "mediarec.db")
    sims: dict[str, dict[str, float]] = {}
    for clip in truth:
        try:
            _, ev = stored_evidence(store, clip)
        except KeyError:
            continue
        sims[clip] = support.similarities(ev)
    print("$", shlex.join(["python", *sys.argv]))
    print(f"{len(sims)} labelled clips found in the home (of {len(truth)} in the truth set)")
    if args.variants:
        variants(store, truth, settings, args.keep)
    if args.coherence:
        fit_coherence(store, settings)
    grid, expected, wrong, other = veto_grid(sims, truth)
    ok = [g for g in grid if g[2] >= args.keep]
    best = max(ok, key=lambda g: (g[3], g[4], g[0]))
    for clip, s in sims.items():
        top = sorted(s, key=lambda t: -s[t])[:3]
        print(
            f"  {clip:22s} "
            + ", ".join(f"{t} {s[t]:.3f}" for t in top)
            + f"   accept={truth[clip]['accept']}"
        )
    print(
        f"chosen: threshold {best[0]:.2f}, margin {best[1]:.2f}: keeps {best[2]:.1%} of the {len(expected)} "
        f"expected topics, rejects {best[3]:.1%} of the {len(wrong)} wrong ones and {best[4]:.1%} of all "
        f"{len(other)} non-accepted (clip, topic) pairs"
    )
    p, r, n, g = scores(sims, truth, best[0], best[1])
    print(f"the filter alone (encoder's top 3 topics, no LLM): precision {p:.3f} ({g}/{n}), recall {r:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
