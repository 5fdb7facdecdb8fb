"""A demo catalogue with events, ALS trained on it, plus test data for content features.

Content vectors are written as the ``text`` extractor's output: a one-hot of the item's topic with a
little noise, so that neighbours in content space share a topic. LLM payloads follow the format the
``llm`` stage stores (tags with evidence, topics, moments).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.llm.backends import LLMBackend

TOPICS = sorted({str(i.metadata["topic"]) for i in demo.items()})


def topic_of(item_id: str) -> str:
    return item_id.rsplit("-", 1)[0]


def content_vector(topic: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.zeros(len(TOPICS) + 4, dtype=np.float32)
    v[TOPICS.index(topic)] = 1.0
    v += rng.normal(0, 0.05, len(v)).astype(np.float32)
    return v


def llm_payload(item_id: str, title: str) -> dict[str, object]:
    topic = topic_of(item_id)
    return {
        "description": f"{title}.",
        "tags": [
            {
                "tag": f"{topic} tips",
                "evidence": [{"id": "S2", "kind": "S", "text": f"today: {topic} tips", "start": 12.5}],
            },
            {"tag": "beginner", "evidence": [{"id": "M1", "kind": "M", "text": title}]},
        ],
        "topics": [topic],
        "moments": [{"segment": "S2", "start": 12.5, "end": 20.0, "label": f"the {topic} tip"}],
    }


def make_engine(home: Path, *, features: bool = True, llm: LLMBackend | None = None) -> MediaRec:
    engine = MediaRec(home, llm=llm)
    load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
    if features:
        for k, item in enumerate(demo.items()):
            engine.store.add_feature(
                item.external_id, "text", "test/1", vector=content_vector(topic_of(item.external_id), k)
            )
            engine.store.add_feature(
                item.external_id, "llm", "test/1", payload=llm_payload(item.external_id, item.title)
            )
    engine.train("als", factors=16, seed=3)
    return engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaRec]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MEDIAREC_SEED", "MEDIAREC_DEFAULT_MODEL", "MEDIAREC_STORE_URL"):
            mp.delenv(var, raising=False)
        e = make_engine(tmp_path_factory.mktemp("rank") / "home")
    with e:
        yield e
