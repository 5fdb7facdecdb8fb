"""Request and response shapes of the HTTP API; they are what /openapi.json and /docs show.

Validation of meaning (kinds, event types, value ranges) stays in :mod:`mediarec.records`, so the
API and the importers accept exactly the same data; these models check JSON types and say, in the
schema, which values are allowed.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

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


class ReasonOut(BaseModel):
    kind: str = Field(
        description="The rule behind the pick: similar_to_seen, collaborative, popular, similar_item."
    )
    text: str = Field(description="A sentence to show next to the item.")
    evidence: dict[str, Any] = Field(description="What supports the reason, e.g. the item it resembles.")


class RecommendationOut(BaseModel):
    item_id: str
    score: float
    title: str
    kind: str | None
    creator: str | None
    reasons: list[ReasonOut]


class RecommendationsOut(BaseModel):
    user_id: str
    model: str
    fallback: bool = Field(
        description="True when the model does not know this user and popular items are served instead."
    )
    items: list[RecommendationOut]


class SimilarOut(BaseModel):
    item_id: str
    model: str
    items: list[RecommendationOut]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Your id for the item; posting the same id again updates it.")
    title: str = ""
    kind: str = Field("video", json_schema_extra={"enum": list(ITEM_KINDS)})
    duration: float | None = Field(None, description="Length in seconds.")
    uri: str | None = Field(None, description="File path or URL of the media.")
    creator: str | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free-form attributes, merged on update."
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
    Annotated[ItemIn, Tag("item")] | Annotated[list[ItemIn], Tag("items")],
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

    user: str = Field(min_length=1, description="Your id for the user; new users are created on first event.")
    item: str = Field(min_length=1, description="Id of a stored item.")
    type: str = Field("view", json_schema_extra={"enum": list(EVENT_TYPES)})
    value: float | None = Field(
        None, description="Watch fraction 0..1 for a view, the score for a rating; otherwise empty."
    )
    timestamp: float | None = Field(None, description="Seconds since the epoch; empty means now.")
    comment: str | None = None

    def record(self, now: float) -> EventRecord:
        ts = now if self.timestamp is None else self.timestamp
        return EventRecord(self.user, self.item, self.type, self.value, ts, self.comment)


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
