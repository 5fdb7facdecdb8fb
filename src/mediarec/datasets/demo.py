"""A small built-in catalogue with simulated viewers, so that ``mediarec demo`` needs no files.

Items are grouped by topic; each simulated user has one or two favourite topics and watches
mostly those (long watch fractions, likes, shares), with some random sampling elsewhere (short
views, skips). Everything is drawn from one seeded generator, so the demo is reproducible and
tests can check that recommendations follow the planted tastes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mediarec.datasets.base import Row
from mediarec.records import EventRecord, ItemRecord

FORMAT = "demo"

TOPICS: dict[str, tuple[str, list[str]]] = {
    "cooking": (
        "Kitchen Notes",
        [
            "Fresh pasta from scratch",
            "Five-minute tomato sauce",
            "Sourdough for beginners",
            "Knife skills: dicing an onion",
            "Perfect risotto, step by step",
            "Street tacos at home",
            "Weeknight curry in one pan",
            "Baking crusty baguettes",
            "Homemade ramen broth",
            "Fluffy pancakes",
        ],
    ),
    "football": (
        "Touchline TV",
        [
            "Pressing traps explained",
            "Set pieces that win matches",
            "Goalkeeper footwork drills",
            "The false nine, a history",
            "Derby day highlights",
            "Counter-attacks in three passes",
            "Youth academy training day",
            "Tactics board: the 4-3-3",
            "Penalty shoot-out psychology",
            "Fitness for footballers",
        ],
    ),
    "programming": (
        "Code Cabin",
        [
            "Python generators in ten minutes",
            "Understanding Git rebase",
            "SQL joins visualised",
            "Writing your first unit test",
            "Big-O without the maths",
            "Debugging with breakpoints",
            "Rust ownership explained",
            "Building a REST API",
            "Regular expressions demystified",
            "Docker in fifteen minutes",
        ],
    ),
    "travel": (
        "Wander Log",
        [
            "Lisbon in 48 hours",
            "Night trains across Europe",
            "Packing light for a month",
            "Kyoto temples at dawn",
            "Hiking the Scottish Highlands",
            "Street food tour of Hanoi",
            "Budget travel in Patagonia",
            "Island hopping in Greece",
            "Road trip through Norway",
            "Markets of Marrakech",
        ],
    ),
    "music": (
        "Practice Room",
        [
            "Jazz chords on piano",
            "Home recording basics",
            "How a synthesiser works",
            "Rhythm exercises for drummers",
            "Writing a chorus that sticks",
            "Live session: acoustic set",
            "Ear training for beginners",
            "Mixing vocals at home",
            "Blues guitar licks",
            "The story of the string quartet",
        ],
    ),
    "science": (
        "Lab Bench",
        [
            "Why the sky is blue",
            "How vaccines train immunity",
            "Black holes in plain words",
            "The chemistry of baking soda",
            "Plate tectonics explained",
            "Quantum tunnelling for everyone",
            "How batteries store energy",
            "The life of a star",
            "DNA in five minutes",
            "Why ice floats",
        ],
    ),
    "gardening": (
        "Green Plot",
        [
            "Raised beds on a budget",
            "Composting without smells",
            "Growing tomatoes in pots",
            "Pruning fruit trees",
            "A pollinator-friendly border",
            "Saving seeds for next year",
            "Herbs on a windowsill",
            "Planting spring bulbs",
            "Natural pest control",
            "Designing a small garden",
        ],
    ),
    "fitness": (
        "Move Daily",
        [
            "Ten-minute morning mobility",
            "Bodyweight strength circuit",
            "Running form fundamentals",
            "Stretching after desk work",
            "Kettlebell swing technique",
            "Yoga for better sleep",
            "Interval training on a bike",
            "Core strength without crunches",
            "Couch to 5k, week one",
            "Balance drills for runners",
        ],
    ),
}

_AUDIO_TOPICS = {"music"}  # these come as audio episodes, the rest as video


@dataclass(frozen=True)
class DemoOptions:
    users: int = 60  # simulated viewers
    events_per_user: int = 10  # views drawn per user (likes, shares and skips come on top)
    taste_share: float = 0.85  # share of a user's views that fall in their favourite topics
    seed: int = 7
    start_time: float = 1_735_689_600.0  # 2025-01-01 UTC; events spread over 60 days after it


def items() -> list[ItemRecord]:
    out = []
    for topic, (creator, titles) in TOPICS.items():
        for k, title in enumerate(titles):
            out.append(
                ItemRecord(
                    external_id=f"{topic}-{k + 1}",
                    title=title,
                    kind="audio" if topic in _AUDIO_TOPICS else "video",
                    duration=float(180 + 60 * ((k * 7 + len(topic)) % 9)),
                    creator=creator,
                    metadata={"topic": topic, "tags": [topic]},
                )
            )
    return out


def user_tastes(options: DemoOptions | None = None) -> dict[str, list[str]]:
    """The favourite topics planted in each simulated user (the demo's ground truth)."""
    o = options or DemoOptions()
    rng = np.random.default_rng(o.seed)
    names = list(TOPICS)
    tastes = {}
    for u in range(o.users):
        k = 1 if rng.random() < 0.5 else 2
        tastes[f"user-{u + 1:02d}"] = [names[i] for i in rng.choice(len(names), size=k, replace=False)]
    return tastes


def events(options: DemoOptions | None = None) -> list[EventRecord]:
    o = options or DemoOptions()
    rng = np.random.default_rng(o.seed + 1)
    catalogue = items()
    by_topic: dict[str, list[ItemRecord]] = {}
    for it in catalogue:
        by_topic.setdefault(str(it.metadata["topic"]), []).append(it)
    out: list[EventRecord] = []
    for user, favourites in user_tastes(o).items():
        t = o.start_time + rng.random() * 86400 * 10
        for _ in range(o.events_per_user):
            t += rng.exponential(86400 * 2)
            liked = rng.random() < o.taste_share
            pool = by_topic[str(rng.choice(favourites))] if liked else catalogue
            item = pool[int(rng.integers(len(pool)))]
            in_taste = item.metadata["topic"] in favourites
            if not in_taste and rng.random() < 0.5:
                out.append(EventRecord(user, item.external_id, "skip", None, round(t, 3)))
                continue
            fraction = float(np.clip(rng.normal(0.85 if in_taste else 0.25, 0.12), 0.02, 1.0))
            out.append(EventRecord(user, item.external_id, "view", round(fraction, 3), round(t, 3)))
            if in_taste and rng.random() < 0.35:
                out.append(EventRecord(user, item.external_id, "like", None, round(t + 1, 3)))
            if in_taste and rng.random() < 0.08:
                out.append(EventRecord(user, item.external_id, "share", None, round(t + 2, 3)))
    return out


def rows(options: DemoOptions | None = None) -> Iterator[Row]:
    for line, item in enumerate(items(), start=1):
        yield Row(source="demo-catalogue", line=line, record=item)
    for line, event in enumerate(events(options), start=1):
        yield Row(source="demo-events", line=line, record=event)
