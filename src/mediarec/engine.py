"""The library's front door: one object over the store, the importers and the trained models.

The CLI and the HTTP server are thin shells over :class:`MediaRec`; everything they can do, a
Python user can do with it directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from mediarec import recommenders
from mediarec.datasets import Dataset, EventTable, ImportReport, import_path
from mediarec.interactions import Interactions, InteractionWeights, from_events
from mediarec.recommenders import Recommender, repository
from mediarec.records import EventRecord, ItemRecord
from mediarec.settings import Settings, load_settings
from mediarec.store import Store, StoredItem


class UnknownItemError(KeyError):
    def __str__(self) -> str:
        return f"unknown item {self.args[0]!r}"


@dataclass(frozen=True)
class Reason:
    """Why an item is recommended: ``kind`` names the rule, ``evidence`` points at what supports it."""

    kind: str  # "similar_to_seen" | "popular" | "collaborative"
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float
    title: str
    kind: str | None = None
    creator: str | None = None
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "score": self.score,
            "title": self.title,
            "kind": self.kind,
            "creator": self.creator,
            "reasons": [{"kind": r.kind, "text": r.text, "evidence": r.evidence} for r in self.reasons],
        }


@dataclass(frozen=True)
class _Loaded:
    path: Path
    model: Recommender
    user_index: dict[str, int]
    item_index: dict[str, int]
    popularity: np.ndarray  # training users per item: the fallback ranking


class MediaRec:
    """A mediarec installation rooted at a data home."""

    def __init__(self, home: str | Path | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings(home)
        self.home = self.settings.home_path
        self.home.mkdir(parents=True, exist_ok=True)
        self._store: Store | None = None
        self._models: dict[str, _Loaded] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.from_url(
                self.settings.resolved_store_url, batch_size=self.settings.import_batch_size
            )
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> MediaRec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data in -----------------------------------------------------------------------------
    def import_data(
        self, path: str | Path, fmt: str | None = None, progress: Callable[[ImportReport], None] | None = None
    ) -> ImportReport:
        return import_path(
            self.store, path, fmt, batch_size=self.settings.import_batch_size, progress=progress
        )

    def add_items(self, items: Sequence[ItemRecord]) -> int:
        return self.store.upsert_items(items)

    def add_events(self, events: Sequence[EventRecord]) -> tuple[int, list[tuple[int, str]]]:
        return self.store.add_events(events)

    def ingest(
        self,
        paths: Sequence[str | Path],
        options: Any = None,
        progress: Callable[[int, int, Any], None] | None = None,
    ) -> Any:
        """Understand media files (see :mod:`mediarec.pipeline`); returns an ``IngestSummary``."""
        from mediarec.pipeline import ingest

        return ingest(self.store, self.settings, paths, options, progress=progress)

    def understanding(self, item: str) -> dict[str, dict[str, Any]]:
        """The newest output of every content stage for one item: stage -> payload (+ version)."""
        if self.store.get_item(item) is None:
            raise UnknownItemError(item)
        out: dict[str, dict[str, Any]] = {}
        for stage in self.store.feature_keys(item):
            found = self.store.latest_feature(item, stage)
            if found is not None:
                version, payload, vector = found
                out[stage] = {
                    "version": version,
                    "payload": payload,
                    "dim": None if vector is None else len(vector),
                }
        return out

    # -- training ----------------------------------------------------------------------------
    @property
    def weights(self) -> InteractionWeights:
        return InteractionWeights.from_settings(self.settings)

    def interactions(self) -> Interactions:
        """The training matrix from every stored event, over the whole stored catalogue."""
        ev = self.store.event_columns()
        return from_events(
            ev.users,
            ev.items,
            ev.types,
            ev.values,
            ev.times,
            self.weights,
            item_ids=self.store.all_item_ids(),
        )

    def dataset(self) -> Dataset:
        """The store's content as an in-memory dataset, e.g. for ``evaluate`` without a file."""
        ev = self.store.event_columns()
        table = EventTable(
            ev.users, ev.items, ev.types, ev.values, ev.times, np.full(len(ev.users), "", dtype=str)
        )
        items = [
            ItemRecord(external_id=str(i.external_id), title=i.title, kind=i.kind, creator=i.creator)
            for i in self.store.list_items(limit=-1)
        ]
        return Dataset(name=f"store {self.store.path}", items=items, events=table)

    def model_params(self, name: str) -> dict[str, Any]:
        """Settings that map onto a model's options (seed, threads, popularity half-life)."""
        cls, _ = recommenders.MODELS[name]
        fields = set(cls.params_cls.__dataclass_fields__)
        params: dict[str, Any] = {}
        if "seed" in fields:
            params["seed"] = self.settings.seed
        if "threads" in fields:
            params["threads"] = self.settings.threads
        if "half_life_days" in fields:
            params["half_life_days"] = self.settings.popularity_half_life_days
        return params

    def train(self, model: str | None = None, **params: Any) -> tuple[Path, Recommender]:
        name = model or self.settings.default_model
        data = self.interactions()
        if data.nnz == 0:
            raise ValueError("the store holds no positive interactions yet; import some first")
        fitted = recommenders.create(name, **{**self.model_params(name), **params}).fit(data)
        path = repository.save(fitted, self.home, name)
        return path, fitted

    # -- serving -----------------------------------------------------------------------------
    def loaded(self, name: str | None = None) -> _Loaded | None:
        """The newest saved version of a model, reloaded when a newer one appears."""
        name = name or self.settings.default_model
        if name not in recommenders.MODELS:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(recommenders.MODELS)}")
        found = repository.versions(self.home, name)
        if not found:
            return None
        with self._lock:
            current = self._models.get(name)
            if current is None or current.path != found[-1]:
                model = repository.load(found[-1])
                assert model.seen is not None
                popularity = np.asarray((model.seen > 0).sum(axis=0)).ravel().astype(np.float32)
                current = _Loaded(
                    found[-1],
                    model,
                    {str(u): i for i, u in enumerate(model.user_ids)},
                    {str(it): i for i, it in enumerate(model.item_ids)},
                    popularity,
                )
                self._models[name] = current
            return current

    def _candidates(self, loaded: _Loaded, kind: str | None, creator: str | None) -> np.ndarray | None:
        if not kind and not creator:
            return None
        attrs = self.store.item_attributes()
        keep = [
            pos
            for pos, ext in enumerate(loaded.model.item_ids)
            if (a := attrs.get(str(ext))) is not None
            and (not kind or a[0] == kind)
            and (not creator or a[1] == creator)
        ]
        return np.asarray(keep, dtype=np.int64)

    def recommend(
        self,
        user: str,
        n: int = 10,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        model: str | None = None,
    ) -> list[Recommendation]:
        """Top-``n`` items for a user. Users the model has not seen get popular items instead."""
        loaded = self.loaded(model)
        if loaded is None:
            return self._popular_from_store(user, n, exclude_seen, kind, creator)
        seen_now = self.store.seen_items(user) if exclude_seen else set()
        exclude = [loaded.item_index[i] for i in seen_now if i in loaded.item_index]
        candidates = self._candidates(loaded, kind, creator)
        row = loaded.user_index.get(user)
        if row is None:
            scores = loaded.popularity.copy()
            scores[exclude] = -np.inf
            if candidates is not None:
                mask = np.ones(len(scores), dtype=bool)
                mask[candidates] = False
                scores[mask] = -np.inf
            order = [int(i) for i in np.argsort(-scores, kind="stable")[:n] if np.isfinite(scores[i])]
            return self._build(loaded, order, scores[order], user_row=None, fallback=True)
        ids, scores = loaded.model.recommend(
            [row], n=n, filter_seen=exclude_seen, candidates=candidates, exclude=[exclude]
        )
        keep = ids[0] >= 0
        return self._build(loaded, ids[0][keep].tolist(), scores[0][keep], user_row=row, fallback=False)

    def similar(self, item: str, n: int = 10, model: str | None = None) -> list[Recommendation]:
        loaded = self.loaded(model)
        if loaded is None:
            raise ValueError("no trained model yet: run `mediarec train` first")
        pos = loaded.item_index.get(item)
        if pos is None:
            raise UnknownItemError(item)
        ids, scores = loaded.model.similar_items([pos], n=n)
        finite = np.isfinite(scores[0])
        title = self._titles([item]).get(item, item)
        reason = Reason("similar_item", f"similar to {title}", {"item_id": item, "title": title})
        out = self._build(loaded, ids[0][finite].tolist(), scores[0][finite], user_row=None, fallback=False)
        return [Recommendation(r.item_id, r.score, r.title, r.kind, r.creator, (reason,)) for r in out]

    def _titles(self, ids: Sequence[str]) -> dict[str, str]:
        return {k: v.title or k for k, v in self.store.items_by_external_ids(ids).items()}

    def _build(
        self, loaded: _Loaded, positions: list[int], scores: np.ndarray, user_row: int | None, fallback: bool
    ) -> list[Recommendation]:
        ext = [str(loaded.model.item_ids[p]) for p in positions]
        items: dict[str, StoredItem] = self.store.items_by_external_ids(ext)
        anchors = self._anchors(loaded, positions, user_row) if user_row is not None else {}
        # One query for every title the reasons will name, not one per recommendation.
        anchor_titles = self._titles([str(loaded.model.item_ids[a]) for a in anchors.values()])
        out = []
        for pos, item_id, score in zip(positions, ext, scores, strict=True):
            stored = items.get(item_id)
            reasons: list[Reason] = []
            if fallback:
                count = int(loaded.popularity[pos])
                reasons.append(Reason("popular", f"popular: {count} viewers", {"viewers": count}))
            elif pos in anchors:
                anchor = str(loaded.model.item_ids[anchors[pos]])
                title = anchor_titles.get(anchor, anchor)
                reasons.append(
                    Reason(
                        "similar_to_seen", f"because you watched {title}", {"item_id": anchor, "title": title}
                    )
                )
            else:
                reasons.append(
                    Reason("collaborative", f"liked by viewers with your taste ({loaded.model.name})", {})
                )
            out.append(
                Recommendation(
                    item_id=item_id,
                    score=float(score),
                    title=stored.title if stored and stored.title else item_id,
                    kind=stored.kind if stored else None,
                    creator=stored.creator if stored else None,
                    reasons=tuple(reasons),
                )
            )
        return out

    def _anchors(self, loaded: _Loaded, positions: list[int], user_row: int) -> dict[int, int]:
        """For each recommended item, the user's training item most similar to it (cosine over the
        model's item vectors): the evidence behind "because you watched X"."""
        model = loaded.model
        assert model.seen is not None
        history = model.seen[user_row].indices
        if not len(history) or not positions:
            return {}
        vectors = model.item_vectors()
        if isinstance(vectors, sp.spmatrix | sp.sparray):
            rec = np.asarray(vectors[positions].toarray(), dtype=np.float32)
            hist = np.asarray(vectors[history].toarray(), dtype=np.float32)
        else:
            rec = np.asarray(vectors[positions], dtype=np.float32)
            hist = np.asarray(vectors[history], dtype=np.float32)
        rec /= np.maximum(np.linalg.norm(rec, axis=1, keepdims=True), 1e-12)
        hist /= np.maximum(np.linalg.norm(hist, axis=1, keepdims=True), 1e-12)
        sims = rec @ hist.T
        best = sims.argmax(axis=1)
        return {
            p: int(history[b]) for p, b, s in zip(positions, best, sims.max(axis=1), strict=True) if s > 0
        }

    def _popular_from_store(
        self, user: str, n: int, exclude_seen: bool, kind: str | None, creator: str | None
    ) -> list[Recommendation]:
        """Before any model is trained: rank stored items by how many users engaged with them."""
        data = self.interactions()
        counts = np.asarray((data.matrix > 0).sum(axis=0)).ravel()
        seen = self.store.seen_items(user) if exclude_seen else set()
        attrs = self.store.item_attributes()
        chosen: list[int] = []
        for pos in np.argsort(-counts, kind="stable"):
            a = attrs.get(str(data.item_ids[pos]))
            if (
                str(data.item_ids[pos]) in seen
                or a is None
                or (kind and a[0] != kind)
                or (creator and a[1] != creator)
            ):
                continue
            chosen.append(int(pos))
            if len(chosen) >= n:
                break
        titles = self._titles([str(data.item_ids[p]) for p in chosen])
        out: list[Recommendation] = []
        for pos in chosen:
            item_id, count = str(data.item_ids[pos]), int(counts[pos])
            kind_, creator_, _ = attrs[item_id]
            reason = Reason("popular", f"popular: {count} viewers", {"viewers": count})
            out.append(
                Recommendation(
                    item_id, float(count), titles.get(item_id, item_id), kind_, creator_, (reason,)
                )
            )
        return out

    # -- privacy -----------------------------------------------------------------------------
    def delete_user(self, user: str) -> dict[str, int]:
        """Delete a user everywhere: events in the store and their rows in every saved model."""
        events = self.store.delete_user(user)
        # Hold the model lock throughout: a request meanwhile must neither load a version that still
        # holds the user nor find the folder missing while it is swapped.
        with self._lock:
            models = repository.scrub_user(self.home, user)
            self._models.clear()
        return {"events_deleted": events, "models_scrubbed": models}
