"""Generated taste profiles state only facts: 20 demo users' profiles from the real fast LLM, checked.

On a copy of a demo home (never modified), for a seeded sample of ``--users`` of the 60 simulated
viewers: build the profile prompt, ask the local LLM (``--model``, default fast) for the JSON with
the same grammar and retry rule as ``mediarec profile --regenerate``, then count

- the sentences the model wrote and how many of them the facts check (users/claims.py) dropped,
  by reason (unsupported skip / like / watch ... claim, repeated, unfinished);
- in the stored text: sentences the check would still reject (must be 0), sentences that do not
  end cleanly, repeated sentences, and "skip" claims for users with no skip event, checked here
  against the store's events directly, independently of the checker.

    flock /tmp/mediarec-heavy.lock env MEDIAREC_KIT_DIR=$PWD/.kit \\
        .venv/bin/python bench/bench_profiles.py --home /work/demo-home --users 20
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from mediarec.engine import MediaRec, llm_url
from mediarec.llm.backends import CompletionOptions, LLMOutputError, backend_from_url
from mediarec.llm.structured import generate
from mediarec.users import load_history
from mediarec.users.claims import check_claims
from mediarec.users.profile import ProfileOptions, build_prompt, profile_problems, repair_profile

_END = re.compile(r"[.!?][\"')\]]*$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="a demo data home (copied, never changed)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--model", default="fast")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save", type=Path, help="write the model's answers here (JSON)")
    parser.add_argument(
        "--replay", type=Path, help="check the answers saved by --save instead of asking the LLM (light)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-profiles-"))
    shutil.copytree(args.home, work / "home", ignore=shutil.ignore_patterns("*.lock"))
    engine = MediaRec(work / "home")
    replay = json.loads(args.replay.read_text()) if args.replay else None
    backend = None if replay else backend_from_url(llm_url(args.model), engine.settings)
    model_id = replay["model"] if replay else backend.model_id  # type: ignore[union-attr]
    answers: dict[str, object] = {}
    o = ProfileOptions()
    users = sorted(set(engine.store.event_columns().users.tolist()))
    sample = sorted(random.Random(args.seed).sample(users, min(args.users, len(users))))
    dropped: Counter[str] = Counter()
    written = kept = left_unsupported = unclean = repeats = false_skips = failed = 0
    seconds = 0.0
    for user in sample:
        history = load_history(engine.store, user, o.history)
        prompt = build_prompt(history, o)
        t0 = time.perf_counter()
        try:
            if replay is not None:
                value = replay["answers"][user]
                if value is None:
                    raise LLMOutputError(["no usable answer in the recorded run"], "")
            else:
                value = generate(
                    backend,  # type: ignore[arg-type]
                    prompt.messages,
                    prompt.schema,
                    validate=lambda obj, p=prompt: profile_problems(obj, p),  # type: ignore[misc]
                    retries=o.retries,
                    options=CompletionOptions(max_tokens=o.max_tokens, schema_name="taste_profile"),
                ).value
        except LLMOutputError as exc:
            failed += 1
            answers[user] = None
            print(f"{user}: no usable answer: {exc}")
            continue
        finally:
            seconds += time.perf_counter() - t0
        answers[user] = value
        raw = str(value.get("profile") or "")
        interests = [i.tag for i in prompt.allowed]
        before = check_claims(raw, prompt.history or history, interests)
        # Sentences as the model wrote them, and why the check dropped each one it dropped.
        written += len(before.claims)
        for claim in before.unsupported:
            dropped[claim.why.split(":")[0]] += 1
        value, _ = repair_profile(value, prompt)
        text = value["profile"]
        final = check_claims(text, prompt.history or history, interests)
        kept += len(final.claims)
        left_unsupported += len(final.unsupported)
        sentences = [c.sentence for c in final.claims]
        unclean += sum(not _END.search(s) for s in sentences)
        repeats += len(sentences) - len({s.lower() for s in sentences})
        skipped = any(ev.type == "skip" for ev in engine.store.user_events(user))
        false_skips += sum(bool(re.search(r"\bskip", s, re.I)) and not skipped for s in sentences)
        print(f"{user}: {raw!r}\n   -> {text!r}")
    if args.save:
        args.save.write_text(json.dumps({"model": model_id, "answers": answers}, indent=1))
    print(f"\n{len(sample)} profiles by {model_id} in {seconds:.0f}s ({seconds / len(sample):.1f}s each)")
    print(f"sentences the model wrote: {written}; dropped by the facts check: {sum(dropped.values())}")
    for why, count in dropped.most_common():
        print(f"  {count:3d}  {why}")
    print(
        f"stored text: {kept} sentences; unsupported claims left: {left_unsupported}; unfinished: {unclean}; "
        f"repeated: {repeats}; 'skip' claims for users without skips: {false_skips}; "
        f"users with no usable answer: {failed}"
    )
    engine.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0 if left_unsupported == unclean == repeats == false_skips == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
