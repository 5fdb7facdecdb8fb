"""Typed records that cross stage boundaries: catalogue items, behaviour events, rejected rows."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mediarec import limits

ITEM_KINDS = ("video", "audio")
EVENT_TYPES = ("view", "like", "skip", "share", "comment", "rating")


class RecordError(ValueError):
    """A row that cannot become a record; the message is shown to the user next to the line number."""


@dataclass(frozen=True)
class ItemRecord:
    """One catalogue entry as an importer or the API describes it."""

    external_id: str
    title: str = ""
    kind: str = "video"
    duration: float | None = None  # seconds
    uri: str | None = None  # file path or URL of the media
    creator: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.external_id or not str(self.external_id).strip():
            raise RecordError("item id is empty")
        if self.kind not in ITEM_KINDS:
            raise RecordError(f"item kind must be one of {', '.join(ITEM_KINDS)}, got {self.kind!r}")
        if self.duration is not None and (not math.isfinite(self.duration) or self.duration < 0):
            raise RecordError(f"duration must be a non-negative number of seconds, got {self.duration!r}")
        try:
            limits.check_text(self.external_id, "item id", limits.MAX_ID_CHARS)
            limits.check_text(self.title, "title", limits.MAX_TITLE_CHARS)
            limits.check_text(self.uri, "uri", limits.MAX_URI_CHARS)
            limits.check_text(self.creator, "creator", limits.MAX_CREATOR_CHARS)
            limits.check_metadata(self.metadata)
        except limits.LimitError as exc:
            raise RecordError(str(exc)) from None


def stored_item(**fields: Any) -> ItemRecord:
    """An item read back from the store, built without the input checks: the limits apply at the
    door, and a home written before a limit existed must still load."""
    record = object.__new__(ItemRecord)
    for f in dataclasses.fields(ItemRecord):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        object.__setattr__(record, f.name, fields.get(f.name, default))
    return record


@dataclass(frozen=True)
class EventRecord:
    """One user behaviour event. ``value`` is the watch fraction of a view or the score of a rating."""

    user: str
    item: str
    type: str = "view"
    value: float | None = None
    ts: float = 0.0  # seconds since the epoch
    comment: str | None = None

    def __post_init__(self) -> None:
        if not self.user or not str(self.user).strip():
            raise RecordError("user id is empty")
        if not self.item or not str(self.item).strip():
            raise RecordError("item id is empty")
        if self.type not in EVENT_TYPES:
            raise RecordError(f"event type must be one of {', '.join(EVENT_TYPES)}, got {self.type!r}")
        if not math.isfinite(self.ts):
            raise RecordError(f"timestamp must be a finite number, got {self.ts!r}")
        try:
            limits.check_timestamp(self.ts)
            limits.check_text(self.user, "user id", limits.MAX_ID_CHARS)
            limits.check_text(self.item, "item id", limits.MAX_ID_CHARS)
            limits.check_text(self.comment, "comment", limits.MAX_COMMENT_CHARS)
        except limits.LimitError as exc:
            raise RecordError(str(exc)) from None
        if self.value is not None:
            if not math.isfinite(self.value):
                raise RecordError(f"value must be a finite number, got {self.value!r}")
            if self.type == "view" and not 0.0 <= self.value <= 1.0:
                raise RecordError(f"a view's watch fraction must lie in [0, 1], got {self.value!r}")


@dataclass(frozen=True)
class BadRow:
    """A rejected input row: never dropped silently, always reported with where it came from."""

    source: str
    line: int
    reason: str
    raw: str = ""


def parse_float(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise RecordError(f"{what} is not a number: {raw!r}") from None
    if not math.isfinite(value):
        raise RecordError(f"{what} is not a finite number: {raw!r}")
    return value


# -- content understanding -------------------------------------------------------------------


@dataclass(frozen=True)
class MediaInfo:
    """What probing a file found; times in seconds."""

    path: str
    size_bytes: int
    container: str
    duration: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    title: str | None = None  # the container's title tag, when it has one

    @property
    def kind(self) -> str:
        return "video" if self.has_video else "audio"


@dataclass(frozen=True)
class Shot:
    """A run of frames between two cuts, with the frame chosen to stand for it."""

    index: int
    start: float
    end: float
    start_frame: int
    end_frame: int  # exclusive
    keyframe_time: float
    keyframe_path: str | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of transcribed speech."""

    start: float
    end: float
    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0


@dataclass(frozen=True)
class Label:
    """A tag a model gave, with its confidence and where in the media it applies (when known)."""

    name: str
    score: float
    source: str  # "vision" | "audio" | "ocr" | ...
    start: float | None = None
    end: float | None = None
