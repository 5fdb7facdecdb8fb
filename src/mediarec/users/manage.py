"""Taste profiles over a store: generate (with the result cache), store, show, edit, delete.

Generation and storing are separate steps, so that a server can run the slow one on a worker
thread and the write on its single writer thread (see ``serve/app.py``).

Deleting the user wins over a generation in flight: the draft carries the user's token
(:meth:`Store.user_token`, taken before the history is read); the cached answer is written under
the store's write lock only while the same user still exists, and the draft is saved only then.
A deletion therefore either comes first (nothing is written) or after (and forgets the answer,
which names its owner).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediarec.llm.backends import CompletionOptions
from mediarec.llm.cache import ResultCache, input_hash
from mediarec.store.profiles import UnknownUserError
from mediarec.users.interests import Interest, load_history, user_interests
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
    owner: str | None = None,
    may_write: Callable[[], AbstractContextManager[bool]] | None = None,
) -> ProfileDraft:
    """One profile through the LLM (or from ``cache``): constrained JSON, repair, checks, a retry.

    A new answer goes into ``cache`` under ``owner``, inside ``may_write()`` and only if it yields
    True (else ``UnknownUserError``: the user was deleted while the LLM ran).
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
            with may_write() if may_write is not None else _always() as ok:
                if not ok:
                    raise UnknownUserError(prompt.user)
                cache.put(model_id, PROMPT_VERSION, data, value, result.usage, owner=owner)
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
    token = store.user_token(user)
    if token is None:
        raise UnknownUserError(user)
    edits = store.profiles.edits(user)
    prompt = build_prompt(load_history(store, user, o.history), o, edits.removed if edits else ())
    if not prompt.allowed:
        raise NoHistoryError(
            f"user {user!r} has no history with tagged items yet (or removed every tag): nothing to "
            "build a profile from"
        )
    if cache_dir is None:
        return replace(generate_profile(backend, prompt, o), owner_token=token)

    @contextmanager
    def while_alive() -> Iterator[bool]:
        # The store's write lock is held until the cache write is done, so a deletion (which takes
        # the same lock, in any process) cannot slip in between the check and the write.
        with store.transaction() as tx:
            yield store.user_alive(tx, user, token)

    with ResultCache(cache_dir) as cache:
        draft = generate_profile(backend, prompt, o, cache, owner=user, may_write=while_alive)
    return replace(draft, owner_token=token)


@contextmanager
def _always() -> Iterator[bool]:
    yield True


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
            draft.user,
            draft.text,
            interests,
            draft.model_id,
            draft.prompt_version,
            draft.input_hash,
            token=draft.owner_token,
        )
    shown = shown_profile(store, draft.user)
    assert shown is not None
    return shown


def shown_profile(store: Store, user: str) -> TasteProfile | None:
    """The newest generated version with the user's edits applied; None when there is neither.

    With edits but no generated version yet, the interests are those computed from the history
    (without removed tags) plus the added ones, rather than the added ones alone."""
    generated, edits = store.profiles.latest(user), store.profiles.edits(user)
    shown = merge(user, generated, edits)
    if shown is not None and generated is None:
        present = {i.tag for i in shown.interests}
        computed = tuple(i for i in user_interests(store, user, limit=10) if i.tag not in present)
        shown = replace(shown, interests=shown.interests + computed)
    return shown


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
    forgotten = forget_results(deleted.result_keys, cache_dir, owner=user)
    return {
        "versions_deleted": deleted.versions,
        "edits_deleted": deleted.edits,
        "cached_forgotten": forgotten,
    }


def forget_results(
    keys: Sequence[tuple[str, str, str]], cache_dir: str | Path | None, owner: str | None = None
) -> int:
    """Remove the cached LLM answers of these profile versions and every answer made from
    ``owner``'s data (drafts never saved included), then truncate the cache's WAL so that none of
    it stays on disk. A no-op without a cache file."""
    if cache_dir is None or not (Path(cache_dir) / ResultCache.FILE).is_file():
        return 0
    if not keys and owner is None:
        return 0
    with ResultCache(cache_dir) as cache:
        forgotten = sum(cache.forget(*key) for key in set(keys))
        if owner is not None:
            forgotten += cache.forget_owner(owner)
        cache.checkpoint()
        return forgotten
