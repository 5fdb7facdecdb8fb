"""Request and response shapes of the HTTP API; they are what /openapi.json and /docs show.

Validation of meaning (kinds, event types, value ranges) stays in :mod:`mediarec.records`, so the
API and the importers accept exactly the same data; these models check JSON types and say, in the
schema, which values are allowed. Lengths come from :mod:`mediarec.limits` (records enforce them
too), so a request beyond one is refused before any of it is processed.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from mediarec import limits
from mediarec.records import EVENT_TYPES, ITEM_KINDS, EventRecord, ItemRecord


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, in words a person can act on.")
    status: int = Field(description="The HTTP status code, repeated for clients that only keep the body.")


class HealthOut(BaseModel):
    status: str = "ok"
    items: int
    users: int
    interactions: int
    models: dict[str, str] = Field(description="Latest saved version of each trained model, by model name.")
    serving: dict[str, str] = Field(
        default_factory=dict,
        description="The version this server process ranks with, by model name (models requested so far); "
        "it follows `models` within the model_check_seconds setting, without a restart.",
    )


class ReasonOut(BaseModel):
    kind: str = Field(
        description="The rule behind the pick: similar_to_seen, interest_tag, moment, collaborative, "
        "trending, new, explore, popular, similar_item, similar_content."
    )
    text: str = Field(description="A sentence to show next to the item.")
    evidence: dict[str, Any] = Field(
        description="What supports the reason, all of it in the store: the item it resembles "
        "(item_id, title), the matched tag with the item's evidence (id, kind, text, start) and the "
        "user's items it came from, a key moment (segment, start, end, label), trending viewers, "
        "the creation time of a new item."
    )


class RecommendationOut(BaseModel):
    item_id: str
    score: float
    title: str
    kind: str | None
    creator: str | None
    reasons: list[ReasonOut]
    fallback: str | None = Field(
        None,
        description='"popularity" when the model could not score the user and the item comes from the '
        "popular list (score: viewers / the most viewed item's, 0..1); null for a personal pick.",
    )


class SteeringOut(BaseModel):
    """How a steering request (``ask=``) was understood and applied."""

    ask: str
    understood: str = Field(description="The parsed request in words, to show back to the user.")
    query: dict[str, Any] = Field(description="The parsed query's set fields (rank/query.py SteerQuery).")
    parser: str = Field(description="`rules`, or the LLM's model id.")
    cached: bool = Field(description="True when the parse came from the cache.")
    message: str | None = Field(None, description="Why the list is empty, when it is.")
    notes: list[str] = Field(default_factory=list, description="What was not applied, and why.")


class RecommendationsOut(BaseModel):
    user_id: str
    model: str
    fallback: bool = Field(
        description="True when the model does not know this user and popular items are served instead."
    )
    folded_in: bool = Field(
        False, description="True when the user's vector was computed from their live events (fold-in)."
    )
    model_version: str | None = Field(
        None, description="The saved version of the model that ranked this list; null before any training."
    )
    items: list[RecommendationOut]
    steering: SteeringOut | None = Field(None, description="With `ask=`: how the request was understood.")


class RangeOut(BaseModel):
    start: float = Field(description="Seconds from the start of the item.")
    end: float
    text: str = Field(description="What is said or shown there.")
    source: str = Field(
        description="`transcript`, `on-screen`, `moment` (LLM key moment) or `tag` (its evidence)."
    )
    score: float


class HitOut(BaseModel):
    item_id: str
    title: str
    kind: str
    score: float
    start: float = Field(description="Where to start playing (the best range's start).")
    end: float
    ranges: list[RangeOut]
    why: str | None = None
    interest: str | None = None


class SearchOut(BaseModel):
    q: str
    items: list[HitOut]


class MomentsOut(BaseModel):
    user_id: str
    items: list[HitOut]


class SimilarOut(BaseModel):
    item_id: str
    model: str
    items: list[RecommendationOut]
    steering: SteeringOut | None = Field(None, description="With `ask=`: how the request was understood.")


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1,
        max_length=limits.MAX_ID_CHARS,
        description="Your id for the item; posting the same id again updates it.",
    )
    title: str = Field("", max_length=limits.MAX_TITLE_CHARS)
    kind: str = Field("video", json_schema_extra={"enum": list(ITEM_KINDS)})
    duration: float | None = Field(None, ge=0, allow_inf_nan=False, description="Length in seconds.")
    uri: str | None = Field(
        None, max_length=limits.MAX_URI_CHARS, description="File path or URL of the media."
    )
    creator: str | None = Field(None, max_length=limits.MAX_CREATOR_CHARS)
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Free-form attributes, merged on update; at most {limits.MAX_METADATA_BYTES:,} bytes "
        f"as JSON, and at most {limits.MAX_ITEM_TAGS:,} entries in `tags`.",
    )

    def record(self) -> ItemRecord:
        return ItemRecord(
            external_id=self.id,
            title=self.title,
            kind=self.kind,
            duration=self.duration,
            uri=self.uri,
            creator=self.creator,
            metadata=self.metadata,
        )


def _one_or_many(value: Any) -> str:
    return "items" if isinstance(value, list) else "item"


# A callable discriminator picks the branch from the JSON shape, so a bad field is reported once,
# against the branch the client meant, instead of once per union member.
ItemsBody = Annotated[
    Annotated[ItemIn, Tag("item")]
    | Annotated[list[ItemIn], Tag("items"), Field(max_length=limits.MAX_ITEMS_PER_POST)],
    Discriminator(_one_or_many),
]


class ItemOut(BaseModel):
    id: str
    title: str
    kind: str
    duration: float | None
    uri: str | None
    creator: str | None
    metadata: dict[str, Any]
    created: float = Field(description="When the item was first stored, seconds since the epoch.")


class ItemsPage(BaseModel):
    total: int = Field(description="Items matching the filters, over all pages.")
    limit: int
    offset: int
    items: list[ItemOut]


class ItemsWritten(BaseModel):
    received: int
    created: int
    updated: int


class InteractionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(
        min_length=1,
        max_length=limits.MAX_ID_CHARS,
        description="Your id for the user; new users are created on first event.",
    )
    item: str = Field(min_length=1, max_length=limits.MAX_ID_CHARS, description="Id of a stored item.")
    type: str = Field("view", json_schema_extra={"enum": list(EVENT_TYPES)})
    value: float | None = Field(
        None,
        allow_inf_nan=False,
        description="Watch fraction 0..1 for a view, the score for a rating; otherwise empty.",
    )
    timestamp: float | None = Field(
        None,
        allow_inf_nan=False,
        description=f"Seconds since the epoch, from {limits.MIN_TIMESTAMP:.0f} up to (not including) "
        f"{limits.MAX_TIMESTAMP:.0f} (2100-01-01); empty means now.",
    )
    comment: str | None = Field(None, max_length=limits.MAX_COMMENT_CHARS)

    def record(self, now: float) -> EventRecord:
        ts = now if self.timestamp is None else self.timestamp
        return EventRecord(self.user, self.item, self.type, self.value, ts, self.comment)


InteractionsBatch = Annotated[list[InteractionIn], Field(max_length=limits.MAX_EVENTS_PER_BATCH)]

_Tag = Annotated[str, Field(max_length=limits.MAX_TAG_CHARS)]


class Rejection(BaseModel):
    index: int = Field(description="Position of the rejected event in the posted list.")
    reason: str


class InteractionsOut(BaseModel):
    inserted: int = Field(
        description="New events stored; an exact repeat of a stored event is not stored twice."
    )
    rejected: list[Rejection]


class DeletedUserOut(BaseModel):
    user_id: str
    events_deleted: int
    models_scrubbed: int = Field(description="Saved model versions the user's rows were removed from.")


class InterestOut(BaseModel):
    tag: str
    weight: float = Field(description="0..1; the strongest interest is 1.")
    source: str = Field(description="Who put it there: llm (the profile), history (computed), user (added).")


class ProfileOut(BaseModel):
    user_id: str
    text: str = Field(description="At most 80 words; the user's own text when they wrote one.")
    interests: list[InterestOut]
    model_id: str = Field(description="The LLM that wrote the generated version; empty when none did.")
    prompt_version: str
    created: float = Field(description="When the generated version was made, seconds since the epoch.")
    version: int = Field(description="Generated version number; 0 when nothing was generated yet.")
    edited: bool = Field(description="True when the user changed the text or the tags.")
    generated_text: str = Field(description="The model's own text, kept even when the user's replaces it.")
    updated: float | None = Field(description="When the user last edited the profile.")


class ProfileEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(
        None,
        max_length=limits.MAX_PROFILE_TEXT_CHARS,
        description='Your own profile text (at most 80 words); "" goes back to the generated one.',
    )
    add_tags: list[_Tag] = Field(
        default_factory=list,
        max_length=limits.MAX_EDIT_TAGS,
        description="Tags always shown, over regenerations.",
    )
    remove_tags: list[_Tag] = Field(
        default_factory=list, max_length=limits.MAX_EDIT_TAGS, description="Tags never shown again."
    )


class ProfileDeletedOut(BaseModel):
    user_id: str
    versions_deleted: int
    edits_deleted: int
