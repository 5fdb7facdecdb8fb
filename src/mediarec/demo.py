"""``mediarec demo``: the whole embedded path on the built-in catalogue, printed for a person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mediarec.datasets import demo as demo_data
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec

# 80 items and 60 users: far fewer factors and stronger regularisation than the defaults fit that size.
DEMO_ALS = {"factors": 8, "iterations": 20, "regularization": 1.0}


def run_demo(engine: MediaRec, show_users: int = 3, echo: Callable[[str], None] = print) -> dict[str, float]:
    """Import, train, recommend and evaluate; returns the share of recommendations that fall in
    each shown user's planted favourite topics (the demo's own sanity figure)."""
    echo(f"mediarec demo — data home: {engine.home.resolve()}")
    report = load_rows(engine.store, demo_data.rows(), source="built-in demo catalogue", fmt="demo")
    c = report.counts()
    echo(
        f"1. imported the built-in catalogue: {c['items_read']} items ({c['items_new']} new), "
        f"{c['events_read']} events ({c['events_new']} new) "
        f"from {len(demo_data.user_tastes())} simulated users"
    )
    path, model = engine.train("als", **DEMO_ALS)
    echo(
        f"2. trained ALS on {model.n_users} users x {model.n_items} items "
        f"in {model.fit_seconds:.2f}s -> {path}"
    )
    tastes = demo_data.user_tastes()
    topic_of = {it.external_id: str(it.metadata["topic"]) for it in demo_data.items()}
    echo("3. recommendations (unseen items only), with the reason for each:")
    shares = {}
    for user in list(tastes)[:show_users]:
        recs = engine.recommend(user, n=5)
        hits = sum(topic_of.get(r.item_id) in tastes[user] for r in recs)
        shares[user] = hits / max(len(recs), 1)
        echo(f"   {user} (planted taste: {', '.join(tastes[user])}) — {hits}/{len(recs)} in taste")
        for rank, r in enumerate(recs, start=1):
            echo(f"     {rank}. {r.title} [{r.item_id}, {topic_of.get(r.item_id)}] — {r.reasons[0].text}")
    first = demo_data.items()[0]
    echo(f"4. items similar to '{first.title}' (ALS item factors):")
    for r in engine.similar(first.external_id, n=3):
        echo(f"     {r.title} [{r.item_id}] score={r.score:.3f}")
    newcomer = engine.recommend("someone-new", n=3)
    echo("5. a user never seen before gets popular items: " + ", ".join(r.title for r in newcomer))
    echo("6. offline evaluation (leave-last-out, Recall@10):")
    from mediarec.eval import evaluate

    params: dict[str, dict[str, Any]] = {"als": dict(DEMO_ALS)}
    result = evaluate(
        engine.dataset(),
        "leave-last-out",
        ["random", "popularity", "itemknn", "als"],
        k=10,
        seed=engine.settings.seed,
        model_params=params,
    )
    for row in result.rows:
        echo(f"     {row.model:<12} Recall@10={row.metrics['recall']:.3f}  NDCG@10={row.metrics['ndcg']:.3f}")
    echo("Next: `mediarec serve` for the HTTP API (docs at http://127.0.0.1:8000/docs).")
    return shares
