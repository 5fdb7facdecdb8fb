"""Steering (issue 12): parse accuracy on the labelled requests, and hard constraints of returned lists.

For every request of ``bench/truth/steering.json`` (written before any parser output was looked at):

* **parse**: the parser's query against the labelled one. Hard fields must be equal (durations and
  ages within 1%, lists as sets); the soft fields (towards/away) are compared by the first four
  letters of each word ("calmer" = "calm"). A request counts as parsed when every field matches.
  Seconds per uncached parse, then per cached parse (the same requests again).
* **NDCG@10** of the steered list against the plain list filtered to the items that satisfy the
  labelled constraints (user requests; relevance: the item's topic is one of the user's planted tastes).
* **constraints**: the steered list (users ``user-01``..``user-05`` for user requests, the item's
  similar list for item requests, 10 items each), every returned item checked against the *labelled*
  hard constraints, independently of the parser; empty lists are counted with their message.

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_steering.py --demo-home /work/demo-home \
        --parser rules|fast|quality
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mediarec.datasets import demo
from mediarec.engine import MediaRec, llm_url
from mediarec.rank.query import SteerQuery
from mediarec.rank.steer import constraint_masks

TRUTH = Path(__file__).parent / "truth" / "steering.json"
USERS = ("user-01", "user-02", "user-03", "user-04", "user-05")
_HARD = (
    "min_duration_s",
    "max_duration_s",
    "max_age_days",
    "kinds",
    "languages",
    "creators",
    "exclude_creators",
    "topics",
    "exclude_topics",
)


def _soft_key(terms: list[str]) -> set[str]:
    return {w[:4] for t in terms for w in t.lower().split()}


def mismatches(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The fields where ``got`` differs from ``want`` (both SteerQuery.to_dict() shapes)."""
    bad = []
    for f in _HARD:
        a, b = got.get(f), want.get(f)
        if isinstance(a, float | int) or isinstance(b, float | int):
            ok = a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=0.01)
        else:
            ok = {str(x).lower() for x in a or []} == {str(x).lower() for x in b or []}
        if not ok:
            bad.append(f"{f}: {a!r} != {b!r}")
    for f in ("towards", "away"):
        if _soft_key(got.get(f, [])) != _soft_key(want.get(f, [])):
            bad.append(f"{f}: {got.get(f)!r} != {want.get(f)!r}")
    return bad


def _ndcg(ids: list[str], relevant: set[str], k: int = 10) -> float:
    gains = sum(1 / math.log2(i + 2) for i, x in enumerate(ids[:k]) if x in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return gains / ideal if ideal else 0.0


def _ndcg_pair(engine: MediaRec, user: str, items: list[Any], masks: list[Any], catalog: Any) -> Any:
    """(NDCG@10 of the steered list, of the plain list filtered to the items satisfying the labelled
    constraints), relevance = the item's topic is one of the user's planted tastes; None when no
    unseen satisfying item is relevant."""
    tastes = set(demo.user_tastes().get(user, []))
    ok = [all(bool(m[p]) for _, m in masks) for p in range(len(catalog))]
    seen = engine.store.seen_items(user)
    relevant = {
        str(i)
        for p, i in enumerate(catalog.item_ids)
        if ok[p] and str(i) not in seen and catalog.topics[p] and catalog.topics[p][0] in tastes
    }
    if not relevant:
        return None
    plain = [r.item_id for r in engine.rank(user, n=len(catalog)).items if ok[catalog.index[r.item_id]]]
    return _ndcg([r.item_id for r in items], relevant), _ndcg(plain, relevant)


def run(home: Path, parser: str, limit: int | None, truth_file: Path = TRUTH) -> dict[str, Any]:
    truth = json.loads(truth_file.read_text())["requests"][:limit]
    llm = None
    if parser != "rules":
        from mediarec.llm.backends import backend_from_url

        llm = backend_from_url(llm_url(parser), MediaRec(home).settings)
    engine = MediaRec(home, llm=llm)
    engine.settings = dataclasses.replace(
        engine.settings, ask_parser="rules" if parser == "rules" else "auto"
    )
    steerer = engine.steerer
    parsed_ok, failures, seconds, cached_seconds = 0, [], [], []
    parsed = []
    for r in truth:
        p = steerer.parse(r["ask"], r.get("item"))
        seconds.append(p.seconds)
        parsed.append(p)
        bad = mismatches(p.query.to_dict(), r["expect"])
        if bad:
            failures.append({"ask": r["ask"], "item": r.get("item"), "wrong": bad, "note": p.note})
        else:
            parsed_ok += 1
    for r in truth:
        started = time.perf_counter()
        p = steerer.parse(r["ask"], r.get("item"))
        cached_seconds.append(time.perf_counter() - started)
    # -- hard constraints of returned items, checked against the labels -----------------------
    catalog = engine._ranker.catalogs.get(engine.store)
    facts = steerer.facts.get(engine.store, catalog)
    returned = satisfied = satisfied_parsed = lists = empty = errors = 0
    ndcg_pairs: list[tuple[float, float] | None] = []
    messages: list[str] = []
    for r in truth:
        want = SteerQuery.from_dict(r["expect"])
        masks = constraint_masks(want, catalog, facts, time.time())
        targets = [r["item"]] if r.get("item") else list(USERS)
        for target in targets:
            try:
                if r.get("item"):
                    steered = engine.similar_steered(target, r["ask"], n=10)
                else:
                    steered = engine.rank_steered(target, r["ask"], n=10)
            except Exception as exc:
                errors += 1
                messages.append(f"ERROR {r['ask']!r}: {exc!r}")
                continue
            lists += 1
            items = steered.result.items
            if not items:
                empty += 1
                if steered.message is None:
                    messages.append(f"empty without a message: {r['ask']!r}")
            own = constraint_masks(steered.parsed.query, catalog, facts, time.time())
            if not r.get("item"):
                ndcg_pairs.append(_ndcg_pair(engine, target, items, masks, catalog))
            for rec in items:
                pos = catalog.index[rec.item_id]
                returned += 1
                satisfied += all(bool(m[pos]) for _, m in masks)
                satisfied_parsed += all(bool(m[pos]) for _, m in own)
    pairs = [p for p in ndcg_pairs if p is not None]
    p95 = sorted(seconds)[max(0, math.ceil(0.95 * len(seconds)) - 1)]
    return {
        "parser": parsed[0].parser if parsed else parser,
        "requests": len(truth),
        "parsed_ok": parsed_ok,
        "parse_accuracy": parsed_ok / len(truth),
        "parse_seconds_mean": statistics.mean(seconds),
        "parse_seconds_p95": p95,
        "cached_parse_ms_mean": 1000 * statistics.mean(cached_seconds),
        "cached_parse_ms_max": 1000 * max(cached_seconds),
        "answered_by_rules_alone": sum(1 for p in parsed if p.parser == "rules"),
        "llm_constraints_left_out": sum(1 for p in parsed if p.note and p.note.startswith("left out")),
        "lists": lists,
        "empty_lists": empty,
        "errors": errors,
        "returned_items": returned,
        "satisfying_labelled_constraints": satisfied,
        "share_satisfying": satisfied / returned if returned else float("nan"),
        "satisfying_parsed_constraints": satisfied_parsed,
        "ndcg_lists": len(pairs),
        "ndcg10_steered": statistics.mean(p[0] for p in pairs) if pairs else float("nan"),
        "ndcg10_unsteered_filtered": statistics.mean(p[1] for p in pairs) if pairs else float("nan"),
        "failures": failures,
        "messages": messages,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--demo-home", type=Path, required=True, help="a `mediarec demo` home (copied, not changed)"
    )
    ap.add_argument("--parser", default="rules", help="rules, fast, quality, or an LLM URL")
    ap.add_argument("--limit", type=int, default=None, help="only the first N requests")
    ap.add_argument(
        "--truth", type=Path, default=TRUTH, help="the labelled requests (default: steering.json)"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(args.demo_home, home)
        (home / "READY").unlink(missing_ok=True)
        out = run(home, args.parser, args.limit, args.truth)
    print(" ".join(sys.argv))
    for k, v in out.items():
        if k not in ("failures", "messages"):
            print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    for f in out["failures"]:
        print("MISS", json.dumps(f, ensure_ascii=False))
    for m in out["messages"]:
        print(m)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
