"""Where the reason thresholds come from: cosines of same-topic and different-topic demo items.

Reads a data home made by ``mediarec demo`` (the catalogue knows each item's topic; the 24 clips
have fused content vectors; the demo trains ALS) and prints, for each space, the distribution of
cosines between pairs of items of the same topic and of different topics, and the threshold the
defaults use: the smallest cosine at which at least 95% of the pairs at or above it share a topic
(reasons claim similarity, so a claim must be right 19 times in 20), and the one at 70% (the
targeting goal of the new-item audience). For the audience it does the same with the users'
taste vectors against the clips of their planted topics and the others.

    MEDIAREC_KIT_DIR=... .venv/bin/python bench/bench_reasons.py --home /tmp/copy-of-demo-home
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from mediarec.datasets import demo
from mediarec.engine import MediaRec
from mediarec.rank.audience import all_tastes, centred


def topic_of(item_id: str) -> str | None:
    head = item_id.rsplit("-", 1)[0]
    return head if head in demo.TOPICS else None


def threshold(same: np.ndarray, other: np.ndarray, precision: float = 0.95) -> float:
    """The smallest cosine t with precision(same-topic | cosine >= t) >= ``precision``."""
    values = np.sort(np.concatenate([same, other]))
    for t in values:
        hit_same, hit_other = int((same >= t).sum()), int((other >= t).sum())
        if hit_same and hit_same / (hit_same + hit_other) >= precision:
            return float(t)
    return float("inf")


def describe(name: str, same: np.ndarray, other: np.ndarray) -> float:
    q = (5, 25, 50, 75, 95)
    print(f"\n{name}: {len(same)} same-topic pairs, {len(other)} different-topic pairs")
    print("  percentile     " + "  ".join(f"p{p:<5}" for p in q) + "  max")
    for label, arr in (("same topic", same), ("other topics", other)):
        cells = "  ".join(f"{np.percentile(arr, p):6.3f}" for p in q)
        print(f"  {label:<13}  {cells}  {arr.max():6.3f}")
    for level in (0.99, 0.95, 0.90, 0.80, 0.70):
        t = threshold(same, other, level)
        print(
            f"  threshold (precision >= {level:.0%}): {t:.3f}; same-topic pairs kept: "
            f"{(same >= t).mean():.0%}, other-topic pairs let through: {(other >= t).mean():.1%}"
        )
    return threshold(same, other)


def pairs(vectors: np.ndarray, topics: list[str]) -> tuple[np.ndarray, np.ndarray]:
    sims = vectors @ vectors.T
    iu = np.triu_indices(len(topics), 1)
    same = np.asarray([topics[a] == topics[b] for a, b in zip(*iu, strict=True)])
    return sims[iu][same], sims[iu][~same]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a copy of a demo data home")
    args = parser.parse_args()
    engine = MediaRec(args.home)
    catalog = engine._ranker.catalogs.get(engine.store)
    print(
        f"catalogue: {len(catalog)} items, "
        f"content vectors ({catalog.content_source}): {catalog.has_content.sum()}"
    )
    # Content space: the clips with a content vector and a demo topic.
    pos = [p for p in np.flatnonzero(catalog.has_content) if topic_of(str(catalog.item_ids[p]))]
    assert catalog.content is not None and pos, "no ingested demo clips in this home"
    topics = [str(topic_of(str(catalog.item_ids[p]))) for p in pos]
    describe(f"content ({catalog.content_source}) cosine between clips", *pairs(catalog.content[pos], topics))
    # The served model's item space.
    loaded = engine.loaded()
    if loaded is not None:
        raw = loaded.model.item_vectors()
        if not hasattr(raw, "toarray"):
            dense = np.asarray(raw, dtype=np.float64)
            keep = [k for k, i in enumerate(loaded.model.item_ids) if topic_of(str(i))]
            unit = dense[keep] / np.maximum(np.linalg.norm(dense[keep], axis=1, keepdims=True), 1e-12)
            model_topics = [str(topic_of(str(loaded.model.item_ids[k]))) for k in keep]
            describe(f"{loaded.model.name} item-vector cosine", *pairs(unit, model_topics))
    # Taste match, as the new-item audience computes it (centred vectors): each user's taste vector
    # against the clips of their planted topics and of the others, leaving out the clips the user
    # engaged with (they are in the taste vector; a new item is not).
    content = centred(catalog)
    tastes = all_tastes(engine.store, catalog, engine.weights, content)
    ev = engine.store.event_columns()
    users = sorted(set(ev.users.tolist()))
    planted = demo.user_tastes()
    same: list[float] = []
    other: list[float] = []
    for row, user in enumerate(users):
        if user not in planted or not np.linalg.norm(tastes[row]):
            continue
        mine = set(ev.items[ev.users == user].tolist())
        for p, t in zip(pos, topics, strict=True):
            if str(catalog.item_ids[p]) not in mine:
                (same if t in planted[user] else other).append(float(tastes[row] @ content[p]))
    describe("taste match (centred): user taste vector vs unseen clip", np.asarray(same), np.asarray(other))
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
