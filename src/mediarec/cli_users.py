"""``mediarec delete-user`` and ``profile``: one user's data and taste profile."""

from __future__ import annotations

from typing import Any

import click

from mediarec.cli_progress import llm_call
from mediarec.cli_text import dumps, echo, echo_json, safe_line


@click.command(name="delete-user", epilog="Example: mediarec delete-user 42")
@click.argument("user")
@click.pass_context
def delete_user(ctx: click.Context, user: str) -> None:
    """Delete USER's events and their rows in every saved model."""
    from mediarec.cli import _engine

    engine = _engine(ctx)
    known = engine.store.user_exists(user)
    # Delete even when the store does not know the user: a model saved before an interrupted
    # deletion may still hold their row.
    result = engine.delete_user(user)
    if not known and not result["models_scrubbed"]:
        raise click.ClickException(f"unknown user {user!r}: no events, profile or model rows to delete")
    echo(
        f"deleted {user}: {result['events_deleted']} events, scrubbed from {result['models_scrubbed']} models"
    )


@click.command(epilog="Example: mediarec profile 42 --remove-tag horror --add-tag jazz --regenerate")
@click.argument("user")
@click.option("--regenerate", is_flag=True, help="Write a new version with the LLM (slow on a CPU).")
@click.option("--text", default=None, help='Your own profile text, kept over regenerations ("" drops it).')
@click.option("--add-tag", "add_tags", multiple=True, help="Tag always shown (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True, help="Tag never shown again (repeatable).")
@click.option("--delete", "delete", is_flag=True, help="Delete the profile only (events stay).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def profile(
    ctx: click.Context,
    user: str,
    regenerate: bool,
    text: str | None,
    add_tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
    delete: bool,
    as_json: bool,
) -> None:
    """Show USER's taste profile; edit it, regenerate it with the LLM, or delete it.

    Edits are applied first, then the regeneration, so a removed tag is not offered to the model.
    """
    from mediarec.cli import _engine
    from mediarec.llm.backends import LLMError
    from mediarec.store.profiles import UnknownUserError

    engine = _engine(ctx)
    if delete:
        if regenerate or text is not None or add_tags or remove_tags:
            raise click.UsageError("--delete cannot be combined with edits or --regenerate")
        result = engine.delete_profile(user)
        echo(
            dumps({"user_id": user, **result})
            if as_json
            else f"deleted the profile of {user}: {result['versions_deleted']} versions, "
            f"{result['edits_deleted']} edits"
        )
        return
    try:
        if text is not None or add_tags or remove_tags:
            engine.edit_profile(user, text, add_tags, remove_tags)
        if regenerate:
            with llm_call(f"profile of {safe_line(user)}"):
                engine.regenerate_profile(user)
    except (UnknownUserError, ValueError, LLMError) as exc:
        raise click.ClickException(str(exc)) from None
    shown = engine.profile(user)
    if shown is None:
        _interests_only(engine, user, as_json)
        return
    if as_json:
        echo_json(shown.to_dict(), indent=2)
        return
    made = f"version {shown.version} by {shown.model_id}" if shown.version else "not generated yet"
    echo(f"taste profile of {user} ({made}{', edited by the user' if shown.edited else ''})")
    echo(shown.text or "(no text)")
    echo("interests: " + ", ".join(f"{i.tag} {i.weight:.2f}" for i in shown.interests))


def _interests_only(engine: Any, user: str, as_json: bool) -> None:
    """No text profile yet: the interest tags computed from the history, which need no LLM."""
    if not engine.store.user_exists(user):
        raise click.ClickException(f"unknown user {user!r}: no events and no profile")
    interests = engine.interests(user, limit=10)
    if as_json:
        found = [i.to_dict() for i in interests]
        echo_json({"user_id": user, "text": "", "interests": found, "version": 0}, indent=2)
        return
    echo(f"taste profile of {user} (no text yet: `mediarec profile {user} --regenerate` writes one)")
    listed = ", ".join(f"{i.tag} {i.weight:.2f}" for i in interests)
    echo("interests from the history: " + (listed or "(none yet)"))
