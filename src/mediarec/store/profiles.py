"""Stored taste profiles: generated versions, and the user's own edits kept apart from them.

A regeneration appends a version and never touches the edits, so what a user wrote or removed
survives any number of regenerations; how the two are combined for display is
:func:`mediarec.users.profile.merge`. Both tables reference ``users`` with ``ON DELETE CASCADE``:
deleting a user removes their profiles with their events, in the same transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mediarec.limits import MAX_KEPT_PROFILE_TAGS
from mediarec.store.db import StoreError

if TYPE_CHECKING:
    from mediarec.store.backend import Conn
    from mediarec.store.db import Store


class UnknownUserError(StoreError):
    def __init__(self, user: str) -> None:
        self.user = user
        super().__init__(f"unknown user {user!r}")


@dataclass(frozen=True)
class StoredProfile:
    """One generated version; ``interests`` holds ``{"tag", "weight", "source"}`` objects."""

    user: str
    version: int
    text: str
    interests: tuple[dict[str, Any], ...]
    model_id: str
    prompt_version: str
    input_hash: str
    created: float


@dataclass(frozen=True)
class ProfileEdits:
    """The user's own changes: ``text`` replaces the generated text when set; ``added`` tags are
    always shown, ``removed`` ones never."""

    user: str
    text: str | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    updated: float

    @property
    def empty(self) -> bool:
        return self.text is None and not self.added and not self.removed


@dataclass(frozen=True)
class DeletedProfile:
    versions: int
    edits: int
    # (model id, prompt version, input hash) of each deleted version: the LLM result cache holds
    # the same answers and is cleared by the caller.
    result_keys: tuple[tuple[str, str, str], ...] = ()


_PROFILE_COLS = "p.version, p.text, p.interests, p.model_id, p.prompt_version, p.input_hash, p.created"


def _profile(user: str, row: Sequence[Any]) -> StoredProfile:
    return StoredProfile(
        user, int(row[0]), row[1], tuple(json.loads(row[2])), row[3], row[4], row[5], float(row[6])
    )


class ProfileStore:
    """Profile reads and writes over one :class:`~mediarec.store.db.Store` (``store.profiles``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def _user_id(conn: Conn, user: str) -> int:
        # Locked on PostgreSQL for the rest of the write, so a deletion cannot slip in between.
        row = conn.execute(
            f"SELECT id FROM users WHERE external_id = ?{conn.dialect.for_update}", (user,)
        ).fetchone()
        if row is None:
            raise UnknownUserError(user)
        return int(row[0])

    # -- generated versions ------------------------------------------------------------------
    def add(
        self,
        user: str,
        text: str,
        interests: Iterable[dict[str, Any]],
        model_id: str,
        prompt_version: str,
        input_hash: str,
        token: tuple[int, float] | None = None,
    ) -> StoredProfile:
        """Append a new version (1 for the first) and return it.

        ``token`` (:meth:`Store.user_token` when the history was read): refuse, as for an unknown
        user, when the user was deleted meanwhile, even if the id exists again as someone new.
        """
        now = time.time()
        payload = json.dumps(list(interests), ensure_ascii=False)

        def run(tx: Conn) -> None:
            uid = self._user_id(tx, user)
            if token is not None and not self._store.user_alive(tx, user, token):
                raise UnknownUserError(user)
            version = tx.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM user_profiles WHERE user_id = ?", (uid,)
            ).fetchone()[0]
            tx.execute(
                """INSERT INTO user_profiles (user_id, version, text, interests, model_id, prompt_version,
                                              input_hash, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (uid, version, text, payload, model_id, prompt_version, input_hash, now),
            )

        # Another process adding a version at once takes the same number first: run again.
        self._store.write(run)
        found = self.latest(user)
        assert found is not None
        return found

    def latest(self, user: str) -> StoredProfile | None:
        row = self._store.conn.execute(
            f"""SELECT {_PROFILE_COLS} FROM user_profiles p JOIN users u ON u.id = p.user_id
                WHERE u.external_id = ? ORDER BY p.version DESC LIMIT 1""",
            (user,),
        ).fetchone()
        return _profile(user, row) if row else None

    def versions(self, user: str) -> list[StoredProfile]:
        """Every stored version, oldest first."""
        rows = self._store.conn.execute(
            f"""SELECT {_PROFILE_COLS} FROM user_profiles p JOIN users u ON u.id = p.user_id
                WHERE u.external_id = ? ORDER BY p.version""",
            (user,),
        )
        return [_profile(user, r) for r in rows]

    # -- the user's edits --------------------------------------------------------------------
    def edits(self, user: str) -> ProfileEdits | None:
        row = self._store.conn.execute(
            """SELECT e.text, e.added_tags, e.removed_tags, e.updated FROM user_profile_edits e
               JOIN users u ON u.id = e.user_id WHERE u.external_id = ?""",
            (user,),
        ).fetchone()
        if row is None:
            return None
        return ProfileEdits(user, row[0], tuple(json.loads(row[1])), tuple(json.loads(row[2])), row[3])

    def edit(
        self,
        user: str,
        text: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> ProfileEdits:
        """Apply one edit on top of the earlier ones, atomically.

        ``text``: None keeps the current override, ``""`` drops it (the generated text shows again),
        anything else replaces it. Adding a tag takes it off the removed list and the other way
        round, so the last word on a tag wins. Tags are expected normalised already.
        """
        now = time.time()
        with self._store.transaction() as tx:
            uid = self._user_id(tx, user)
            row = tx.execute(
                "SELECT text, added_tags, removed_tags FROM user_profile_edits WHERE user_id = ?", (uid,)
            ).fetchone()
            current_text: str | None = row[0] if row else None
            # Insertion-ordered dicts: each tag costs O(1), where list scans made a long edit quadratic.
            added = dict.fromkeys(json.loads(row[1]) if row else [])
            removed = dict.fromkeys(json.loads(row[2]) if row else [])
            for tag in add_tags:
                removed.pop(tag, None)
                added[tag] = None
            for tag in remove_tags:
                added.pop(tag, None)
                removed[tag] = None
            for name, kept in (("added", added), ("removed", removed)):
                if len(kept) > MAX_KEPT_PROFILE_TAGS:
                    raise ValueError(
                        f"this edit would keep {len(kept)} {name} tags for the user; the limit is "
                        f"{MAX_KEPT_PROFILE_TAGS}"
                    )
            if text is not None:
                current_text = text or None
            tx.execute(
                """INSERT INTO user_profile_edits (user_id, text, added_tags, removed_tags, updated)
                   VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET text = excluded.text,
                   added_tags = excluded.added_tags, removed_tags = excluded.removed_tags,
                   updated = excluded.updated""",
                (uid, current_text, json.dumps(list(added)), json.dumps(list(removed)), now),
            )
        return ProfileEdits(user, current_text, tuple(added), tuple(removed), now)

    # -- deletion ----------------------------------------------------------------------------
    def result_keys(self, user: str) -> tuple[tuple[str, str, str], ...]:
        """(model id, prompt version, input hash) of every stored version of the user's profile."""
        rows = self._store.conn.execute(
            """SELECT p.model_id, p.prompt_version, p.input_hash FROM user_profiles p
               JOIN users u ON u.id = p.user_id WHERE u.external_id = ?""",
            (user,),
        )
        return tuple((r[0], r[1], r[2]) for r in rows)

    def delete(self, user: str) -> DeletedProfile:
        """Remove every version and the edits of ``user`` (the user and their events stay)."""
        keys = self.result_keys(user)
        with self._store.transaction() as tx:
            row = tx.execute("SELECT id FROM users WHERE external_id = ?", (user,)).fetchone()
            if row is None:
                return DeletedProfile(0, 0)
            versions = tx.execute("DELETE FROM user_profiles WHERE user_id = ?", (row[0],)).rowcount
            edits = tx.execute("DELETE FROM user_profile_edits WHERE user_id = ?", (row[0],)).rowcount
        return DeletedProfile(int(versions), int(edits), keys)

    def count(self) -> int:
        """Users with at least one generated version."""
        row = self._store.conn.execute("SELECT count(DISTINCT user_id) FROM user_profiles").fetchone()
        return int(row[0])
