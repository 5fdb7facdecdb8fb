"""``mediarec demo``: the whole embedded path on real media, printed for a person.

Renders the demo media offline (narrated clips, Big Buck Bunny, two speech recordings), runs the
real content-understanding pipeline over it, loads simulated viewers whose tastes follow the
clips' topics, trains, and recommends with reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mediarec.datasets import demo as demo_data
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec

# 80 items and 60 users: far fewer factors and stronger regularisation than the defaults fit that size.
DEMO_ALS = {"factors": 8, "iterations": 20, "regularization": 1.0}


def understand_media(engine: MediaRec, echo: Callable[[str], None], workers: int = 2) -> Any:
    """Steps 1-3: model kit, demo media, ingest. Returns the demo media catalogue."""
    from mediarec import kit
    from mediarec.datasets.media_demo import build_demo_media
    from mediarec.pipeline import IngestOptions

    results = kit.install(engine.home, kit.DEFAULT_MODELS, settings=engine.settings, runtime=False)
    fresh = [r.name for r in results if r.status != "present"]
    echo(
        f"1. offline model kit in {kit.kit_root(engine.home, engine.settings)}: "
        f"{', '.join(r.name for r in results)}" + (f" (assembled now: {', '.join(fresh)})" if fresh else "")
    )
    catalogue = build_demo_media(engine.home / "demo-media")
    rendered = sum(1 for c in catalogue.clips if c.truth.source == "espeak-ng")
    echo(
        f"2. demo media in {catalogue.out_dir}: {rendered} narrated clips rendered with espeak-ng + ffmpeg, "
        f"{len(catalogue.clips) - rendered} real recordings" + ("" if catalogue.built else " (cached)")
    )
    summary = engine.ingest([catalogue.out_dir], IngestOptions(workers=workers))
    media = sum(o.media_seconds for o in summary.outcomes if o.status == "processed")
    wall = sum(sum(o.seconds.values()) for o in summary.outcomes)
    echo(
        f"3. ingested: {summary.count('processed')} processed, {summary.count('skipped')} already done, "
        f"{summary.count('failed')} failed"
        + (f"; {media:.0f}s of media, {wall:.0f} stage-seconds" if media else "")
    )
    for outcome in summary.failed:
        for stage, reason in outcome.errors.items():
            echo(f"     {outcome.path} [{stage}]: {reason}")
    return catalogue


def describe_clips(engine: MediaRec, catalogue: Any, echo: Callable[[str], None], topics: int = 3) -> None:
    """Step 3b: the fast local LLM describes one narrated clip of each of ``topics`` topics (the
    rest with `mediarec describe`); skipped with the reason when no local LLM is installed.

    Three clips, not all 24: at about 20 s a clip on two cores, the demo shows the stage in a minute
    instead of making a first-time user wait eight."""
    from mediarec.llm.backends import LLMError

    chosen: dict[str, str] = {}
    for clip in catalogue.clips:
        if clip.truth.script and clip.topic not in chosen and len(chosen) < topics:
            chosen[clip.topic] = clip.id
    items = list(chosen.values())

    def progress(done: int, total: int, o: Any) -> None:
        if o.status == "failed":
            echo(f"     {o.item_id}: no valid answer ({o.error})")
        elif o.status == "described":
            speed = f"{o.seconds:.0f}s, {o.tokens_per_second:.1f} tokens/s"
            echo(f"     {o.item_id}: {', '.join(o.tags)} ({speed})")

    try:
        summary = engine.describe(items, model="fast", progress=progress)
    except (LLMError, ImportError) as exc:
        echo(f"3b. LLM descriptions skipped: {exc}")
        return
    echo(
        f"3b. the fast local LLM described {summary.count('described')} clips "
        f"({summary.count('current')} already done, {summary.count('cached')} from the cache, "
        f"{summary.count('failed')} failed); `mediarec describe` does the rest"
    )


def run_demo(
    engine: MediaRec, show_users: int = 3, echo: Callable[[str], None] = print, workers: int = 2
) -> dict[str, float]:
    """The demo; returns the share of recommendations that fall in each shown user's planted topics."""
    from mediarec.understand.summary import describe

    echo(f"mediarec demo — data home: {engine.home.resolve()}")
    catalogue = understand_media(engine, echo, workers)
    # The catalogue's metadata (uploader tags, description) is part of what the LLM reads, so it is
    # stored before step 3b: described after it, a second run would find changed evidence and
    # describe every clip again.
    report = load_rows(engine.store, demo_data.rows(), source="built-in demo catalogue", fmt="demo")
    describe_clips(engine, catalogue, echo)
    first = catalogue.clips[0]
    echo(f"4. what mediarec understood about '{first.title}' (`mediarec show {first.id}`):")
    for line in describe(engine.store.get_item(first.id), engine.understanding(first.id)):
        echo("   " + line)
    c = report.counts()
    echo(
        f"5. catalogue and behaviour: {c['items_read']} items ({c['items_new']} new), "
        f"{c['events_read']} events ({c['events_new']} new) "
        f"from {len(demo_data.user_tastes())} simulated users"
    )
    path, model = engine.train("als", **DEMO_ALS)
    echo(
        f"6. trained ALS on {model.n_users} users x {model.n_items} items "
        f"in {model.fit_seconds:.2f}s -> {path}"
    )
    tastes = demo_data.user_tastes()
    topic_of = {it.external_id: str(it.metadata["topic"]) for it in demo_data.items()}
    echo("7. recommendations (unseen items only), with the reason for each:")
    shares = {}
    for user in list(tastes)[:show_users]:
        recs = engine.recommend(user, n=5)
        hits = sum(topic_of.get(r.item_id) in tastes[user] for r in recs)
        shares[user] = hits / max(len(recs), 1)
        echo(f"   {user} (planted taste: {', '.join(tastes[user])}) — {hits}/{len(recs)} in taste")
        for rank, r in enumerate(recs, start=1):
            why = r.reasons[0].text if r.reasons else "(no reason's condition holds: none given)"
            echo(f"     {rank}. {r.title} [{r.item_id}, {topic_of.get(r.item_id)}] — {why}")
    anchor = demo_data.items()[0]
    echo(f"8. items similar to '{anchor.title}' (ALS item factors):")
    for r in engine.similar(anchor.external_id, n=3):
        echo(f"     {r.title} [{r.item_id}] score={r.score:.3f}")
    newcomer = engine.recommend("someone-new", n=3)
    echo("9. a user never seen before gets popular items: " + ", ".join(r.title for r in newcomer))
    echo("10. offline evaluation (leave-last-out, Recall@10):")
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
    from mediarec.eval import write_report

    # Saved where `mediarec evaluate` saves its reports, so the dashboard's Evaluation page shows it.
    write_report(result, engine.home / "reports" / "demo")
    echo(
        "Next: `mediarec serve`, then open the dashboard at http://127.0.0.1:8000/ "
        "(API docs at http://127.0.0.1:8000/docs)."
    )
    return shares
