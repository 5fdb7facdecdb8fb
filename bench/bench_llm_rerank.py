"""LLM re-ranking of the top-K (issue 12 part 3) on the ML-1M split: NDCG@10 / Recall@10 with and without.

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_llm_rerank.py --out /tmp/rerank.json [--budget-s 480]
    .venv/bin/python bench/bench_llm_rerank.py --out /tmp/rerank.json --summary

Two seeded user samples of ``../shared/data/ml-1m-llm`` (the CoLaKG split, given folds):

* **cold**: no user of this split has 10 training events or fewer (the fewest is 14), so cold users are
  made: a seeded sample whose training events are cut to a seeded ``--cold-events`` of them; their
  other training items are removed from the matrix the model trains on, and are left out of their
  candidates (they are neither history nor test, so either way both arms are treated alike);
* **all**: a seeded sample of the other users, with their whole training history.

Base ranking: ALS (the served default model, 64 factors), fitted once on the training matrix with the
cold users cut, top ``--k`` unseen items. The LLM (``--llm``, default the kit's qwen-0.5b) re-ranks
those K from the user's last ``history_items`` titles (file order; the split has no times) with the
defaults of :class:`mediarec.llm.rerank.RerankOptions`; item text = ML-1M title + genres. Metrics are
computed on the test fold (``--fold test``) or on a validation carve of training (``--fold
validation``: per user a seeded 20% of the training items become the targets and are removed from
training; the test fold is not read), which is where any prompt wording was to be tried.

Resumable: every user's result is written to ``--out`` as soon as it exists and users already there
are skipped, so the run can be split into jobs under ``--budget-s`` seconds each.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ml-1m-llm"


def read_split(data: Path) -> tuple[dict[int, list[int]], dict[int, list[int]], dict[int, str]]:
    def lists(name: str) -> dict[int, list[int]]:
        out = {}
        for line in (data / name).read_text().splitlines():
            parts = [int(x) for x in line.split()]
            if parts:
                out[parts[0]] = parts[1:]
        return out

    train, test = lists("train.txt"), lists("test.txt")
    original = {}
    for line in (data / "item_map.txt").read_text().splitlines():
        a, b = line.split()
        original[int(b)] = a
    movies = {}
    for line in (data / "movies.dat").read_text(encoding="latin-1").splitlines()[1:]:
        mid, title, genres = line.split("::")
        movies[mid] = f"{title} ({genres.replace('|', ', ')})"
    text = {i: movies.get(m, f"movie {m}") for i, m in original.items()}
    return train, test, text


def prepare(args: argparse.Namespace) -> dict:
    """Samples, histories, targets and the base top-K of every sampled user (deterministic)."""
    from mediarec.interactions import from_indices
    from mediarec.recommenders import ALSRecommender

    train, test, text = read_split(Path(args.data))
    users = np.array(sorted(train))
    rng = np.random.default_rng(args.seed)
    picked = rng.permutation(users)
    cold = [int(u) for u in picked[: args.cold_users]]
    everyone = [int(u) for u in picked[args.cold_users : args.cold_users + args.all_users]]
    history: dict[int, list[int]] = {u: list(items) for u, items in train.items()}
    targets: dict[int, list[int]] = {}
    hidden: dict[int, list[int]] = {}  # training items neither shown nor targets (cold cut)
    for u in cold + everyone:
        items = history[u]
        if args.fold == "validation":
            r = np.random.default_rng([args.seed, 7, u])
            held = set(r.choice(len(items), size=max(1, len(items) // 5), replace=False).tolist())
            targets[u] = [x for j, x in enumerate(items) if j in held]
            items = [x for j, x in enumerate(items) if j not in held]
        else:
            targets[u] = list(test.get(u, []))
        if u in cold and len(items) > args.cold_events:
            r = np.random.default_rng([args.seed, 11, u])
            keep = set(r.choice(len(items), size=args.cold_events, replace=False).tolist())
            hidden[u] = [x for j, x in enumerate(items) if j not in keep]
            items = [x for j, x in enumerate(items) if j in keep]
        history[u] = items
    n_items = 1 + max(max(v) for v in [*train.values(), *test.values()] if v)
    rows = np.concatenate([np.full(len(v), u) for u, v in history.items()])
    cols = np.concatenate([np.asarray(v, dtype=np.int64) for v in history.values()])
    inter = from_indices(
        rows,
        cols,
        np.ones(len(rows), np.float32),
        [str(u) for u in range(max(history) + 1)],
        [str(i) for i in range(n_items)],
    )
    started = time.perf_counter()
    model = ALSRecommender().fit(inter)
    print(f"ALS fitted in {time.perf_counter() - started:.1f} s on {inter.nnz} pairs")
    sample = cold + everyone
    ids, _ = model.recommend(sample, n=args.k, exclude=[hidden.get(u, []) for u in sample])
    base = {u: [int(i) for i in row if i >= 0] for u, row in zip(sample, ids, strict=True)}
    return {"cold": cold, "all": everyone, "history": history, "targets": targets, "base": base, "text": text}


def metrics(order: list[int], targets: set[int], k: int = 10) -> tuple[float, float]:
    """(NDCG@k, Recall@k), binary relevance, as mediarec.eval.metrics computes them."""
    hits = np.array([1.0 if i in targets else 0.0 for i in order[:k]])
    discount = 1.0 / np.log2(np.arange(2, len(hits) + 2))
    ideal = float((1.0 / np.log2(np.arange(2, min(len(targets), k) + 2))).sum())
    ndcg = float((hits * discount).sum()) / ideal if ideal > 0 else 0.0
    return ndcg, float(hits.sum()) / max(len(targets), 1)


def run(args: argparse.Namespace) -> None:
    from mediarec.llm.backends import backend_from_url
    from mediarec.llm.rerank import RerankOptions, rerank
    from mediarec.settings import Settings

    out = Path(args.out)
    done = json.loads(out.read_text()) if out.exists() else {"meta": {}, "users": {}}
    prep = prepare(args)
    done["meta"] = {k: v for k, v in vars(args).items() if k != "summary"}
    backend = backend_from_url(args.llm, Settings())
    options = RerankOptions(k=args.k)
    started = time.perf_counter()
    # Alternate the groups so that a run cut by the budget leaves both samples the same size.
    todo = sorted(
        [(j, g, u) for g in ("cold", "all") for j, u in enumerate(prep[g])],
        key=lambda x: (x[0], x[1] == "all"),
    )
    for _, group, u in todo:
        key = f"{group}:{u}"
        if key in done["users"]:
            continue
        if time.perf_counter() - started > args.budget_s:
            print(f"budget of {args.budget_s} s spent: stopping (rerun to resume)")
            break
        base = prep["base"][u]
        history = [prep["text"][i] for i in prep["history"][u]]
        outcome = rerank(backend, history, [prep["text"][i] for i in base], options, user=str(u))
        done["users"][key] = {
            "group": group,
            "events": len(prep["history"][u]),
            "base": base,
            "targets": prep["targets"][u],
            "order": [base[i] for i in outcome.order],
            "passes": [None if p is None else [base[i] for i in p] for p in outcome.pass_orders],
            "valid_passes": outcome.valid_passes,
            "seconds": outcome.seconds,
            "prompt_tokens": outcome.usage.prompt_tokens,
            "completion_tokens": outcome.usage.completion_tokens,
            "errors": outcome.errors,
        }
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(done))
        os.replace(tmp, out)
        print(f"{key}: {outcome.seconds:.1f} s, {outcome.valid_passes}/{outcome.passes} valid", flush=True)
    summary(done)


def _ci(deltas: np.ndarray, seed: int = 42, rounds: int = 10000) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = rng.choice(deltas, size=(rounds, len(deltas)), replace=True).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summary(done: dict) -> None:
    from mediarec.llm.rerank import combine, presentation_orders

    seed = int(done["meta"].get("seed", 42))

    print(f"fold: {done['meta'].get('fold')}, k: {done['meta'].get('k')}")
    print(
        "| group | users | NDCG@10 base | NDCG@10 LLM | delta (95% CI) | better / worse / same | "
        "Recall@10 base / LLM | NDCG@10 LLM+base vote | NDCG@10 first pass alone | valid passes | "
        "passes echoing the shown order | "
        "s / user (mean, max) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for group in ("cold", "all"):
        rows = [r for r in done["users"].values() if r["group"] == group]
        if not rows:
            continue
        base, llm, voted, rb, rl, first = [], [], [], [], [], []
        for r in rows:
            t = set(r["targets"])
            b = metrics(r["base"], t)
            m = metrics(r["order"], t)
            valid = [p for p in r["passes"] if p is not None]
            pos = {item: j for j, item in enumerate(r["base"])}
            v = combine(len(r["base"]), [[pos[i] for i in p] for p in valid], 1.0)
            base.append(b[0])
            llm.append(m[0])
            voted.append(metrics([r["base"][j] for j in v], t)[0])
            if r["passes"] and r["passes"][0] is not None:  # what one pass alone would have served
                first.append(metrics(r["passes"][0], t)[0])
            rb.append(b[1])
            rl.append(m[1])
        d = np.array(llm) - np.array(base)
        lo, hi = _ci(d)
        secs = [r["seconds"] for r in rows]
        valid_p = sum(r["valid_passes"] for r in rows)
        echoed = sum(
            p == [r["base"][i] for i in shown]
            for u, r in ((k.split(":")[1], r) for k, r in done["users"].items() if r["group"] == group)
            for p, shown in zip(
                r["passes"], presentation_orders(len(r["base"]), len(r["passes"]), seed, u), strict=True
            )
        )
        total_p = sum(len(r["passes"]) for r in rows)
        print(
            f"| {group} | {len(rows)} | {np.mean(base):.4f} | {np.mean(llm):.4f} | "
            f"{d.mean():+.4f} ({lo:+.4f}, {hi:+.4f}) | "
            f"{int((d > 0).sum())} / {int((d < 0).sum())} / {int((d == 0).sum())} | "
            f"{np.mean(rb):.4f} / {np.mean(rl):.4f} | {np.mean(voted):.4f} | "
            f"{np.mean(first) if first else float('nan'):.4f} | "
            f"{valid_p}/{total_p} | {echoed}/{total_p} | "
            f"{np.mean(secs):.1f}, {np.max(secs):.1f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", required=True, help="JSON of per-user results (resumed when it exists)")
    ap.add_argument("--fold", choices=("test", "validation"), default="test")
    ap.add_argument("--cold-users", type=int, default=50)
    ap.add_argument("--all-users", type=int, default=50)
    ap.add_argument("--cold-events", type=int, default=10)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--llm", default="llama://qwen-0.5b")
    ap.add_argument("--budget-s", type=float, default=480.0, help="stop starting users after this long")
    ap.add_argument("--summary", action="store_true", help="print the table of --out and stop")
    args = ap.parse_args()
    if args.summary:
        summary(json.loads(Path(args.out).read_text()))
        return
    run(args)


if __name__ == "__main__":
    main()
