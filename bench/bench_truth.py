"""Topics and reasons scored against the labelled truth set (bench/truth/topics.json, reasons.json).

On a copy of a demo home (``mediarec demo``'s output; never modified), the bench renders and ingests
the extra clips of :mod:`mediarec.datasets.media_extra`, runs ``describe`` afresh (result cache
cleared, ``force``) with the chosen model on every labelled clip (or a seeded sample), reads the
stored topics and scores them:

* strict precision: stored topics in the clip's ``accept`` list / all stored topics (a ``debatable``
  topic counts against it; the lenient figure counts it as right);
* recall: stored topics in ``expect`` / all ``expect`` topics (summed over clips);
* wrong-entry hits: stored topics from the clip's ``wrong`` list ("programming" on cooking).

Then it ranks the top 10 for every demo user (and the cold user of reasons.json) and checks each
reason against the labelled triples: a reason matching a triple labelled false is a violation. Every
"because you watched" is checked against its threshold (the ``rank_reason_min_similarity*``
settings). Loads real models: run it under the shared lock, e.g.

    flock /tmp/mediarec-heavy.lock env MEDIAREC_KIT_DIR=.kit \
        .venv/bin/python bench/bench_truth.py --model fast --home /work/demo-home --out truth.json
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

TRUTH = Path(__file__).resolve().parent / "truth"


# -- the truth files -----------------------------------------------------------------------------


def load_topics(path: Path = TRUTH / "topics.json") -> dict[str, dict[str, Any]]:
    return dict(json.loads(path.read_text(encoding="utf-8"))["clips"])


def load_triples(path: Path = TRUTH / "reasons.json") -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["triples"])


def topic_problems(clips: Mapping[str, Mapping[str, Any]], vocabulary: Iterable[str]) -> list[str]:
    """Why the topic labels are not well-formed (empty when they are)."""
    vocab = set(vocabulary)
    problems = []
    for clip, row in clips.items():
        sets = {k: set(row.get(k, ())) for k in ("accept", "expect", "debatable", "wrong")}
        for k, topics in sets.items():
            problems += [f"{clip}: {k} topic {t!r} is not in the vocabulary" for t in sorted(topics - vocab)]
        if sets["accept"] & sets["wrong"]:
            problems.append(f"{clip}: accepted and wrong: {sorted(sets['accept'] & sets['wrong'])}")
        if sets["debatable"] & (sets["accept"] | sets["wrong"]):
            problems.append(f"{clip}: debatable topics also accepted or wrong")
        if not sets["expect"] <= sets["accept"]:
            problems.append(
                f"{clip}: expected topics not accepted: {sorted(sets['expect'] - sets['accept'])}"
            )
        if len(sets["expect"]) > 3:
            problems.append(f"{clip}: more than 3 expected topics (at most 3 are stored)")
        if not str(row.get("note", "")).strip():
            problems.append(f"{clip}: no note")
    return problems


def triple_key(user: str, item: str, reason: Mapping[str, Any]) -> tuple[str, ...]:
    """What identifies a reason across runs: who, what, which kind, and what it names."""
    kind = str(reason["kind"])
    ev = reason.get("evidence") or {}
    detail = {"similar_to_seen": ev.get("item_id"), "interest_tag": ev.get("tag"), "moment": ev.get("label")}
    return (user, item, kind, str(detail.get(kind, "")))


def stored_triple_key(t: Mapping[str, Any]) -> tuple[str, ...]:
    detail = {"similar_to_seen": t.get("anchor"), "interest_tag": t.get("tag"), "moment": t.get("label")}
    return (str(t["user"]), str(t["item"]), str(t["kind"]), str(detail.get(str(t["kind"]), "") or ""))


# -- scoring ------------------------------------------------------------------------------------------


def score_topics(
    stored: Mapping[str, Sequence[str]], labels: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Precision, recall and wrong-entry hits of ``stored`` (clip -> topics) against ``labels``.

    Micro-averaged: a clip with three topics weighs three times a clip with one. A clip whose
    ``accept`` is empty is right only when it gets no topic ("true, or silent").
    """
    rows = []
    n_out = n_ok = n_lenient = n_expect = n_found = 0
    for clip, topics in stored.items():
        lab = labels[clip]
        out = list(dict.fromkeys(topics))
        accept, expect = set(lab.get("accept", ())), set(lab.get("expect", ()))
        debatable, wrong = set(lab.get("debatable", ())), set(lab.get("wrong", ()))
        ok = [t for t in out if t in accept]
        found = sorted(expect & set(out))
        rows.append(
            {
                "clip": clip,
                "topics": out,
                "accepted": ok,
                "debatable": [t for t in out if t in debatable],
                "unaccepted": [t for t in out if t not in accept],
                "wrong": [t for t in out if t in wrong],
                "expect": sorted(expect),
                "missing": sorted(expect - set(out)),
            }
        )
        n_out += len(out)
        n_ok += len(ok)
        n_lenient += len([t for t in out if t in accept | debatable])
        n_expect += len(expect)
        n_found += len(found)
    return {
        "clips": len(rows),
        "topics_stored": n_out,
        "precision": n_ok / n_out if n_out else 1.0,
        "precision_lenient": n_lenient / n_out if n_out else 1.0,
        "recall": n_found / n_expect if n_expect else 1.0,
        "wrong_hits": sum(len(r["wrong"]) for r in rows),
        "clips_with_wrong": [r["clip"] for r in rows if r["wrong"]],
        "silent_clips": [r["clip"] for r in rows if not r["topics"]],
        "rows": rows,
    }


def score_reasons(
    lists: Mapping[str, Sequence[Mapping[str, Any]]],
    triples: Sequence[Mapping[str, Any]],
    min_content: float | None,
    min_model: float | None,
    model_spaces: Iterable[str],
) -> dict[str, Any]:
    """``lists``: user -> recommendations as dicts (``item_id``, ``reasons`` with kind/text/evidence).

    A reason matching a triple labelled false is a violation; one matching a true triple is
    confirmed; the rest are unlabelled. Every "because you watched" whose similarity is under the
    threshold of its space (content vectors or a CF model's) is listed as below threshold.
    """
    labelled = {stored_triple_key(t): t for t in triples}
    cf = set(model_spaces)
    violations: list[dict[str, Any]] = []
    confirmed: list[dict[str, Any]] = []
    below: list[dict[str, Any]] = []
    given = 0
    for user, recs in lists.items():
        for rec in recs:
            for reason in rec.get("reasons", ()):
                given += 1
                key = triple_key(user, str(rec["item_id"]), reason)
                hit = labelled.get(key)
                if hit is not None:
                    (confirmed if hit["true"] else violations).append(
                        {"key": list(key), "text": reason["text"]}
                    )
                if reason["kind"] == "similar_to_seen":
                    ev = reason.get("evidence") or {}
                    limit = min_model if str(ev.get("space")) in cf else min_content
                    sim = ev.get("similarity")
                    if limit is not None and sim is not None and float(sim) < limit:
                        below.append(
                            {
                                "key": list(key),
                                "similarity": sim,
                                "space": ev.get("space"),
                                "threshold": limit,
                            }
                        )
    matched = len(violations) + len(confirmed)
    return {
        "reasons_given": given,
        "labelled_triples": len(triples),
        "matched": matched,
        "true_share_of_matched": len(confirmed) / matched if matched else 1.0,
        "violations": violations,
        "confirmed": len(confirmed),
        "below_threshold": below,
        "thresholds": {"content": min_content, "model": min_model},
    }


def similar_by_rule(
    lists: Mapping[str, Sequence[Mapping[str, Any]]],
    labels: Mapping[str, Mapping[str, Any]],
    item_topic: Mapping[str, str],
    watched: Mapping[str, set[str]],
) -> dict[str, Any]:
    """Every "because you watched" judged by reasons.json's rule for that kind (not hand-checked): true
    when the user watched the named item and both share their main topic (``expect``, else ``accept``,
    of the labels; the catalogue topic for unlabelled demo items)."""

    def main(item: str) -> set[str]:
        if item in labels:
            return set(labels[item].get("expect") or labels[item].get("accept") or ())
        return {item_topic[item]} if item in item_topic else set()

    total, false = 0, []
    for user, recs in lists.items():
        for rec in recs:
            for reason in rec.get("reasons", ()):
                if reason["kind"] != "similar_to_seen":
                    continue
                total += 1
                anchor, item = str(reason["evidence"]["item_id"]), str(rec["item_id"])
                if anchor not in watched.get(user, set()) or not main(anchor) & main(item):
                    false.append([user, item, anchor])
    return {"given": total, "false": len(false), "false_examples": false[:20]}


# -- the run ----------------------------------------------------------------------------------------------


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "uptime unavailable"


def prepare_home(source: Path, work: Path) -> Path:
    """A copy of ``source`` with the extra clips ingested."""
    from mediarec.datasets.media_extra import build_extra_media
    from mediarec.engine import MediaRec
    from mediarec.pipeline import IngestOptions

    home = work / "home"
    shutil.copytree(source, home, symlinks=True)
    extra = build_extra_media(work / "extra-media")
    with MediaRec(home) as engine:
        summary = engine.ingest([extra.out_dir], IngestOptions(workers=1))
    print(
        f"extra clips: {len(extra.clips)} rendered in {extra.seconds:.1f}s; ingest: "
        f"{summary.count('processed')} processed, {summary.count('failed')} failed",
        flush=True,
    )
    return home


def describe_and_read(
    home: Path, clips: Sequence[str], model: str
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    from mediarec.engine import MediaRec
    from mediarec.llm.describe import EXTRACTOR, DescribeOptions

    statuses: dict[str, str] = {}

    def progress(done: int, total: int, o: Any) -> None:
        statuses[o.item_id] = o.status
        print(f"  [{done}/{total}] {o.item_id}: {o.status} {o.seconds:.1f}s {o.error or ''}", flush=True)

    # No cached answer: every clip is described by the code under test.
    shutil.rmtree(home / "llm", ignore_errors=True)
    with MediaRec(home) as engine:
        present = [c for c in clips if engine.store.get_item(c) is not None]
        started = time.perf_counter()
        summary = engine.describe(
            present, model=model, options=DescribeOptions(force=True), progress=progress
        )
        seconds = time.perf_counter() - started
        stored: dict[str, list[str]] = {}
        for clip in present:
            # A clip that got no valid answer shows no topic: scored as silent, listed as failed.
            found = engine.store.latest_feature(clip, EXTRACTOR) if statuses.get(clip) != "failed" else None
            stored[clip] = list(found[1].get("topics", [])) if found else []
        info = {
            "model": model,
            "described": summary.count("described"),
            "failed": summary.count("failed"),
            "failed_clips": sorted(c for c, st in statuses.items() if st == "failed"),
            "missing_from_store": sorted(set(clips) - set(present)),
            "seconds": round(seconds, 1),
        }
    return stored, info


def _demo_facts() -> tuple[dict[str, str], dict[str, set[str]]]:
    """The demo catalogue's topics and, per user, the items they viewed, liked or shared."""
    from mediarec.datasets import demo

    watched: dict[str, set[str]] = {}
    for e in demo.events():
        if e.type in ("view", "like", "share"):
            watched.setdefault(e.user, set()).add(e.item)
    return {i.external_id: str(i.metadata["topic"]) for i in demo.items()}, watched


def rank_lists(home: Path, users: Sequence[str]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    from mediarec import recommenders
    from mediarec.engine import MediaRec

    with MediaRec(home) as engine:
        lists = {u: [r.to_dict() for r in engine.recommend(u, 10)] for u in users}
        opts = engine.rank_options
        limits = {
            "content": getattr(opts, "reason_min_similarity", None),
            "model": getattr(opts, "reason_min_similarity_model", None),
            "spaces": sorted(recommenders.MODELS),
        }
    return lists, limits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="fast", help="fast, quality, a kit model or an LLM URL")
    ap.add_argument("--home", type=Path, help="a data home where `mediarec demo` ran; copied, never changed")
    ap.add_argument(
        "--sample", type=int, default=0, help="describe a seeded sample of N labelled clips (0: all)"
    )
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--work", type=Path, help="folder for the copy (default: a temporary one, removed after)")
    ap.add_argument("--no-describe", action="store_true", help="score the reasons only")
    ap.add_argument("--prepared", type=Path, help="WORK/home of an earlier --work run: no copy or ingest")
    ap.add_argument("--min-similarity", type=float, help="content threshold, for code that has none")
    ap.add_argument("--min-similarity-model", type=float, help="CF-space threshold, for code that has none")
    ap.add_argument("--out", type=Path, help="write the full report as JSON here")
    args = ap.parse_args()
    print("uptime before:", _uptime(), flush=True)
    labels, triples = load_topics(), load_triples()
    clips = sorted(labels)
    if args.sample:
        clips = sorted(random.Random(args.seed).sample(clips, min(args.sample, len(clips))))
    report: dict[str, Any] = {"command": shlex.join([sys.executable, *sys.argv])}
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-truth-"))
    try:
        if args.prepared is None and args.home is None:
            ap.error("give --home (a demo home) or --prepared")
        home = args.prepared or prepare_home(args.home, work)
        if not args.no_describe:
            stored, info = describe_and_read(home, clips, args.model)
            report["describe"] = info
            report["topics"] = score_topics(stored, labels)
            for row in report["topics"]["rows"]:
                flag = " WRONG " + ",".join(row["wrong"]) if row["wrong"] else ""
                got, want = ", ".join(row["topics"]) or "(none)", ", ".join(row["expect"]) or "-"
                bad = ", ".join(row["unaccepted"]) or "-"
                print(f"  {row['clip']:28} {got:40} expect {want:20} unaccepted {bad}{flag}")
        users = sorted({str(t["user"]) for t in triples} | {f"user-{u:02d}" for u in range(1, 61)})
        lists, limits = rank_lists(home, users)
        content = limits["content"] if args.min_similarity is None else args.min_similarity
        model = limits["model"] if args.min_similarity_model is None else args.min_similarity_model
        report["reasons"] = score_reasons(lists, triples, content, model, limits["spaces"])
        report["lists"] = lists
        report["similar_by_rule"] = similar_by_rule(lists, labels, *_demo_facts())
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    report["uptime_after"] = _uptime()
    if "topics" in report:
        t = report["topics"]
        print(
            f"topics ({report['describe']['model']}, {t['clips']} clips, {report['describe']['seconds']}s): "
            f"precision {t['precision']:.1%} (lenient {t['precision_lenient']:.1%}), "
            f"recall {t['recall']:.1%}, "
            f"wrong-entry hits {t['wrong_hits']} on {t['clips_with_wrong']}, no topic: {t['silent_clips']}, "
            f"describe failures {report['describe']['failed_clips']}"
        )
    r = report["reasons"]
    print(
        f"reasons: {r['reasons_given']} given, {r['matched']} of {r['labelled_triples']} labelled triples "
        f"matched, {len(r['violations'])} violations (false reasons still given), "
        f"{len(r['below_threshold'])} 'because you watched' below threshold {r['thresholds']}"
    )
    rule = report["similar_by_rule"]
    print(f"'because you watched' judged by the labelling rule: {rule['false']} of {rule['given']} false")
    for v in r["violations"]:
        print("  violation:", v["key"], v["text"])
    print("uptime after:", report["uptime_after"])
    print("command:", report["command"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
