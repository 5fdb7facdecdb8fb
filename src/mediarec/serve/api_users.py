"""Users through the API: their events, deleting them, and their taste profiles."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from mediarec.llm.backends import LLMError, LLMOutputError
from mediarec.records import RecordError
from mediarec.serve.api_common import RouteContext, error_responses
from mediarec.serve.models import (
    DeletedUserOut,
    InteractionIn,
    InteractionsBatch,
    InteractionsOut,
    ProfileDeletedOut,
    ProfileEditIn,
    ProfileOut,
)
from mediarec.store.profiles import UnknownUserError
from mediarec.users import NoHistoryError

REFILL_USERS = 100  # a batch's first users get their cached lists re-ranked in the background


def install_users(app: FastAPI, api: RouteContext) -> None:
    """POST /interactions (one or a batch), DELETE /users/{id} and the /users/{id}/profile routes."""
    engine, write, reads, writes = api.engine, api.write, api.reads, api.writes

    @app.post(
        "/interactions",
        response_model=InteractionsOut,
        dependencies=writes,
        responses=error_responses(401, 413, 422),
        tags=["interactions"],
    )
    async def add_interaction(request: Request, event: InteractionIn) -> dict[str, Any]:
        """Record one event. An event on an item that is not in the catalogue is refused."""
        record = event.record(time.time())
        inserted, rejected = await write(request, engine.add_events, [record])
        if rejected:
            raise HTTPException(422, f"{rejected[0][1]}; add the item with POST /items first")
        engine.refill([record.user])  # re-rank the user's cached lists off the request path
        return {"inserted": inserted, "rejected": []}

    @app.post(
        "/interactions/batch",
        response_model=InteractionsOut,
        dependencies=writes,
        responses=error_responses(401, 413, 422),
        tags=["interactions"],
    )
    async def add_interactions(request: Request, events: InteractionsBatch) -> dict[str, Any]:
        """Record many events; valid ones are stored and each refused one is reported by position."""
        now = time.time()
        records, positions, rejected = [], [], []
        for i, event in enumerate(events):
            try:
                records.append(event.record(now))
                positions.append(i)
            except RecordError as exc:
                rejected.append((i, str(exc)))
        inserted, refused = await write(request, engine.add_events, records) if records else (0, [])
        engine.refill([r.user for r in records][:REFILL_USERS])
        # The store numbers its refusals within the valid subset; map them back to the posted list.
        rejected += [(positions[pos], reason) for pos, reason in refused]
        rejected.sort()
        return {"inserted": inserted, "rejected": [{"index": i, "reason": r} for i, r in rejected]}

    @app.delete(
        "/users/{user_id}",
        response_model=DeletedUserOut,
        dependencies=writes,
        responses=error_responses(401),
        tags=["users"],
    )
    async def delete_user(request: Request, user_id: str) -> dict[str, Any]:
        """Delete a user's events and remove them from every saved model. Deleting twice is harmless."""
        result = await write(request, engine.delete_user, user_id)
        return {"user_id": user_id, **result}

    # -- taste profiles ----------------------------------------------------------------------
    @app.get(
        "/users/{user_id}/profile",
        response_model=ProfileOut,
        dependencies=reads,
        responses=error_responses(401, 404),
        tags=["users"],
    )
    def get_profile(user_id: str) -> dict[str, Any]:
        """The user's taste profile: the newest generated version with the user's edits applied."""
        found = engine.profile(user_id)
        if found is None:
            raise HTTPException(
                404, f"no profile for {user_id!r} yet: POST /users/{user_id}/profile/regenerate makes one"
            )
        return found.to_dict()

    @app.put(
        "/users/{user_id}/profile",
        response_model=ProfileOut,
        dependencies=writes,
        responses=error_responses(401, 404, 422),
        tags=["users"],
    )
    async def edit_profile(request: Request, user_id: str, body: ProfileEditIn) -> dict[str, Any]:
        """Change the profile: your own text, tags to add or remove. Kept over every regeneration."""
        try:
            found = await write(
                request, engine.edit_profile, user_id, body.text, body.add_tags, body.remove_tags
            )
        except (UnknownUserError, ValueError) as exc:
            raise _profile_error(exc) from None
        return found.to_dict()

    @app.post(
        "/users/{user_id}/profile/regenerate",
        response_model=ProfileOut,
        dependencies=writes,
        responses=error_responses(401, 404, 409, 502, 503),
        tags=["users"],
    )
    async def regenerate_profile(request: Request, user_id: str) -> dict[str, Any]:
        """Write a new profile version from the user's history with the LLM; the user's edits stay.
        Takes tens of seconds with a local model on a CPU; other requests are served meanwhile."""
        try:
            # The LLM runs on a worker thread; only the short write goes through the writer.
            draft = await asyncio.to_thread(engine.draft_profile, user_id)
            found = await write(request, engine.save_profile, draft)
        except (UnknownUserError, ValueError, LLMError) as exc:
            raise _profile_error(exc) from None
        return found.to_dict()

    @app.delete(
        "/users/{user_id}/profile",
        response_model=ProfileDeletedOut,
        dependencies=writes,
        responses=error_responses(401),
        tags=["users"],
    )
    async def delete_profile(request: Request, user_id: str) -> dict[str, Any]:
        """Delete the profile only (every version and the edits); events and the user stay."""
        result = await write(request, engine.delete_profile, user_id)
        return {"user_id": user_id, **result}


def _profile_error(exc: Exception) -> HTTPException:
    if isinstance(exc, UnknownUserError):
        return HTTPException(404, str(exc))
    if isinstance(exc, NoHistoryError):
        return HTTPException(409, str(exc))
    if isinstance(exc, LLMOutputError):
        return HTTPException(502, f"the LLM gave no usable profile: {exc}")
    if isinstance(exc, LLMError):
        return HTTPException(503, f"the LLM is not available: {exc}")
    return HTTPException(422, str(exc))
