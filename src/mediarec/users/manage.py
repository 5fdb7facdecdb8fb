"""Taste profiles over a store: generate (with the result cache), store, show, edit, delete.

Generation and storing are separate steps, so that a server can run the slow one on a worker
thread and the write on its single writer thread (see ``serve/app.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediarec.llm.backends import CompletionOptions
from mediarec.llm.cache import ResultCache, input_hash
from mediarec.store.profiles import UnknownUserError
from mediarec.users.interests import Interest, load_history
from mediarec.users.profile import (
    PROMPT_VERSION,
    NoHistoryError,
    ProfileDraft,
    ProfileOptions,
    ProfilePrompt,
    TasteProfile,
    build_prompt,
    check_edit,
    merge,
    profile_problems,
    repair_profile,
)

if TYPE_CHECKING:
    from mediarec.llm.backends import LLMBackend
    from mediarec.store import Store


def _interests(value: dict[str, Any]) -> tuple[Interest, ...]:
    return tuple(Interest(d["tag"], float(d["weight"]), d.get("source", "llm")) for d in value["interests"])


def generate_profile(
    backend: LLMBackend,
    prompt: ProfilePrompt,
    options: ProfileOptions | None = None,
    cache: ResultCache | None = None,
) -> ProfileDraft:
    """One profile through the LLM (or from ``cache``): constrained JSON, repair, checks, a retry.

    Raises ``LLMOutputError`` when no attempt is usable, ``LLMError`` when the backend is down.
    """
    from mediarec.llm.structured import generate

    o = options or ProfileOptions()
    model_id = backend.model_id
    data = prompt.cache_input()
    value = cache.get(model_id, PROMPT_VERSION, data) if cache is not None else None
    attempts, seconds = 0, 0.0
    if value is None or profile_problems(value, prompt):
        result = generate(
            backend,
            prompt.messages,
            prompt.schema,
            validate=lambda obj: profile_problems(obj, prompt),
            retries=o.retries,
            options=CompletionOptions(max_tokens=o.max_tokens, schema_name="taste_profile"),
        )
        value, _ = repair_profile(result.value, prompt)
        attempts, seconds = result.attempts, result.usage.seconds
        if cache is not None:
            cache.put(model_id, PROMPT_VERSION, data, value, result.usage)
    else:
        value, _ = repair_profile(value, prompt)
    return ProfileDraft(
        user=prompt.user,
        text=value["profile"],
        interests=_interests(value),
        model_id=model_id,
        prompt_version=PROMPT_VERSION,
        input_hash=input_hash(data),
        attempts=attempts,
        seconds=seconds,
    )


def draft_profile(
    store: Store,
    user: str,
    backend: LLMBackend,
    cache_dir: str | Path | None,
    options: ProfileOptions | None = None,
) -> ProfileDraft:
    """Read the user's history and generate a profile; nothing is stored."""
    o = options or ProfileOptions()
    if not store.user_exists(user):
        raise UnknownUserError(user)
    edits = store.profiles.edits(user)
    prompt = build_prompt(load_history(store, user, o.history), o, edits.removed if edits else ())
    if not prompt.allowed:
        raise NoHistoryError(
            f"user {user!r} has no history with tagged items yet (or removed every tag): nothing to "
            "build a profile from"
        )
    if cache_dir is None:
        return generate_profile(backend, prompt, o)
    with ResultCache(cache_dir) as cache:
        return generate_profile(backend, prompt, o, cache)


def save_draft(store: Store, draft: ProfileDraft) -> TasteProfile:
    """Store ``draft`` as the user's next version, unless it repeats the newest one (same model,
    prompt, input and text): regenerating without new history adds no version."""
    latest = store.profiles.latest(draft.user)
    interests = [i.to_dict() for i in draft.interests]
    same = latest is not None and (
        (latest.model_id, latest.prompt_version, latest.input_hash, latest.text, list(latest.interests))
        == (draft.model_id, draft.prompt_version, draft.input_hash, draft.text, interests)
    )
    if not same:
        store.profiles.add(
            draft.user, draft.text, interests, draft.model_id, draft.prompt_version, draft.input_hash
        )
    shown = shown_profile(store, draft.user)
    assert shown is not None
    return shown


def shown_profile(store: Store, user: str) -> TasteProfile | None:
    """The newest generated version with the user's edits applied; None when there is neither."""
    return merge(user, store.profiles.latest(user), store.profiles.edits(user))


def edit_profile(
    store: Store,
    user: str,
    text: str | None = None,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
) -> TasteProfile:
    """Apply the user's edit (see ``ProfileStore.edit``); ``ValueError`` for an unusable one."""
    text, added, removed = check_edit(text, add_tags, remove_tags)
    store.profiles.edit(user, text, added, removed)
    shown = shown_profile(store, user)
    assert shown is not None
    return shown


def delete_profile(store: Store, user: str, cache_dir: str | Path | None) -> dict[str, int]:
    """Delete every version and edit of the user's profile, and the cached answers behind them."""
    deleted = store.profiles.delete(user)
    forgotten = forget_results(deleted.result_keys, cache_dir)
    return {
        "versions_deleted": deleted.versions,
        "edits_deleted": deleted.edits,
        "cached_forgotten": forgotten,
    }


def forget_results(keys: Sequence[tuple[str, str, str]], cache_dir: str | Path | None) -> int:
    """Remove the cached LLM answers of these profile versions (a no-op without a cache file)."""
    if not keys or cache_dir is None or not (Path(cache_dir) / ResultCache.FILE).is_file():
        return 0
    with ResultCache(cache_dir) as cache:
        return sum(cache.forget(*key) for key in set(keys))
