"""The check every explanation must pass: its evidence exists in the store."""

from __future__ import annotations

from typing import Any

from mediarec.rank import RankOptions
from mediarec.store import Store

KINDS = {
    "similar_to_seen",
    "interest_tag",
    "moment",
    "collaborative",
    "trending",
    "new",
    "popular",
    "explore",
}


def check_reason(store: Store, user: str, item_id: str, reason: dict[str, Any]) -> None:
    kind, ev = reason["kind"], reason["evidence"]
    assert kind in KINDS and reason["text"] and ev, reason
    seen = store.seen_items(user)
    if kind == "similar_to_seen":
        anchor = store.get_item(ev["item_id"])
        assert anchor is not None and ev["item_id"] in seen and ev["title"] == anchor.title
        # Its condition: the similarity reaches the threshold of its space (RankOptions defaults).
        o = RankOptions()
        content = ev["space"] in ("fused", "text")
        assert ev["similarity"] >= (o.reason_min_similarity if content else o.reason_min_similarity_model)
    elif kind == "interest_tag":
        found = store.latest_feature(item_id, "llm")
        item = store.get_item(item_id)
        assert item is not None
        if ev["source"] == "llm":
            assert found is not None
            tags = {t["tag"]: t["evidence"] for t in found[1]["tags"]}
            assert ev["tag"] in tags and ev["item_evidence"] == tags[ev["tag"]]
        else:
            meta_tags = [str(t).lower() for t in item.metadata.get("tags", [])]
            meta_tags += [str(item.metadata.get("topic", "")).lower()]
            meta_tags += [str(g).lower() for g in item.metadata.get("genres", [])]
            assert ev["tag"] in meta_tags
        assert ev["from_items"] and all(f["item_id"] in seen for f in ev["from_items"])
    elif kind == "moment":
        found = store.latest_feature(item_id, "llm")
        assert found is not None
        assert any(m["start"] == ev["start"] and m["segment"] == ev["segment"] for m in found[1]["moments"])
    elif kind in ("new", "explore"):
        item = store.get_item(item_id)
        assert item is not None and abs(item.created - ev["created"]) < 1e-6
    elif kind in ("trending", "popular"):
        assert ev["viewers"] > 0
    elif kind == "collaborative":
        assert ev["model"] and ev["coviewers"] >= 2
