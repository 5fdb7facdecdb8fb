"""Ranked reads of the API: a user's recommendations, items similar to one, search and moments."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query, Response

from mediarec import limits
from mediarec.engine import Recommendation, UnknownItemError
from mediarec.serve.api_common import (
    ASK_PARAM,
    CACHE_HEADER,
    MAX_FRESHNESS,
    MAX_N,
    KindParam,
    ModelParam,
    RouteContext,
    error_responses,
    steer,
)
from mediarec.serve.hits import answer_body
from mediarec.serve.models import MomentsOut, RecommendationsOut, SearchOut, SimilarOut


def _hit(hit: bool) -> str:
    return "hit" if hit else "miss"


def _recs(recs: list[Recommendation]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in recs]


def install_recommendations(app: FastAPI, api: RouteContext) -> None:
    """GET /users/{id}/recommendations, /items/{id}/similar, /search and /users/{id}/moments."""
    engine, store, reads = api.engine, api.engine.store, api.reads
    model_name, check_kind = api.model_name, api.check_kind

    @app.get(
        "/users/{user_id}/recommendations",
        response_model=RecommendationsOut,
        dependencies=reads,
        responses=error_responses(401, 422),
        tags=["recommendations"],
    )
    def recommendations(
        user_id: str,
        n: int = Query(10, ge=1, le=MAX_N, description="How many items to return."),
        exclude_seen: bool = Query(True, description="Leave out items the user already interacted with."),
        kind: KindParam = None,
        creator: str | None = Query(
            None, max_length=limits.MAX_FILTER_CHARS, description="Only items by this creator."
        ),
        model: ModelParam = None,
        diversity: float | None = Query(
            None,
            ge=0,
            le=1,
            allow_inf_nan=False,
            description="MMR lambda: 1 ranks by relevance alone, lower favours variety.",
        ),
        max_per_creator: int | None = Query(
            None, ge=0, le=MAX_N, description="At most this many items per creator."
        ),
        max_per_topic: int | None = Query(
            None, ge=0, le=MAX_N, description="At most this many items per topic."
        ),
        explore: float | None = Query(
            None,
            ge=0,
            le=1,
            allow_inf_nan=False,
            description="Exploration rate: chance a slot goes to a new, little-seen item.",
        ),
        freshness: float | None = Query(
            None, ge=0, le=MAX_FRESHNESS, allow_inf_nan=False, description="Score bonus of a brand-new item."
        ),
        ask: str | None = ASK_PARAM,
    ) -> Any:
        """Top-n items for a user, each with its reasons and their evidence.

        New events count at once: seen items are filtered and the user's vector is folded in from
        their current events, without retraining. A user with no model row and no events gets
        popular items (``fallback``). Query options override the ``rank_*`` settings per request.
        """
        name = model_name(model)
        options = engine.rank_options.with_overrides(
            mmr_lambda=diversity,
            max_per_creator=max_per_creator,
            max_per_topic=max_per_topic,
            explore_epsilon=explore,
            freshness_boost=freshness,
        )
        if ask is not None:  # steered: ranked fresh, the parsed request returned with the list
            steered = steer(
                engine.rank_steered,
                user_id,
                ask,
                n,
                exclude_seen=exclude_seen,
                kind=check_kind(kind),
                creator=creator or None,
                model=name,
                options=options,
            )
            r = steered.result
            return {
                "user_id": user_id,
                "model": name,
                "fallback": r.fallback,
                "folded_in": r.folded_in,
                "model_version": r.model_version,
                "items": _recs(r.items),
                "steering": steered.steering(),
            }
        entry, hit = engine.rank_entry(
            user_id,
            n=n,
            exclude_seen=exclude_seen,
            kind=check_kind(kind),
            creator=creator or None,
            model=name,
            options=options,
        )
        if entry.body is None:
            # Serialised once per computed list and reused by every hit (the key holds user and model).
            entry.body = answer_body(user_id, name, entry.result)
        # X-Mediarec-Cache says whether the list was ranked for this request or served again.
        return Response(entry.body, media_type="application/json", headers={CACHE_HEADER: _hit(hit)})

    @app.get(
        "/items/{item_id}/similar",
        response_model=SimilarOut,
        dependencies=reads,
        responses=error_responses(401, 404, 422, 503),
        tags=["recommendations"],
    )
    def similar(
        item_id: str,
        n: int = Query(10, ge=1, le=MAX_N),
        model: ModelParam = None,
        ask: str | None = ASK_PARAM,
    ) -> dict[str, Any]:
        """Items most like this one, according to the model (``ask``: steered, "like this but shorter")."""
        name = model_name(model)
        if engine.loaded(name) is None:
            raise HTTPException(
                503, f"no trained {name!r} model yet: run `mediarec train --model {name}` first"
            )
        try:
            if ask is not None:
                steered = steer(engine.similar_steered, item_id, ask, n, model=name)
                return {
                    "item_id": item_id,
                    "model": name,
                    "items": _recs(steered.result.items),
                    "steering": steered.steering(),
                }
            recs = engine.similar(item_id, n=n, model=name)
        except UnknownItemError:
            if store.get_item(item_id) is None:
                raise HTTPException(404, f"unknown item {item_id!r}") from None
            raise HTTPException(
                404, f"item {item_id!r} was added after the {name!r} model was trained; retrain to include it"
            ) from None
        return {"item_id": item_id, "model": name, "items": _recs(recs)}

    @app.get(
        "/search",
        response_model=SearchOut,
        dependencies=reads,
        responses=error_responses(401, 422),
        tags=["search"],
    )
    def search(
        q: str = Query(..., max_length=200, description='Words said or shown: "kneading dough".'),
        n: int = Query(10, ge=1, le=MAX_N, description="How many items."),
    ) -> dict[str, Any]:
        """Items whose transcript, on-screen text, LLM key moments or tag evidence match ``q``, each
        with the matching time ranges (start playing at ``start``)."""
        try:
            hits = engine.search(q, n)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"q": q, "items": [h.to_dict() for h in hits]}

    @app.get(
        "/users/{user_id}/moments",
        response_model=MomentsOut,
        dependencies=reads,
        responses=error_responses(401, 422),
        tags=["recommendations"],
    )
    def moments(
        user_id: str, n: int = Query(10, ge=1, le=MAX_N, description="How many moments.")
    ) -> dict[str, Any]:
        """Moments of the user's recommended items where one of their interests is met: item, start,
        end and why."""
        return {"user_id": user_id, "items": [h.to_dict() for h in engine.moments(user_id, n)]}
