"""The describe stage over a real store with fake LLMs: storing, skipping, caching, failures, and
map-reduce over a long transcript."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mediarec.llm.backends import CompletionOptions, LLMBackend, Usage
from mediarec.llm.cache import ResultCache
from mediarec.llm.describe import EXTRACTOR, describe_items, stored_evidence
from mediarec.llm.items import PROMPT_VERSION, STORED_ITEM_SCHEMA
from mediarec.llm.longform import PART_SCHEMA, part_ranges
from mediarec.llm.structured import schema_errors
from mediarec.records import ItemRecord
from mediarec.store import Store
from tests.llm.hostile import COOKING
from tests.llm.test_items import GOOD, FakeBackend


def _store(tmp_path: Path, items: dict[str, list[str]], seg_seconds: float = 5.0) -> Store:
    store = Store(tmp_path / "mediarec.db")
    store.upsert_items(
        [ItemRecord(external_id=k, title="Fresh pasta", metadata={"tags": ["cooking"]}) for k in items]
    )
    for item, segments in items.items():
        duration = seg_seconds * len(segments)
        segs = [
            {"start": seg_seconds * i, "end": seg_seconds * i + seg_seconds - 0.5, "text": t}
            for i, t in enumerate(segments)
        ]
        store.add_feature(item, "probe", "p1", {"duration": duration})
        store.add_feature(item, "speech", "w1", {"language": "en", "segments": segs})
        store.add_feature(item, "audio", "a1", {"tags": [{"name": "Speech", "score": 0.9}]})
    return store


def test_describe_stores_a_grounded_result_then_skips_it_while_current(tmp_path: Path) -> None:
    store = _store(tmp_path, {"pasta": list(COOKING)})
    fake = FakeBackend([GOOD])
    with ResultCache(tmp_path / "llm") as cache:
        summary = describe_items(store, fake, cache=cache)
        assert [o.status for o in summary.outcomes] == ["described"]
        assert summary.outcomes[0].tags == [*(t["tag"] for t in GOOD["tags"]), "cooking"]  # + the topic
        version, payload, _ = store.latest_feature("pasta", EXTRACTOR) or ("", {}, None)
        assert version.startswith(f"fake/1|{PROMPT_VERSION}|in=")
        assert payload["description"] == GOOD["description"]
        dough = next(t for t in payload["tags"] if t["tag"] == "dough")
        assert dough["evidence"][0]["text"] == COOKING[1] and dough["evidence"][0]["start"] == 5.0
        assert payload["moments"][0]["start"] == 5.0 and payload["moments"][0]["end"] <= 15.0
        # Unchanged evidence, model and prompt: nothing runs (the fake has no answers left).
        again = describe_items(store, fake, cache=cache)
        assert [o.status for o in again.outcomes] == ["current"]
        # A new transcript makes the item run again; the same answer comes back grounded on it.
        changed = [*COOKING[:2], COOKING[2] + " Serve with butter."]
        store.add_feature(
            "pasta",
            "speech",
            "w2",
            {
                "language": "en",
                "segments": [
                    {"start": 5.0 * i, "end": 5.0 * i + 4.5, "text": t} for i, t in enumerate(changed)
                ],
            },
        )
        fake.answers = [GOOD]
        assert [o.status for o in describe_items(store, fake, cache=cache).outcomes] == ["described"]
        assert len(store.feature_versions("pasta", EXTRACTOR)) == 2
    # A fresh store with the same evidence resumes from the cache without asking the model.
    other = _store(tmp_path / "other", {"pasta": list(changed)})
    with ResultCache(tmp_path / "llm") as cache:
        assert [o.status for o in describe_items(other, FakeBackend([]), cache=cache).outcomes] == ["cached"]


def test_a_failed_item_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    store = _store(tmp_path, {"bad": list(COOKING), "good": list(COOKING)})
    store.add_feature("bad", EXTRACTOR, "older", {"description": "kept", "tags": []})
    ungrounded = {
        **GOOD,
        "tags": [{"tag": t, "evidence": ["S1"]} for t in ("casino", "poker", "dice", "chips", "roulette")],
    }
    fake = FakeBackend([ungrounded, ungrounded, GOOD])
    summary = describe_items(store, fake)
    assert [(o.item_id, o.status) for o in summary.outcomes] == [("bad", "failed"), ("good", "described")]
    assert "grounded tags" in (summary.outcomes[0].error or "")
    assert store.latest_feature("bad", EXTRACTOR)[1]["description"] == "kept"  # type: ignore[index]
    run = store.conn.execute("SELECT id, status, counts FROM import_runs WHERE format='describe'").fetchone()
    assert run[1] == "done" and '"failed": 1' in run[2]
    errors = store.import_errors(run[0])
    assert [e.source for e in errors] == ["bad"] and "grounded tags" in errors[0].reason


def test_unknown_items_fail_without_stopping(tmp_path: Path) -> None:
    store = _store(tmp_path, {"pasta": list(COOKING)})
    summary = describe_items(store, FakeBackend([GOOD]), items=["nope", "pasta"])
    assert [o.status for o in summary.outcomes] == ["failed", "described"]


# --- long content: map over parts, then reduce --------------------------------------------

TOPICS = ("pasta", "football", "garden", "piano")
_LINE = re.compile(r"^(S\d+) \[([\d.]+)s-([\d.]+)s\]: (\w+) (\w+)", re.M)


class FakeReadingBackend(LLMBackend):
    """A fake LLM that answers from the segments it is shown (as a model would), so the test can
    follow which segments reach which call."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (schema kind, user message)

    @property
    def model_id(self) -> str:
        return "fake-reader/1"

    def complete_json(
        self, messages: list[Any], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        user = messages[-1]["content"]
        lines = _LINE.findall(user)
        kind = "part" if schema is PART_SCHEMA else "item"
        self.calls.append((kind, user))
        first = lines[0]
        moment = {"segment": first[0], "start": float(first[1]), "end": float(first[2]), "label": "start"}
        if kind == "part":
            keywords = [{"tag": first[3], "evidence": [first[0]]}, {"tag": first[4], "evidence": [first[0]]}]
            return {"summary": f"about {first[3]}", "keywords": keywords, "moments": [moment]}, Usage(
                5, 9, 0.1
            )
        words: dict[str, str] = {}
        for sid, _, _, a, b in lines:
            words.setdefault(a, sid)
            words.setdefault(b, sid)
        tags = [{"tag": w, "evidence": [sid]} for w, sid in list(words.items())[:8]]
        value = {
            "description": f"A long talk about {first[3]} and more.",
            "tags": tags,
            "topics": [{"topic": "education", "evidence": [first[0]]}],
            "language": "en",
            "moments": [moment],
        }
        # The item grammar limits tags to the words of the evidence shown in this call.
        pattern = schema["properties"]["tags"]["items"]["properties"]["tag"]["pattern"]
        assert all(re.search(pattern, t["tag"]) for t in tags) and not re.search(pattern, "casino")
        return value, Usage(5, 30, 0.1)


def test_long_transcripts_go_through_parts_and_keep_their_segment_ids(tmp_path: Path) -> None:
    nouns = ("dough", "pressing", "compost", "chords")
    segments = [f"{TOPICS[i * 4 // 130]} {nouns[i * 4 // 130]} step {i}" for i in range(130)]
    store = _store(tmp_path, {"talk": segments}, seg_seconds=30.0)
    fake = FakeReadingBackend()
    summary = describe_items(store, fake)
    outcome = summary.outcomes[0]
    assert outcome.status == "described", outcome.error
    assert outcome.parts == len(part_ranges(130, 40)) == 4
    assert [k for k, _ in fake.calls] == ["part"] * 4 + ["item"]
    # Each part saw only its own segments, numbered as in the whole transcript.
    part_ids = [sorted(int(s[1:]) for s, *_ in _LINE.findall(u)) for _, u in fake.calls[:4]]
    assert part_ids[0][0] == 1 and part_ids[1][0] == 34 and part_ids[-1][-1] == 130
    final = fake.calls[-1][1]
    assert "part 1 (0-" in final and "about pasta" in final.lower() and "about piano" in final.lower()
    payload = store.latest_feature("talk", EXTRACTOR)[1]  # type: ignore[index]
    tags = {t["tag"] for t in payload["tags"]}
    assert set(TOPICS) <= tags, "every part's subject reaches the final tags"
    moment = payload["moments"][0]
    assert (moment["start"], moment["end"]) == (0.0, 29.5) and payload["parts"] == 4
    assert schema_errors(payload, STORED_ITEM_SCHEMA) == []


def test_stored_evidence_prefers_the_probed_duration(tmp_path: Path) -> None:
    store = _store(tmp_path, {"pasta": list(COOKING)})
    store.upsert_items([ItemRecord(external_id="pasta", title="Fresh pasta", duration=600.0)])
    _, ev = stored_evidence(store, "pasta")
    assert ev.duration == 15.0
