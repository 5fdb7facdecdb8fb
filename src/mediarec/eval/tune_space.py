"""What ``mediarec tune`` searches (:mod:`mediarec.eval.tune`): the configurations it draws from,
the anchors every search scores besides its draw, and the cold knobs tried on its finalists."""

from __future__ import annotations

from typing import Any

# DLAE's dropout rates: p/(1-p) = 0.5, 1, 2 times each item's popularity added to its penalty.
DROPOUTS = (0.33, 0.5, 0.67)


def search_space(with_features: bool) -> list[tuple[str, dict[str, Any]]]:
    """Every configuration the tuner may draw: hybrids on each CF core with the content knobs
    when items have features (the hybrid is the only kind that ranks cold items), else the plain
    CF models with their main knobs."""
    cores: list[dict[str, Any]] = (
        [{"core": "ease", "l2": v} for v in (30.0, 100.0, 300.0, 1000.0, 3000.0)]
        + [{"core": "dlae", "dropout": d, "l2": v} for d in DROPOUTS for v in (100.0, 300.0, 1000.0)]
        + [{"core": "itemknn", "knn_neighbours": v} for v in (20, 50, 100, 200)]
        + [{"core": "itemknn-bm25", "knn_neighbours": v} for v in (50, 100, 200, 400)]
        + [{"core": "als", "factors": f, "regularization": r} for f in (64, 128) for r in (0.05, 1.0)]
    )
    if not with_features:
        plain: list[tuple[str, dict[str, Any]]] = []
        for c in cores:
            opts = {k: v for k, v in c.items() if k != "core"}
            if c["core"] in ("ease", "dlae", "als"):
                plain.append((c["core"], opts))
            else:
                plain.append((c["core"], {"neighbours": opts["knn_neighbours"]}))
        return plain
    # Small two-core ensembles: the second core's weight is searched like any knob (its scores are
    # scaled to the first core's spread, see HybridParams.core2).
    pairs: list[dict[str, Any]] = [
        {"core": "ease", "l2": l2, "core2": c2, **knob}
        for l2 in (100.0, 300.0, 1000.0)
        for c2, knob in (
            ("itemknn", {"knn_neighbours": 50}),
            ("itemknn", {"knn_neighbours": 200}),
            ("itemknn-bm25", {"knn_neighbours": 100}),
            ("itemknn-bm25", {"knn_neighbours": 400}),
            ("als", {}),
        )
    ]
    pairs += [
        {"core": "dlae", "dropout": 0.5, "l2": l2, "core2": c2, **knob}
        for l2 in (300.0, 1000.0)
        for c2, knob in (
            ("itemknn", {"knn_neighbours": 200}),
            ("itemknn-bm25", {"knn_neighbours": 400}),
            ("als", {}),
        )
    ]
    # DLAE with GF-CF's graph filter (Shen et al. 2021): its low-pass part is a smooth, low-rank
    # signal the item-item regression misses (+2-3% validation Recall@20 over DLAE alone on two
    # carves of ml-100k and of ml-1m-llm, docs/benchmarks.md; the best dims differed, 32 and 128).
    pairs += [
        {"core": "dlae", "dropout": 0.5, "l2": l2, "core2": "gfcf", "gf_dims": d, "gf_ideal_weight": 1.0}
        for l2 in (300.0, 1000.0)
        for d in (32, 64, 128)
    ]
    pairs += [{"core": "itemknn-bm25", "knn_neighbours": k, "core2": "als"} for k in (100, 200)]
    ensembles = [{**c, "core2_weight": w} for c in pairs for w in (0.25, 0.5, 1.0)]
    # Content weights span decades: the CF scores of the cores live on different scales
    # (EASE ~1, summed cosines ~10, BM25 ~100s), so one grid has to cover them all.
    content = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
    shrinkage = (0.0, 2.0, 10.0)
    return [
        ("hybrid", {**c, "content_weight": w, "shrinkage": s})
        for c in cores + ensembles
        for w in content
        for s in shrinkage
    ]


def anchors(with_features: bool) -> list[tuple[str, dict[str, Any]]]:
    """Configurations every search scores besides its seeded draw: each single CF model mediarec
    ships, at its registry defaults, as a hybrid without the content term (on warm items it scores
    exactly as that model does; cold items still borrow), and the screened DLAE + GF-CF ensemble.
    The draw covers 81 of ~2,000 configurations: on ml-100k it missed plain DLAE, which then beat
    the tuned hybrid on the test fold as it did on validation. With them, every shipped baseline's
    own configuration is scored (and kept if it leads); successive halving may still drop one on its
    first, small rung. The plain search (no features) draws its whole space."""
    if not with_features:
        return []
    plain = {"content_weight": 0.0, "shrinkage": 0.0}
    return [
        ("hybrid", {"core": "ease", "l2": 1000.0, **plain}),
        ("hybrid", {"core": "dlae", "dropout": 0.5, "l2": 300.0, **plain}),
        ("hybrid", {"core": "itemknn", "knn_neighbours": 20, **plain}),
        ("hybrid", {"core": "itemknn-bm25", "knn_neighbours": 100, **plain}),
        ("hybrid", {"core": "als", "factors": 64, "regularization": 0.05, **plain}),
        (
            "hybrid",
            {
                "core": "dlae",
                "dropout": 0.5,
                "l2": 300.0,
                "core2": "gfcf",
                "gf_dims": 64,
                "gf_ideal_weight": 1.0,
                "core2_weight": 0.5,
                **plain,
            },
        ),
    ]


# Cold knobs, searched coordinate-wise on the cold validation split for a finalist whose
# shrinkage is 0: then every item with training users keeps its own CF representation and content
# weight, so these knobs move only items without events and cannot change its warm score.
COLD_GRID: list[tuple[str, tuple[Any, ...]]] = [
    ("neighbours", (50, 100, 200, 400)),
    ("temperature", (0.05, 0.1, 0.2)),
    ("cold_content_weight", (0.0, 0.1, 0.3, 1.0)),
]
