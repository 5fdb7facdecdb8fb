"""Item-understanding quality, measured: known topics of the demo clips, MovieLens genres.

* **Demo catalogue**: each narrated clip was written about one known topic (cooking, football, ...).
  The clip's evidence is what ingest stored (transcript, keyframe labels, on-screen text, audio
  tags) plus its title and uploader description, but *not* the uploader's tags or topic, so the
  topic has to come from the content. A hit: the topic word is a word of one of the item's tags.
* **ML-1M** (``../shared/data/ml-1m-llm``): a seeded sample of movies, evidence = title + the
  LLM-written description the split ships. Genre recall: the share of the movies' MovieLens genres
  found among the tags (a genre is found when a tag contains one of its words, e.g. "science
  fiction" for Sci-Fi); also the share of movies with at least one genre found.

Every answer goes through the real path (constrained decoding, schema, repair, grounding, one
retry); an item with no valid answer counts as a miss and is listed.

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_llm_quality.py --model fast \
        --demo-home DATA_HOME_WITH_THE_DEMO_INGESTED --movies 20
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from mediarec.engine import MediaRec, llm_url
from mediarec.llm.backends import LLMError, backend_from_url
from mediarec.llm.describe import stored_evidence
from mediarec.llm.items import EvidenceOptions, collect_evidence, understand_item
from mediarec.llm.topics import TOPICS_SHOWN, TopicRanker

# Words that name a MovieLens genre in a tag.
GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "Action": ("action",),
    "Adventure": ("adventure",),
    "Animation": ("animation", "animated"),
    "Children's": ("children", "family", "kids"),
    "Comedy": ("comedy", "comedic", "humor", "humour"),
    "Crime": ("crime", "criminal", "heist", "gangster"),
    "Documentary": ("documentary",),
    "Drama": ("drama", "dramatic"),
    "Fantasy": ("fantasy",),
    "Film-Noir": ("noir",),
    "Horror": ("horror",),
    "Musical": ("musical",),
    "Mystery": ("mystery",),
    "Romance": ("romance", "romantic", "love"),
    "Sci-Fi": ("sci-fi", "science fiction", "scifi"),
    "Thriller": ("thriller", "suspense"),
    "War": ("war",),
    "Western": ("western",),
}


def _words(tags: list[str]) -> set[str]:
    return {w for t in tags for w in t.replace("-", " ").split()} | set(tags)


def _found(words: tuple[str, ...], tags: list[str]) -> bool:
    tag_words = _words(tags)
    return any(w in tag_words or any(w in t for t in tags) for w in words)


# `describe` names the topics that fit best by MiniLM similarity (mediarec.llm.topics); so does the
# bench, through the same function, when the kit has MiniLM.
EMBED: list[TopicRanker] = []


def _run(backend: Any, ev: Any) -> tuple[dict[str, Any] | None, float, int, int, str]:
    started = time.perf_counter()
    topics = EMBED[0].rank(ev)[:TOPICS_SHOWN] if EMBED else None
    try:
        result = understand_item(backend, ev, topics=topics)
    except LLMError as exc:
        return None, time.perf_counter() - started, 0, 0, str(exc)[:200]
    return result.value, result.seconds, result.completion_tokens, result.attempts, ""


def demo_topics(backend: Any, home: Path) -> dict[str, Any]:
    engine = MediaRec(home)
    rows = engine.store.conn.execute(
        "SELECT i.external_id FROM items i JOIN item_features f ON f.item_id = i.id "
        "WHERE f.extractor = 'speech' ORDER BY i.external_id"
    )
    items = [str(r[0]) for r in rows]
    out = []
    options = EvidenceOptions(uploader_tags=False)
    for item_id in items:
        stored = engine.store.get_item(item_id)
        topic = (stored.metadata if stored else {}).get("topic")
        if not topic or not item_id.split("-")[-1].isdigit():
            continue  # the real recordings carry no known topic
        _, ev = stored_evidence(engine.store, item_id, options)
        value, seconds, tokens, attempts, error = _run(backend, ev)
        tags = [t["tag"] for t in value["tags"]] if value else []
        topics = list(value["topics"]) if value else []
        row = {
            "item": item_id,
            "topic": topic,
            "tags": tags,
            "topics": topics,
            "hit_tags": _found((topic,), tags),
            "hit_tags_or_topics": _found((topic,), tags + topics),
            "seconds": round(seconds, 2),
            "tokens": tokens,
            "attempts": attempts,
            "error": error,
        }
        print(json.dumps(row), flush=True)
        out.append(row)
    engine.close()
    n = len(out)
    return {
        "clips": n,
        "topic_in_tags": sum(r["hit_tags"] for r in out) / max(n, 1),
        "topic_in_tags_or_topics": sum(r["hit_tags_or_topics"] for r in out) / max(n, 1),
        "failed": sum(1 for r in out if r["error"]),
        "seconds_per_item": sum(r["seconds"] for r in out) / max(n, 1),
        "tokens_per_second": sum(r["tokens"] for r in out) / max(sum(r["seconds"] for r in out), 1e-9),
        "rows": out,
    }


def movie_genres(backend: Any, data: Path, n: int, seed: int) -> dict[str, Any]:
    descriptions = json.loads((data / "llm_response_item.json").read_text(encoding="utf-8"))
    movies: list[tuple[str, str, list[str]]] = []
    with open(data / "movies.dat", encoding="latin-1") as fh:
        next(fh)  # header
        for line in fh:
            movie_id, title, genre_field = line.rstrip("\n").split("::")
            if movie_id in descriptions:
                movies.append((movie_id, title, genre_field.split("|")))
    sample = random.Random(seed).sample(movies, n)
    options = EvidenceOptions(max_chars=1200)
    out: list[dict[str, Any]] = []
    for movie_id, title, genres in sample:
        ev = collect_evidence(movie_id, title, 0.0, {"description": descriptions[movie_id]}, {}, options)
        value, seconds, tokens, attempts, error = _run(backend, ev)
        tags = [t["tag"] for t in value["tags"]] if value else []
        found = [g for g in genres if _found(GENRE_WORDS.get(g, (g.lower(),)), tags)]
        row = {
            "movie": movie_id,
            "title": title,
            "genres": genres,
            "found": found,
            "tags": tags,
            "seconds": round(seconds, 2),
            "tokens": tokens,
            "attempts": attempts,
            "error": error,
        }
        print(json.dumps(row), flush=True)
        out.append(row)
    total = sum(len(r["genres"]) for r in out)
    return {
        "movies": len(out),
        "genre_recall": sum(len(r["found"]) for r in out) / max(total, 1),
        "movies_with_a_genre": sum(1 for r in out if r["found"]) / max(len(out), 1),
        "failed": sum(1 for r in out if r["error"]),
        "seconds_per_item": sum(r["seconds"] for r in out) / max(len(out), 1),
        "rows": out,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="fast", help="fast, quality, a kit model or an LLM URL")
    ap.add_argument("--demo-home", type=Path, help="data home where the demo media was ingested")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/ml-1m-llm"))
    ap.add_argument("--movies", type=int, default=20, help="ML-1M movies to sample (0: skip)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--no-ranking", action="store_true", help="show the whole topic list, unranked")
    args = ap.parse_args()
    home = args.demo_home or Path.cwd() / "mediarec-data"
    settings = MediaRec(home).settings
    backend = backend_from_url(llm_url(args.model), settings)
    report: dict[str, Any] = {"model": backend.model_id, "command": shlex.join([sys.executable, *sys.argv])}
    if not args.no_ranking:
        from mediarec.understand.text import MiniLM

        EMBED.append(TopicRanker(MiniLM.from_settings(settings).encode))
    report["topics_ranked"] = bool(EMBED)
    if args.demo_home:
        report["demo"] = demo_topics(backend, args.demo_home)
    if args.movies and args.data.is_dir():
        report["ml1m"] = movie_genres(backend, args.data, args.movies, args.seed)
    for part in ("demo", "ml1m"):
        if part in report:
            print(part, {k: v for k, v in report[part].items() if k != "rows"})
    print("command:", report["command"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
