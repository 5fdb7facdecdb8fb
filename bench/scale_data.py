"""Synthetic catalogue and behaviour for the scale benchmark (bench/bench_scale.py).

Items: titles, creators (Zipf: a few prolific ones), 3 tags drawn around a topic, kinds, durations,
upload times over two years (some within the fresh window) and a 384-d unit vector near its topic's
centre. Events: users with one or two favourite topics and Zipf item popularity inside a topic, in a
few sessions each of consecutive views (gaps from the watched time), watch fractions from a beta
distribution, likes after most of a view, skips after little of it. Everything is seeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mediarec.datasets.base import Row
from mediarec.records import EventRecord, ItemRecord

DAY = 86400.0
NOW = 1_780_000_000.0  # a fixed "now" (2026-05): runs are reproducible
WORDS = [
    "river",
    "night",
    "city",
    "signal",
    "garden",
    "winter",
    "machine",
    "silver",
    "echo",
    "harbour",
    "desert",
    "forest",
    "lantern",
    "orbit",
    "paper",
    "glass",
    "motor",
    "violet",
    "thunder",
    "quiet",
    "north",
    "ember",
    "canyon",
    "pixel",
    "atlas",
    "meadow",
    "static",
    "velvet",
]


@dataclass(frozen=True)
class Catalogue:
    topic: np.ndarray  # int per item
    by_topic: list[np.ndarray]  # item positions per topic, most popular first
    created: np.ndarray
    duration: np.ndarray
    vectors_seed: int
    dim: int
    topics: int


def item_id(k: int) -> str:
    return f"it{k}"


def user_id(k: int) -> str:
    return f"u{k}"


def catalogue(n_items: int, seed: int = 7, dim: int = 384) -> Catalogue:
    rng = np.random.default_rng(seed)
    topics = max(8, min(2000, n_items // 200))
    topic = rng.integers(0, topics, n_items)
    by_topic = [rng.permutation(np.flatnonzero(topic == t)) for t in range(topics)]
    # 3% of the catalogue uploaded within the last 30 days, the rest over two years.
    age = np.where(rng.random(n_items) < 0.03, rng.uniform(0, 30, n_items), rng.uniform(30, 730, n_items))
    duration = np.clip(rng.lognormal(6.0, 0.9, n_items), 20, 4 * 3600)
    return Catalogue(topic, by_topic, NOW - age * DAY, duration, seed + 1, dim, topics)


def item_rows(cat: Catalogue, seed: int = 11) -> Iterator[Row]:
    rng = np.random.default_rng(seed)
    n = len(cat.topic)
    creators = max(1, n // 40)
    creator = np.minimum((rng.pareto(1.2, n) * creators / 20).astype(np.int64), creators - 1)
    words = rng.integers(0, len(WORDS), (n, 3))
    kinds = np.where(rng.random(n) < 0.7, "video", "audio")
    for k in range(n):
        t = int(cat.topic[k])
        tags = [f"topic{t}", f"topic{(t * 7 + int(words[k, 0])) % cat.topics}", WORDS[int(words[k, 1])]]
        record = ItemRecord(
            item_id(k),
            title=" ".join(WORDS[int(w)] for w in words[k]).title() + f" {k}",
            kind=str(kinds[k]),
            duration=float(round(cat.duration[k], 1)),
            creator=f"creator{int(creator[k])}",
            metadata={"tags": tags, "created": float(cat.created[k])},
        )
        yield Row("synthetic-items", k + 1, record)


def vectors(cat: Catalogue, start: int, stop: int) -> np.ndarray:
    """Unit vectors of items ``start..stop-1`` (topic centre + noise), reproducible by range."""
    centres = (
        np.random.default_rng(cat.vectors_seed).standard_normal((cat.topics, cat.dim)).astype(np.float32)
    )
    noise = np.random.default_rng(cat.vectors_seed + start).standard_normal((stop - start, cat.dim))
    v = centres[cat.topic[start:stop]] + 1.2 * noise.astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _event_users(rng: np.random.Generator, n_users: int, n_events: int) -> np.ndarray:
    """Each event's user, sorted: the generator's first draws (a long tail of light users)."""
    activity = rng.lognormal(0.0, 1.0, n_users)
    return np.sort(rng.choice(n_users, n_events, p=activity / activity.sum()))


def active_users(n_users: int, n_events: int, seed: int = 13) -> np.ndarray:
    """The users with an event in :func:`event_arrays` (same seed), sorted, without generating the
    events, which only an import needs (at 21 M events, columns of ~1 GB and a peak of several GB
    while they are made)."""
    return np.unique(_event_users(np.random.default_rng(seed), n_users, n_events))


def event_arrays(cat: Catalogue, n_users: int, n_events: int, seed: int = 13) -> dict[str, np.ndarray]:
    """Events as columns sorted by (user, time): user, item, type, value, ts."""
    rng = np.random.default_rng(seed)
    user = _event_users(rng, n_users, n_events)
    taste = rng.integers(0, cat.topics, (n_users, 2))
    own = rng.random(n_events) < 0.75
    second = rng.random(n_events) < 0.3
    topic_of = np.where(second, taste[user, 1], taste[user, 0])
    sizes = np.asarray([len(b) for b in cat.by_topic])
    # Topics weighted by size for the off-taste events (so that popular topics are popular).
    random_topic = rng.choice(cat.topics, n_events, p=sizes / sizes.sum())
    topic_of = np.where(own, topic_of, random_topic)
    empty = sizes[topic_of] == 0
    topic_of[empty] = int(np.argmax(sizes))
    # Zipf (s = 1) inside the topic: rank = floor((size + 1) ** u) - 1 is log-uniform.
    u = rng.random(n_events)
    rank = np.minimum(np.floor((sizes[topic_of] + 1.0) ** u).astype(np.int64) - 1, sizes[topic_of] - 1)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    flat = np.concatenate(cat.by_topic)
    item = flat[starts[topic_of] + rank]
    # Sessions: each user's events split over 1-5 sessions in the last 90 days, views back to back.
    sessions = 1 + rng.integers(0, 5, n_users)
    session = rng.integers(0, sessions[user])
    session_start = NOW - rng.uniform(0, 90 * DAY, (n_users, 5))
    order = np.lexsort((session, user))
    user, item, session = user[order], item[order], session[order]
    fraction = np.clip(rng.beta(1.3, 0.9, n_events), 0.01, 1.0)
    watched = fraction * cat.duration[item]
    # Time within a session: cumulative watched time of the earlier events of the same session.
    key = user.astype(np.int64) * 5 + session
    new_group = np.ones(n_events, dtype=bool)
    new_group[1:] = key[1:] != key[:-1]
    csum = np.cumsum(watched + 5.0)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n_events), 0))
    offset = csum - csum[group_start]
    ts = np.minimum(session_start[user, session] + offset, NOW)
    kind = np.where(fraction < 0.1, "skip", "view")
    like = (fraction > 0.7) & (rng.random(n_events) < 0.15)
    return {"user": user, "item": item, "type": kind, "value": fraction, "ts": ts, "like": like}


def event_rows(ev: dict[str, np.ndarray]) -> Iterator[Row]:
    line = 0
    users, items, types, values, times, likes = (
        ev["user"].tolist(),
        ev["item"].tolist(),
        ev["type"].tolist(),
        ev["value"].tolist(),
        ev["ts"].tolist(),
        ev["like"].tolist(),
    )
    for u, i, t, v, ts, like in zip(users, items, types, values, times, likes, strict=True):
        line += 1
        value = round(v, 3) if t == "view" else None
        yield Row("synthetic-events", line, EventRecord(user_id(u), item_id(i), t, value, float(ts)))
        if like:
            line += 1
            yield Row(
                "synthetic-events", line, EventRecord(user_id(u), item_id(i), "like", None, float(ts) + 1)
            )
