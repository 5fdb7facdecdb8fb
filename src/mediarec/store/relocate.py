"""Migration 6: paths of ingested media and keyframes rewritten into the stored form of
:mod:`mediarec.media.paths` (inside the home: relative to it; elsewhere: absolute).

Rows written before it hold paths as the ingesting command spelled them: absolute when ``--home`` or
the files were given absolute, otherwise relative to that command's working directory, which nothing
recorded. They are read as follows, most certain first:

1. **Keyframes.** The shots stage always wrote them to ``<home>/media/<hash>/keyframes/<file>``, so the
   tail from ``media/`` on is the path relative to the home, whatever came before it. That prefix is
   also the home's old spelling (``mediarec-data``, ``/srv/old-home``), remembered for step 2.
2. **Media under an old spelling of the home** (``mediarec-data/demo-media/clip.mp4``): relative to the
   home, by cutting that prefix. This needs no guess about any working directory, and it is what makes
   a copied home (``cp -r``) play its own files instead of the original's.
3. **Other relative media paths**: the old working directory is guessed, in this order: the folder the
   old home spelling implies (``<home>/..`` for ``mediarec-data``), the home's parent (the default home
   is ``./mediarec-data``), and the migrating command's working directory. The first guess under which
   the file exists wins; when several do and name different files, the one whose content hash matches
   the item's wins. When none exists (a drive not mounted now) the first guess is stored, made absolute,
   so that it is not read as relative to the home later; ``mediarec ingest`` on the file fixes it.
4. **Other absolute paths** stay as they are: they meant the same file before and after.

Only items registered by ``ingest`` (with a content hash) are touched: a ``uri`` from a catalogue
import or the API is whatever its writer meant, and is left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from pathlib import Path, PurePosixPath

from mediarec.media.paths import stored_path

# The tail the shots stage gave every keyframe: media/<first 16 hex digits of the hash>/keyframes/<file>.
_KEYFRAME_TAIL = re.compile(r"(?:^|/)(media/[0-9a-f]{16}/keyframes/[^/]+)$")


def relocate_paths(tx: sqlite3.Connection, db_path: Path) -> None:
    """Rewrite ingested items' ``uri``, their probe payload's ``path`` and their keyframe paths."""
    home = Path(os.path.abspath(db_path.parent))
    old_homes: set[str] = set()
    shots = tx.execute("SELECT id, payload FROM item_features WHERE extractor = 'shots'").fetchall()
    for row_id, raw in shots:
        payload = json.loads(raw)
        shots_list = payload.get("shots") if isinstance(payload, dict) else None
        changed = False
        for shot in shots_list if isinstance(shots_list, list) else []:
            old = shot.get("keyframe_path") if isinstance(shot, dict) else None
            if not isinstance(old, str) or (found := _KEYFRAME_TAIL.search(old)) is None:
                continue
            old_homes.add(old[: found.start(1)].rstrip("/"))
            shot["keyframe_path"] = found.group(1)
            changed = True
        if changed:
            tx.execute("UPDATE item_features SET payload = ? WHERE id = ?", (json.dumps(payload), row_id))
    resolver = _Resolver(home, old_homes)
    items = tx.execute(
        "SELECT id, uri, content_hash FROM items WHERE content_hash IS NOT NULL AND uri IS NOT NULL"
    )
    for item_id, uri, digest in items.fetchall():
        new = resolver.stored(uri, digest)
        if new != uri:
            tx.execute("UPDATE items SET uri = ? WHERE id = ?", (new, item_id))
    probes = tx.execute(
        """SELECT f.id, f.payload, i.content_hash FROM item_features f JOIN items i ON i.id = f.item_id
           WHERE f.extractor = 'probe' AND i.content_hash IS NOT NULL"""
    )
    for row_id, raw, digest in probes.fetchall():
        payload = json.loads(raw)
        old = payload.get("path") if isinstance(payload, dict) else None
        if isinstance(old, str) and old:
            new = resolver.stored(old, digest)
            if new != old:
                payload["path"] = new
                tx.execute("UPDATE item_features SET payload = ? WHERE id = ?", (json.dumps(payload), row_id))


class _Resolver:
    def __init__(self, home: Path, old_homes: set[str]) -> None:
        self.home = home
        # Longest first, so that "/a/home/sub" is cut before "/a/home" would be.
        self.old_homes = sorted(old_homes, key=len, reverse=True)
        bases: list[Path] = []
        for old in self.old_homes:
            parts = PurePosixPath(old).parts
            # "mediarec-data" then was <cwd>/mediarec-data; if that is this home, <cwd> is its parent.
            relative = old and not PurePosixPath(old).is_absolute() and ".." not in parts
            if relative and home.parts[-len(parts) :] == parts:
                bases.append(Path(*home.parts[: -len(parts)]))
        bases += [home.parent, Path.cwd()]
        self.bases = list(dict.fromkeys(bases))

    def stored(self, uri: str, digest: str | None) -> str:
        if "://" in uri:
            return uri  # a URL (file:// ones are already in the new form)
        for old in self.old_homes:
            if old == "" and not os.path.isabs(uri):
                return uri  # the home was the working directory: relative to it is relative to the home
            if old and uri.startswith(old + "/"):
                return uri[len(old) + 1 :]
        if os.path.isabs(uri):
            return uri
        existing = [b / uri for b in self.bases if (b / uri).is_file()]
        distinct = list({os.path.realpath(p): p for p in existing}.values())
        if len(distinct) > 1 and digest:
            distinct = [p for p in distinct if _sha256(p) == digest] or distinct
        chosen = distinct[0] if distinct else self.bases[0] / uri
        return stored_path(chosen, self.home)


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
