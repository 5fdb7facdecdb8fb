"""LLM speed: mediarec's local backend against raw llama.cpp on the same prompt, both kit models.

For each model and each prompt (the item-understanding prompt of demo clips), alternating runs of:

* **raw**: llama-cpp-python's ``create_chat_completion`` with the grammar llama.cpp makes from the
  same JSON schema, greedy — what a user of llama.cpp alone would run;
* **mediarec**: ``LlamaCppBackend.complete_json`` with the schema and options ``understand_item``
  uses (tags limited to the evidence's words, greedy first-token grammar check, distinct-tag, repeat
  and avoided-word penalties);
* **item**: the whole ``understand_item`` (decode, schema, repair, grounding, retry if needed).

The answers may differ in length (the penalties change them), so the overhead is compared per
generated token: seconds/token of mediarec ÷ seconds/token of raw − 1 (prompt evaluation included in
both, the same prompt). Seconds per item and tokens/s are printed for each.

    MEDIAREC_KIT_DIR=.kit .venv/bin/python bench/bench_llm.py --demo-home DATA_HOME [--items 2]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from mediarec.engine import MediaRec
from mediarec.kit import model_file
from mediarec.llm.backends import LLMOutputError
from mediarec.llm.describe import stored_evidence
from mediarec.llm.items import build_messages, decoding_schema, item_options, understand_item
from mediarec.llm.local import LlamaCppBackend
from mediarec.llm.scrub import as_data
from mediarec.llm.topics import TOPICS_SHOWN, TopicRanker
from mediarec.understand.text import MiniLM


def _raw(llm: Any, grammar: Any, messages: list[dict[str, str]]) -> tuple[int, float]:
    started = time.perf_counter()
    out = llm.create_chat_completion(
        messages=messages, grammar=grammar, temperature=0.0, max_tokens=700, seed=42
    )
    return int(out["usage"]["completion_tokens"]), time.perf_counter() - started


def bench_model(
    name: str, engine: MediaRec, items: list[str], repeats: int, ranker: TopicRanker
) -> dict[str, Any]:
    from llama_cpp import Llama, LlamaGrammar

    path = model_file(name, engine.home, engine.settings)
    threads = engine.settings.llm_threads or engine.settings.threads or None
    ours = LlamaCppBackend(path, n_ctx=4096, n_threads=threads, model_id=name)
    raw = Llama(model_path=str(path), n_ctx=4096, n_threads=ours.n_threads, verbose=False)
    runs: dict[str, list[tuple[int, float]]] = {"raw": [], "mediarec": [], "item": []}
    failed: list[str] = []
    for item in items:
        _, ev = stored_evidence(engine.store, item)
        # The prompt describe sends: the topic list ranked for the item by MiniLM similarity.
        topics = ranker.rank(ev)[:TOPICS_SHOWN]
        messages = build_messages(ev, as_data, topics)
        # The schema understand_item decodes with: tags limited to the words of this item's evidence.
        schema = decoding_schema(ev)
        grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
        for _ in range(repeats):
            runs["raw"].append(_raw(raw, grammar, messages))
            started = time.perf_counter()
            _, usage = ours.complete_json(messages, schema, item_options(ev))
            runs["mediarec"].append((usage.completion_tokens, time.perf_counter() - started))
            started = time.perf_counter()
            try:
                result = understand_item(ours, ev, topics=topics)
            except LLMOutputError as exc:  # no valid answer: timed, listed, and the bench goes on
                failed.append(f"{item}: {str(exc)[:200]}")
                runs["item"].append((0, time.perf_counter() - started))
            else:
                runs["item"].append((result.completion_tokens, time.perf_counter() - started))
            print(name, item, {k: v[-1] for k, v in runs.items()}, flush=True)
    out: dict[str, Any] = {"model": name, "items": items, "repeats": repeats, "item_failed": failed}
    for kind, rows in runs.items():
        tokens = sum(t for t, _ in rows)
        seconds = sum(s for _, s in rows)
        out[kind] = {
            "seconds_per_call": statistics.mean(s for _, s in rows),
            "tokens_per_call": tokens / len(rows),
            "tokens_per_second": tokens / seconds,
            "seconds_per_token": seconds / max(tokens, 1),
        }
    out["overhead_per_token"] = out["mediarec"]["seconds_per_token"] / out["raw"]["seconds_per_token"] - 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demo-home", type=Path, required=True, help="data home with the demo media ingested")
    ap.add_argument("--items", nargs="*", default=["cooking-1", "football-2"])
    ap.add_argument("--models", nargs="*", default=["qwen-0.5b", "qwen-1.5b"])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    engine = MediaRec(args.demo_home)
    ranker = TopicRanker(MiniLM.from_settings(engine.settings).encode)
    report: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "models": [bench_model(m, engine, args.items, args.repeats, ranker) for m in args.models],
    }
    for r in report["models"]:
        print(
            f"{r['model']}: raw {r['raw']['tokens_per_second']:.2f} tok/s "
            f"({r['raw']['seconds_per_call']:.1f} s/call), mediarec {r['mediarec']['tokens_per_second']:.2f} "
            f"tok/s ({r['mediarec']['seconds_per_call']:.1f} s/call), overhead per token "
            f"{100 * r['overhead_per_token']:+.1f}%; full item {r['item']['seconds_per_call']:.1f} s"
        )
    print("command:", report["command"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
