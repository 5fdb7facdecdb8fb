"""The ranking pipeline: candidates ► blend ► filters ► freshness ► MMR + caps ► exploration ► reasons.

:class:`Ranker` holds what requests share (catalogue snapshot, trending figures, per-model views and
folded user vectors); everything per user is read live from the store on each request.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from mediarec.interactions import InteractionWeights
from mediarec.rank import prefetch
from mediarec.rank.audience import AudienceCache, AudienceRule, BandCache, audiences, eligible, new_items
from mediarec.rank.blend import blend
from mediarec.rank.candidates import (
    Source,
    Trending,
    TrendingCache,
    cf_source,
    content_source,
    fresh_source,
    top_allowed,
    trending_source,
)
from mediarec.rank.catalog import BACKGROUND_RELOAD_ITEMS, Catalog, CatalogCache
from mediarec.rank.cf_index import IndexedCF, LazyFactorIndex, wants_index
from mediarec.rank.coviewers import CoviewerBits, gathered
from mediarec.rank.diversity import Caps, mmr
from mediarec.rank.explain import ExplainContext, explain, popular_reason, removed_tags, user_interests
from mediarec.rank.explore import explore_rng, explore_slots
from mediarec.rank.filters import allowed_mask
from mediarec.rank.foldin import FoldIn
from mediarec.rank.freshness import freshness_bonus
from mediarec.rank.history import UserHistory, load_history
from mediarec.rank.neighbours import BUILD_LOCK, LazyIndex, VectorIndex
from mediarec.rank.options import SOURCES, RankOptions
from mediarec.rank.records import FALLBACK_POPULARITY, RankResult, Reason, Recommendation
from mediarec.rank.steer import Steering
from mediarec.recommenders import Recommender

if TYPE_CHECKING:
    from mediarec.store import Store

DAY = 86400.0


@dataclass(frozen=True)
class ModelRef:
    """The served model as the engine loaded it."""

    path: Path
    model: Recommender
    user_index: dict[str, int]
    popularity: np.ndarray  # training viewers per model item


@dataclass(frozen=True)
class ModelView:
    """A model aligned with one catalogue snapshot."""

    ref: ModelRef
    fold: FoldIn
    model_of_cat: np.ndarray  # catalogue position -> model item position, -1 when the model lacks it
    cat_of_model: np.ndarray  # model position -> catalogue position, -1 for items gone from the store
    vectors: np.ndarray | None  # unit item vectors in catalogue order (dense models), zeros if absent
    sparse_unit: sp.csr_matrix | None  # unit item vectors in model order (sparse models)
    viewers: np.ndarray  # training viewers per catalogue position
    seen_csc: sp.csc_matrix | None = None  # the training matrix by item: who engaged with what
    # ALS on a big catalogue: CF candidates from an inner-product index (rank/cf_index.py)
    factor_index: LazyFactorIndex | None = None
    # seen_csc as packed bit rows, for the co-viewer counts of the reasons (rank/coviewers.py)
    coviewer_bits: CoviewerBits | None = None

    @cached_property
    def _index(self) -> LazyIndex | None:
        with BUILD_LOCK:
            made = self.__dict__.get("_index")  # a concurrent first use may have made it meanwhile
            if made is None and self.vectors is not None:
                path = self.ref.path / "model-vectors.usearch"
                made = LazyIndex(self.vectors, self.model_of_cat >= 0, path)
            return made

    @property
    def index(self) -> VectorIndex | None:
        """Neighbours among ``vectors`` (an HNSW index when big), made on first use: most requests
        find neighbours in content space and never need the model's. A big one is built in the
        background (rank/neighbours.py, LazyIndex): None until then, and callers search exactly."""
        lazy = self._index
        return lazy.get() if lazy is not None else None


def _view(ref: ModelRef, catalog: Catalog) -> ModelView:
    model = ref.model
    cat_of_model = np.asarray([catalog.index.get(str(i), -1) for i in model.item_ids], dtype=np.int64)
    model_of_cat = np.full(len(catalog), -1, dtype=np.int64)
    ok = cat_of_model >= 0
    model_of_cat[cat_of_model[ok]] = np.flatnonzero(ok)
    raw = model.item_vectors()
    vectors, sparse_unit = None, None
    if isinstance(raw, sp.spmatrix | sp.sparray):
        norms = np.sqrt(np.asarray(raw.multiply(raw).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        sparse_unit = sp.csr_matrix(sp.diags(1.0 / norms) @ raw)
    else:
        dense = np.asarray(raw, dtype=np.float32)
        norms = np.linalg.norm(dense, axis=1)
        norms[norms == 0] = 1.0
        vectors = np.zeros((len(catalog), dense.shape[1]), dtype=np.float32)
        vectors[cat_of_model[ok]] = dense[ok] / norms[ok, None]
    viewers = np.zeros(len(catalog), dtype=np.float32)
    viewers[cat_of_model[ok]] = ref.popularity[ok]
    seen = model.seen.tocsc() if model.seen is not None else None
    bits = CoviewerBits(seen) if seen is not None and CoviewerBits.fits(seen) else None
    fold = FoldIn(model)
    factors = getattr(model, "item_factors", None)
    lazy = None
    if fold.vector_supported and isinstance(factors, np.ndarray) and wants_index(factors):
        lazy = LazyFactorIndex(ref.path, factors)
        lazy.get()  # opened now, or its build started: requests use the exact product until then
    return ModelView(ref, fold, model_of_cat, cat_of_model, vectors, sparse_unit, viewers, seen, lazy, bits)


def removals(stamped: str | None) -> frozenset[str]:
    """The tags a user removed from their profile, from the JSON text that
    :meth:`Store.serving_stamps` returns for them (None: the user never edited their profile)."""
    return frozenset(json.loads(stamped)) if stamped else frozenset()


class Ranker:
    def __init__(self, cache_dir: Path | None = None) -> None:
        self.catalogs = CatalogCache(cache_dir=cache_dir)
        self.trending = TrendingCache()
        self.audience = AudienceCache()
        self._views: dict[tuple[Path, int], ModelView] = {}
        self._lock = threading.Lock()
        self.bands = BandCache()

    def pending(self) -> list[str]:
        """The background work of this ranker that is running now (catalogue check or reload,
        trending, taste vectors, audience bands, a CF or model-space index build): empty once a
        process serves from what it has. Benchmarks time steady-state requests only after this is
        empty; at a million items the first bands take tens of seconds on the cores requests share."""
        busy = []
        catalogs = self.catalogs
        if catalogs._reloading or catalogs._checking:
            busy.append("catalogue")
        if prefetch.running():  # mapped index files still being read into the page cache
            busy.append("index-pages")
        if self.trending._computing.locked() or self.trending._job is not None:
            busy.append("trending")
        if self.audience._refreshing:
            busy.append("tastes")
        if self.bands._busy:
            busy.append("bands")
        with self._lock:
            views = list(self._views.values())
        for view in views:
            if view.factor_index is not None and view.factor_index.building:
                busy.append("cf-index")
            lazy = view.__dict__.get("_index")  # the model-space index, only once something asked
            if lazy is not None and lazy.building:
                busy.append("model-index")
        return busy

    @staticmethod
    def content_index(catalog: Catalog) -> VectorIndex | None:
        """Neighbours over the snapshot's content vectors, built once per snapshot."""
        return catalog.content_index

    def view(self, ref: ModelRef, catalog: Catalog) -> ModelView:
        key = (ref.path, id(catalog))
        # Held while building, so concurrent first requests build a view once, not once each.
        with self._lock:
            found = self._views.get(key)
            if found is not None and found.ref.model is ref.model:
                return found
            made = _view(ref, catalog)
            # One view per model folder (older snapshots are dropped), and per model at most one
            # other version's besides this one: requests still finishing on the version served
            # before a switch keep theirs, and versions trained since do not pile up in memory.
            name = ref.path.parent
            other = [k for k in self._views if k[0].parent == name and k[0] != ref.path][-1:]
            self._views = {k: v for k, v in self._views.items() if k[0].parent != name or k in other}
            self._views[key] = made
            return made

    def rank(
        self,
        store: Store,
        ref: ModelRef,
        user: str,
        n: int,
        *,
        weights: InteractionWeights,
        options: RankOptions,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        now: float | None = None,
        steer: Steering | None = None,
        newest_event_id: int | None = None,
        removed: frozenset[str] | None = None,
    ) -> RankResult:
        """``newest_event_id`` and ``removed`` (the tags the user removed from their profile): what
        the caller has just read from the store (the engine's serving stamps carry both), else read
        here. Each store read is a round trip to the database's process, which on a busy machine
        waits for a core; three of a request's five were reads of what the stamps already held."""
        now = time.time() if now is None else now
        catalog = self.catalogs.get(store)
        view = self.view(ref, catalog)
        history = load_history(store, user, catalog, weights)
        allowed = allowed_mask(
            catalog,
            history,
            exclude_seen=exclude_seen,
            watched_fraction=options.watched_fraction,
            kind=kind,
            creator=creator,
        )
        if steer is not None:  # hard constraints of a steering request (rank/steer.py), strictly
            allowed &= steer.mask
            if not allowed.any():
                return RankResult([], fallback=False)
        caps = Caps(options.max_per_creator, options.max_per_topic)
        cf, folded = self._cf_scores(view, user, history, len(catalog))
        if cf is None and history.empty:
            return self._popular(catalog, view, allowed, n, caps)
        trending = self.trending.get(
            store, catalog, options.trending_window_days, options.trending_half_life_days, newest_event_id
        )
        matches: dict[int, float] = {}
        if options.new_item_share < 1.0:
            # New, little-seen items reach only their audience this period (rank/audience.py).
            blocked, matches = self._audience(
                store, catalog, view, trending.viewers, history, user, weights, options, now, newest_event_id
            )
            allowed = allowed & ~blocked
        sources, content_vectors, space = self._sources(
            catalog, view, history, allowed, cf, trending, options, now, self.content_index(catalog)
        )
        mixed = blend(sources, {s: options.weight(s) for s in SOURCES})
        if options.weight_cold > 0 and options.weight_content > 0 and "content" in mixed.parts:
            # Cold items stand in their content score for the CF score they cannot have.
            cold = view.model_of_cat[mixed.positions] < 0
            lift = options.weight_cold * mixed.parts["content"] / options.weight_content
            mixed.parts["content"][cold] += lift[cold]
            mixed.scores[cold] += lift[cold]
        scores = mixed.scores + freshness_bonus(
            catalog.since[mixed.positions], now, options.freshness_boost, options.freshness_half_life_days
        )
        if steer is not None and steer.shift is not None:
            scores = scores + steer.shift[mixed.positions]
        take = min(options.mmr_pool, len(scores))
        top = np.argsort(-scores, kind="stable")[:take]
        pool = mixed.positions[top]
        picked, values = mmr(
            scores[top],
            self._diversity_vectors(catalog, view, pool),
            n,
            options.mmr_lambda,
            [catalog.creators[p] for p in pool],
            [catalog.topics[p] for p in pool],
            caps,
        )
        ranked = [int(pool[k]) for k in picked]
        if not ranked:
            # Nothing personal survived the filters (say, a new user whose only item has no
            # neighbours): the popular list is better than an empty one.
            return self._popular(catalog, view, allowed, n, caps)
        explored = self._explore(catalog, view, allowed, ranked, values, n, user, options, now)
        anchors = self._cf_anchors(view, history, ranked)
        removed = removed_tags(store, user) if removed is None else removed
        ctx = ExplainContext(
            catalog=catalog,
            interests=user_interests(catalog, history, removed),
            cf_anchors=anchors,
            content_anchors=next((s.anchors for s in sources if s.name == "content"), {}),
            content_vectors=content_vectors,
            content_space=space,
            model_name=ref.model.name,
            model_version=ref.path.name,
            folded_in=folded,
            trending_viewers=trending.viewers,
            trending_window_days=trending.window_days,
            viewers=view.viewers,
            coviewers=self._coviewers(view, history, ranked, user),
            min_similarity=options.reason_min_similarity,
            min_similarity_model=options.reason_min_similarity_model,
            min_coviewers=options.reason_min_coviewers,
            fresh_days=options.fresh_days,
            now=now,
            explore_match={p: matches.get(p, 0.0) for p in explored},
        )
        items = []
        for pos, score in zip(ranked, values, strict=True):
            k = int(np.searchsorted(mixed.positions, pos))  # blend positions are sorted
            found = k < len(mixed.positions) and mixed.positions[k] == pos
            parts = {s: float(v[k]) for s, v in mixed.parts.items() if found and v[k] > 0}
            items.append(self._rec(catalog, pos, score, explain(ctx, pos, parts, pos in explored)))
        counts = {s.name: len(s.positions) for s in sources}
        return RankResult(items, fallback=False, folded_in=folded, sources=counts)

    # -- steps -------------------------------------------------------------------------------
    @staticmethod
    def _cf_scores(
        view: ModelView, user: str, history: UserHistory, n_cat: int
    ) -> tuple[np.ndarray | IndexedCF | None, bool]:
        model_pos = view.model_of_cat[history.items] if len(history.items) else history.items
        known = model_pos >= 0
        row = view.ref.user_index.get(user)
        index = view.factor_index.get() if view.factor_index is not None else None
        if index is not None:
            vec = view.fold.vector(user, row, model_pos[known], history.weights[known], history.stamp)
            return (None, False) if vec is None else (IndexedCF(index, vec[0], view.cat_of_model), vec[1])
        found = view.fold.scores(user, row, model_pos[known], history.weights[known], history.stamp)
        if found is None:
            return None, False
        scores = np.full(n_cat, -np.inf, dtype=np.float32)
        ok = view.cat_of_model >= 0
        scores[view.cat_of_model[ok]] = found.scores[ok]
        return scores, found.folded

    @staticmethod
    def _sources(
        catalog: Catalog,
        view: ModelView,
        history: UserHistory,
        allowed: np.ndarray,
        cf: np.ndarray | IndexedCF | None,
        trending: Trending,
        o: RankOptions,
        now: float,
        content_index: VectorIndex | None = None,
    ) -> tuple[list[Source], np.ndarray | None, str]:
        sources: list[Source] = []
        if isinstance(cf, IndexedCF) and o.weight_cf > 0:
            found = cf.source(allowed, o.candidates, len(history.seen))
            if found is None:  # too few allowed items among the index's: the exact product
                found = cf_source(cf.full(len(catalog)), allowed, o.candidates)
            sources.append(found)
        elif isinstance(cf, np.ndarray) and o.weight_cf > 0:
            sources.append(cf_source(cf, allowed, o.candidates))
        recent = history.recent[: o.recent_items]
        content_vectors, space, index = None, "", None
        if catalog.content is not None and len(recent) and catalog.has_content[recent].any():
            content_vectors, space = catalog.content, catalog.content_source
            has, index = catalog.has_content, content_index
        elif view.vectors is not None:
            # No content vectors for this user's items: neighbours in the model's item space.
            content_vectors, space = view.vectors, view.ref.model.name
            # The model-space index only for a user with recent items to seed it (at a million items
            # a user with none started its build for nothing).
            has, index = view.model_of_cat >= 0, (view.index if len(recent) else None)
        if content_vectors is not None and o.weight_content > 0 and len(recent):
            sources.append(content_source(content_vectors, has, recent, allowed, o.candidates, space, index))
        if o.weight_trending > 0:
            sources.append(trending_source(trending, allowed, o.candidates))
        if o.weight_fresh > 0:
            sources.append(
                fresh_source(
                    catalog.since,
                    allowed,
                    o.candidates,
                    now,
                    o.fresh_days,
                    window=catalog.fresh_window(now - o.fresh_days * DAY),
                )
            )
        return sources, content_vectors, space

    @staticmethod
    def _diversity_vectors(catalog: Catalog, view: ModelView, pool: np.ndarray) -> np.ndarray | None:
        """Content vectors when most of the pool has them, else the model's item vectors."""
        if not len(pool):  # a steering request can leave no candidate at all
            return None
        if catalog.content is not None and catalog.has_content[pool].mean() >= 0.5:
            return catalog.content[pool]
        if view.vectors is not None:
            return view.vectors[pool]
        if view.sparse_unit is not None:
            rows = view.model_of_cat[pool]
            out = np.zeros((len(pool), view.sparse_unit.shape[1]), dtype=np.float32)
            ok = rows >= 0
            out[ok] = view.sparse_unit[rows[ok]].toarray()
            return out
        return None

    @staticmethod
    def _explore(
        catalog: Catalog,
        view: ModelView,
        allowed: np.ndarray,
        ranked: list[int],
        values: list[float],
        n: int,
        user: str,
        o: RankOptions,
        now: float,
    ) -> set[int]:
        if o.explore_epsilon <= 0 or not ranked:
            return set()
        # The new items are a suffix of the snapshot's time order: no pass over the whole catalogue.
        new = catalog.fresh_window(now - o.fresh_days * DAY)
        pool = new[allowed[new] & (view.viewers[new] < o.explore_max_viewers)]
        slots = explore_slots(ranked, pool, n, o.explore_epsilon, explore_rng(o.seed, user))
        for slot, pos in sorted(slots):
            slot = min(slot, len(ranked))
            # The explored item takes the displaced item's score, so scores stay non-increasing.
            value = values[slot] if slot < len(values) else values[-1]
            ranked.insert(slot, pos)
            values.insert(slot, value)
        del ranked[n:], values[n:]
        return {p for _, p in slots if p in ranked}

    def _audience(
        self,
        store: Store,
        catalog: Catalog,
        view: ModelView,
        live_viewers: np.ndarray,
        history: UserHistory,
        user: str,
        weights: InteractionWeights,
        o: RankOptions,
        now: float,
        newest_event_id: int | None = None,
    ) -> tuple[np.ndarray, dict[int, float]]:
        rule = AudienceRule(
            o.new_item_share,
            o.new_item_period_days,
            o.new_item_min_match,
            o.fresh_days,
            o.explore_max_viewers,
        )

        def viewers() -> np.ndarray:
            # Made only where needed (computing bands, the fallback below): a catalogue-sized array
            # made on every request cost ~1 ms at a million items while the bands were cached.
            return np.maximum(view.viewers, live_viewers.astype(np.float32))

        # Without content vectors no item can be matched: every new item gets the hashed audience.
        if catalog.content is None:
            found = audiences(np.zeros((0, 0)), catalog, viewers(), rule, now)
            return eligible(found, catalog, history, user, rule, now)
        tastes, content = self.audience.tastes(store, catalog, weights, newest_event_id)
        # The bands rank every user for every new item: computed for a new snapshot, model view or
        # rule, then refreshed in the background for new tastes, trending figures and the clock
        # (rank/audience.py, BandCache), not once per request.
        # A big catalogue's first bands are computed in the background as well (seconds to minutes at
        # a million items); until they exist every new item is held back: shown to nobody rather than
        # to everybody.
        bands = self.bands.get(
            (id(catalog), id(view), hash(rule)),
            (id(tastes), id(live_viewers)),
            now,
            lambda at: audiences(tastes, catalog, viewers(), rule, at, content),
            wait=len(catalog) <= BACKGROUND_RELOAD_ITEMS,
        )
        if bands is None:
            return new_items(catalog, viewers(), rule, now), {}
        return eligible(bands, catalog, history, user, rule, now, content)

    @staticmethod
    def _coviewers(view: ModelView, history: UserHistory, ranked: list[int], user: str) -> dict[int, int]:
        """Other users who engaged with each ranked item and with one of this user's items."""
        seen = view.seen_csc
        if seen is None or not len(history.items) or not ranked:
            return {}
        hist = view.model_of_cat[history.items]
        hist = hist[hist >= 0]
        if not len(hist):
            return {}
        own = view.ref.user_index.get(user)
        models = view.model_of_cat[np.asarray(ranked, dtype=np.int64)]
        known = models >= 0
        # Packed bit rows when the matrix is small enough (rank/coviewers.py), else a mask over users
        # rather than np.unique / intersect1d (sorting a user's co-viewers' ids took 14 ms on ML-1M).
        bits = view.coviewer_bits
        if bits is not None:
            found = bits.counts(hist, models[known], own)
        else:
            found = gathered(seen, hist, models[known], own)
        return dict(zip(np.asarray(ranked)[known].tolist(), found.tolist(), strict=True))

    @staticmethod
    def _cf_anchors(view: ModelView, history: UserHistory, ranked: list[int]) -> dict[int, tuple[int, float]]:
        """For each ranked item, the user's positive item most similar to it in the model's space."""
        if not len(history.items) or not ranked:
            return {}
        hist = history.items[view.model_of_cat[history.items] >= 0]
        recs = np.asarray([p for p in ranked if view.model_of_cat[p] >= 0], dtype=np.int64)
        if not len(hist) or not len(recs):
            return {}
        if view.vectors is not None:
            sims = view.vectors[recs] @ view.vectors[hist].T
        else:
            assert view.sparse_unit is not None
            unit = view.sparse_unit
            sims = np.asarray(
                (unit[view.model_of_cat[recs]] @ unit[view.model_of_cat[hist]].T).todense(), dtype=np.float32
            )
        best = sims.argmax(axis=1)
        out = {}
        for k, p in enumerate(recs.tolist()):
            s = float(sims[k, best[k]])
            if s > 0:
                out[p] = (int(hist[best[k]]), s)
        return out

    @staticmethod
    def _popular(catalog: Catalog, view: ModelView, allowed: np.ndarray, n: int, caps: Caps) -> RankResult:
        """No model row, no events: the most-viewed allowed items, under the caps."""
        # Items nobody engaged with are not popular: they are left out rather than called so.
        pos, counts = top_allowed(
            view.viewers.astype(np.float32), allowed & (view.viewers > 0), max(n * 5, 50)
        )
        picked, _ = mmr(
            counts,
            None,
            n,
            1.0,
            [catalog.creators[p] for p in pos],
            [catalog.topics[p] for p in pos],
            caps,
        )
        items = []
        top = max(float(view.viewers.max()) if len(view.viewers) else 0.0, 1.0)
        for k in picked:
            p, c = int(pos[k]), int(counts[k])
            reason = popular_reason(c)
            # Scored on 0..1 like a personal list: viewers over the catalogue's most viewed item's.
            rec = Ranker._rec(catalog, p, c / top, (reason,) if reason else ())
            items.append(dataclasses.replace(rec, fallback=FALLBACK_POPULARITY))
        return RankResult(items, fallback=True)

    @staticmethod
    def _rec(catalog: Catalog, pos: int, score: float, reasons: tuple[Reason, ...]) -> Recommendation:
        return Recommendation(
            item_id=str(catalog.item_ids[pos]),
            score=float(score),
            title=catalog.titles[pos],
            kind=catalog.kinds[pos],
            creator=catalog.creators[pos],
            reasons=reasons,
        )
