"""The library's front door: one object over the store, the importers and the trained models.

The CLI and the HTTP server are thin shells over :class:`MediaRec`; everything they can do, a
Python user can do with it directly.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec import recommenders
from mediarec.datasets import Dataset, EventTable, ImportReport, import_path
from mediarec.interactions import Interactions, InteractionWeights, from_events
from mediarec.rank import ModelRef, Ranker, RankOptions, RankResult, Reason, Recommendation, cf_index
from mediarec.rank.cache import CacheKey, Entry, ResultCache, Serials, clock
from mediarec.rank.explain import popular_reason
from mediarec.rank.llm_rerank import RerankGate
from mediarec.rank.ranker import removals
from mediarec.rank.records import FALLBACK_POPULARITY
from mediarec.rank.warm import Warmer
from mediarec.recommenders import Recommender, repository
from mediarec.recommenders.live import LiveModels, LoadedModel
from mediarec.recommenders.tuned import TunedConfig, load_tuned
from mediarec.records import EventRecord, ItemRecord, stored_item
from mediarec.settings import Settings, load_settings
from mediarec.store import Store, StoredItem

if TYPE_CHECKING:
    from mediarec.llm.backends import LLMBackend
    from mediarec.llm.describe import DescribeOptions, DescribeOutcome, DescribeSummary
    from mediarec.users import Interest, ProfileDraft, ProfileOptions, TasteProfile


log = logging.getLogger("mediarec.engine")
# After a new model version, this many of the most recently used lists are re-ranked in the background:
# only lists requested again after the request that ranked them. With events arriving, the trending
# figures move every minute and stale every list at once; re-ranking lists asked for once (a stream
# of first requests, or POST then GET by many users) spent the warmer's whole budget (up to a third
# of a core per worker, rank/warm.py) on lists nobody was asking for, beside the requests' GIL.
WARM_LISTS = 1000
REFILL_QUEUE = 2000  # at most this many lists wait for a background re-rank

LLM_ALIASES = {"fast": "llama://qwen-0.5b", "quality": "llama://qwen-1.5b"}


def llm_url(model: str) -> str:
    """``fast``/``quality``, a kit model name (``qwen-1.5b``) or a URL, as an LLM URL."""
    if model in LLM_ALIASES:
        return LLM_ALIASES[model]
    return model if "://" in model else f"llama://{model}"


class UnknownItemError(KeyError):
    def __str__(self) -> str:
        return f"unknown item {self.args[0]!r}"


_Loaded = LoadedModel  # the served version of a model: recommenders/live.py


class MediaRec:
    """A mediarec installation rooted at a data home."""

    def __init__(
        self,
        home: str | Path | None = None,
        settings: Settings | None = None,
        llm: LLMBackend | None = None,  # None: the backend the llm_url setting names, on first use
    ) -> None:
        self.settings = settings or load_settings(home)
        self.home = self.settings.home_path
        self.home.mkdir(parents=True, exist_ok=True)
        self._chosen_default = self.settings.default_model
        self.tuned: TunedConfig | None = None
        self.apply_tuned()
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._llm = llm
        self._ranker = Ranker(cache_dir=self.home / "cache")
        # The newest saved version of each model, looked for every model_check_seconds, so a
        # version trained by another process or machine is served without a restart.
        self._live = LiveModels(self.models_dir, self.settings.model_check_seconds, self._warm)
        self._deletions: int | None = None  # the store's deletion stamp the loaded state matches
        self._steerer: Any = None  # mediarec.steering.Steerer, made on the first steered request
        self._finder: Any = None  # mediarec.moments.Finder, made on the first search
        # Ranked lists, each served again while its token (rank/cache.py) is unchanged.
        self.results = ResultCache(self.settings.serve_cache_size)
        self._serials = Serials()
        self._refiller: Any = None  # a one-thread executor, made on the first refill
        self._refill_queued = 0  # lists waiting for it
        self._refill_lock = threading.Lock()
        self._served: dict[str, tuple[str, tuple[int, int]]] = {}  # model -> the version last ranked
        # After a change that makes every cached list stale at once, the recently used lists are
        # re-ranked in the background (rank/warm.py); _shared is the snapshot serials last seen.
        self._warmer = Warmer(self._rank_key)
        self._shared: tuple[Any, ...] | None = None
        # Servers set it: once the first model version is served, what was loaded so far is moved
        # out of the garbage collector's sight (gc.freeze). A full collection walked those ~140,000
        # objects (ML-1M) in about 64 ms, a pause for every request in flight each time it ran.
        self.freeze_gc = False
        self._rank_options: RankOptions | None = None
        self._rerank_gate = RerankGate.from_settings(self.settings)  # a bad llm_rerank fails here

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.from_url(
                self.settings.resolved_store_url, batch_size=self.settings.import_batch_size
            )
            self._store.change_bound = self.settings.serve_change_bound_seconds  # store/changes.py
        return self._store

    @property
    def models_dir(self) -> Path:
        """Where trained versions live: the ``models_dir`` setting, else ``<home>/models``."""
        return self.settings.models_path

    def close(self) -> None:
        self._warmer.close()
        if self._refiller is not None:  # before the store: a refill would open it again
            self._refiller.shutdown(wait=True, cancel_futures=True)
            self._refiller, self._refill_queued = None, 0
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> MediaRec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data in -----------------------------------------------------------------------------
    def import_data(
        self,
        path: str | Path,
        fmt: str | None = None,
        progress: Callable[[ImportReport], None] | None = None,
        kind: str | None = None,  # every item's kind, for formats whose files do not say it (split)
    ) -> ImportReport:
        return import_path(
            self.store,
            path,
            fmt,
            batch_size=self.settings.import_batch_size,
            progress=progress,
            kind=kind,
            reader_process=self.settings.import_reader_process,
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

    def describe(
        self,
        items: Sequence[str] | None = None,
        model: str | None = None,
        options: DescribeOptions | None = None,
        progress: Callable[[int, int, DescribeOutcome], None] | None = None,
    ) -> DescribeSummary:
        """The LLM's description, tags with evidence and key moments for ingested items (default:
        every item with content features). ``model``: ``fast``, ``quality``, a kit model name or an
        LLM URL; default the ``llm_url`` setting."""
        from mediarec.kit.locate import ModelNotInstalled
        from mediarec.llm.backends import backend_from_url
        from mediarec.llm.cache import ResultCache
        from mediarec.llm.describe import describe_items
        from mediarec.ray_cluster import ray_enabled

        if ray_enabled(self.settings):  # the LLM runs in Ray actors; this process loads no model
            from mediarec.llm.describe_ray import describe_on_ray

            llm: Any = llm_url(model) if model else (self._llm or self.settings.llm_url)
            with ResultCache(self.llm_cache_dir) as cache:
                return describe_on_ray(self.store, self.settings, llm, items, options, cache, progress)
        backend = backend_from_url(llm_url(model), self.settings) if model else self.llm_backend()
        embed = None
        if options is None or options.embed:
            from mediarec.understand.text import MiniLM

            try:
                embed = MiniLM.from_settings(self.settings).encode
            except ModelNotInstalled:
                embed = None  # the text vector is a bonus; the description does not need it
        with ResultCache(self.llm_cache_dir) as cache:
            return describe_items(self.store, backend, items, options, cache, embed, progress)

    def apply_tuned(self) -> None:
        """Read what `mediarec tune` saved here (``<home>/tuned.json``), e.g. after a new tune."""
        self.tuned = load_tuned(self.home)
        if self.tuned is not None and self._chosen_default == Settings.default_model:
            # The winner replaces the shipped default, never a default_model the operator set
            # to another model (mediarec.toml, environment, flag).
            self.settings = self.settings.with_overrides(default_model=self.tuned.model)

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
            stored_item(external_id=str(i.external_id), title=i.title, kind=i.kind, creator=i.creator)
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
        deletions = self.store.deletion_stamp()  # read before the events, checked after saving
        data = self.interactions()
        if data.nnz == 0:
            raise ValueError("the store holds no positive interactions yet; import some first")
        tuned = self.tuned.params if self.tuned is not None and self.tuned.model == name else {}
        created = recommenders.create(name, **{**self.model_params(name), **tuned, **params})
        features = None
        if created.uses_item_features:
            # Content and hybrid models read each item's newest fused (else text) vector.
            from mediarec.features import align, store_item_vectors

            found = store_item_vectors(self.store, data.item_ids)
            if found is None:
                raise ValueError(f"model {name!r} needs item vectors; run `mediarec ingest PATH` first")
            features = align(found, data.item_ids)
        fitted = created.fit(data, item_features=features)
        # A big ALS catalogue's CF index is built here, not by each serving process.
        path = repository.save(
            fitted,
            self.home,
            name,
            root=self.models_dir,
            extras=lambda folder: cf_index.save_for(folder, fitted, self.settings.threads),
        )
        if self.store.deletion_stamp() != deletions:
            # Someone was deleted while this model trained (by another process, say): their rows
            # may be in it, and the deletion's own scrub may have run before it was saved.
            users = repository.model_users(path)
            gone = {str(u) for u in users} - self.store.existing_users(str(u) for u in users)
            if gone:
                repository.scrub_users(path, gone)
                fitted = repository.load(path)
        self._live.expire(name)  # this process serves the new version from its next request
        return path, fitted

    # -- serving -----------------------------------------------------------------------------
    def loaded(self, name: str | None = None, deletions: int | None = None) -> _Loaded | None:
        """The newest saved version of a model, reloaded when a newer one appears. ``deletions``:
        the store's deletion stamp, when the caller has just read it."""
        name = name or self.settings.default_model
        if name not in recommenders.MODELS:
            raise ValueError(f"unknown model {name!r}; choose from {', '.join(recommenders.MODELS)}")
        self._watch_deletions(deletions)
        return self._live.get(name)

    def serving(self) -> dict[str, str]:
        """Model name -> the version this process serves now (models requested so far)."""
        return self._live.serving()

    def _warm(self, loaded: _Loaded) -> None:
        # Build the ranking view of a new version before requests switch to it.
        ref = ModelRef(loaded.path, loaded.model, loaded.user_index, loaded.popularity)
        self._ranker.view(ref, self._ranker.catalogs.get(self.store))

    @property
    def rank_options(self) -> RankOptions:
        """Ranking defaults from the ``rank_*`` settings (read once: settings are frozen)."""
        if self._rank_options is None:
            self._rank_options = RankOptions.from_settings(self.settings)
        return self._rank_options

    def recommend(
        self,
        user: str,
        n: int = 10,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        model: str | None = None,
        options: RankOptions | None = None,
    ) -> list[Recommendation]:
        """Top-``n`` items for a user, each with its reasons. See :meth:`rank`."""
        return self.rank(user, n, exclude_seen, kind, creator, model, options).items

    def rank(
        self,
        user: str,
        n: int = 10,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        model: str | None = None,
        options: RankOptions | None = None,
    ) -> RankResult:
        """Rank for a user with :mod:`mediarec.rank` (sources, blend, filters, MMR, exploration).

        The user's events are read from the store on every call: seen items are filtered and, for
        ALS and item-kNN, new events fold into the user's scores at once, without retraining. A user
        with neither a model row nor events gets popular items (``fallback``); before any model is
        trained, everyone does.
        """
        return self.rank_entry(user, n, exclude_seen, kind, creator, model, options)[0].result

    def rank_entry(
        self,
        user: str,
        n: int = 10,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        model: str | None = None,
        options: RankOptions | None = None,
    ) -> tuple[Entry, bool]:
        """:meth:`rank` through the result cache: (the entry, whether it came from the cache).

        The token is read before ranking, so a list computed from newer inputs than its token names
        is only ever a miss later, never a stale hit (rank/cache.py)."""
        name = model or self.settings.default_model
        # One store read serves the cache's token and the deletion watch (see loaded()).
        stamps = self.store.serving_stamps(user) if self.results.size else None
        loaded = self.loaded(name, None if stamps is None else stamps[0])
        if loaded is None:
            result = RankResult(self._popular_from_store(user, n, exclude_seen, kind, creator), fallback=True)
            return Entry(None, result), False
        options = options or self.rank_options
        now = clock(time.time()) if stamps is not None else time.time()
        token = None if stamps is None else self._token(stamps, loaded, options, now)
        ref = ModelRef(loaded.path, loaded.model, loaded.user_index, loaded.popularity)

        def compute() -> RankResult:
            result = self._ranker.rank(
                self.store,
                ref,
                user,
                n,
                weights=self.weights,
                options=options,
                exclude_seen=exclude_seen,
                kind=kind,
                creator=creator,
                now=now,
                # Read with the stamps: the ranking does not read them again (three round trips).
                newest_event_id=None if stamps is None else int(stamps[-1]),
                removed=None if stamps is None else removals(stamps[5]),
            )
            if self._rerank_gate.enabled:  # the gated LLM stage (rank/llm_rerank.py), off by default
                result = self._llm_rerank(user, result)
            return dataclasses.replace(result, model_version=loaded.version)

        key = CacheKey(user, n, exclude_seen, kind, creator, name, options)
        found = self.results.compute(key, token, compute)
        self._note_version(name, loaded)  # after: this request's own list is not re-ranked twice
        self._note_shared(token)
        return found

    def _llm_rerank(self, user: str, result: RankResult) -> RankResult:
        """``result`` re-ordered by the LLM when the ``llm_rerank`` setting names this user's group."""
        from mediarec.llm.backends import LLMError
        from mediarec.llm.rerank import RerankOptions
        from mediarec.rank.history import load_history
        from mediarec.rank.llm_rerank import rerank_result

        if result.fallback:  # the popular list is nobody's personal list to re-order
            return result
        catalog = self._ranker.catalogs.get(self.store)
        history = load_history(self.store, user, catalog, self.weights)
        if not self._rerank_gate.applies(len(history.items)):
            return result
        try:
            backend = self.llm_backend()
        except LLMError as exc:  # no model to ask: the ranker's list as it is
            log.warning("LLM re-ranking skipped: %s", str(exc).splitlines()[0][:200])
            return result
        options = RerankOptions(k=self._rerank_gate.k, seed=self.settings.seed)
        shown = history.recent[: options.history_items][::-1]  # oldest first, as the prompt says
        titles = [catalog.titles[int(p)] for p in shown]
        return rerank_result(result, titles, backend, self._rerank_gate, user, options)

    def cached_entry(
        self,
        user: str,
        n: int = 10,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        model: str | None = None,
        options: RankOptions | None = None,
    ) -> Entry | None:
        """The entry :meth:`rank_entry` would serve from the cache for this request now, or None (not
        cached, or caching off): the same token read the same way, and nothing ranked."""
        if not self.results.size:
            return None
        name = model or self.settings.default_model
        stamps = self.store.serving_stamps(user)
        loaded = self.loaded(name, stamps[0])
        if loaded is None:
            return None
        options = options or self.rank_options
        token = self._token(stamps, loaded, options, clock(time.time()))
        found = self.results.get(CacheKey(user, n, exclude_seen, kind, creator, name, options), token)
        if found is not None:
            self._note_version(name, loaded)
            self._note_shared(token)
        return found

    def peek_entry(
        self,
        user: str,
        n: int = 10,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        model: str | None = None,
        options: RankOptions | None = None,
    ) -> Entry | None:
        """:meth:`cached_entry`'s hit when it needs nothing but memory, for a caller on an event loop:
        never reads the store, never waits, never refreshes or notes anything. None means "ask
        :meth:`cached_entry` on a thread": whenever a step of the token would do more than return
        what it holds (stamps not remembered, a commit since or not known to be none: store/stamps.py;
        a snapshot due for its check; a deletion, version or shared snapshot not yet noted).
        The token is built by :meth:`_token` itself, so a hit here is one :meth:`cached_entry` serves."""
        if not self.results.size:
            return None
        stamps = self.store.peek_serving_stamps(user)
        if stamps is None or stamps[0] != self._deletions:  # else _watch_deletions has work to do
            return None
        name = model or self.settings.default_model
        loaded = self._live.peek(name)
        if loaded is None or self._served.get(name) != (str(loaded.path), loaded.ident):
            return None  # a version this process has not noted yet (_note_version warms)
        options = options or self.rank_options
        token = self._token(stamps, loaded, options, clock(time.time()), peek=True)
        if token is None or token[3:] != self._shared:  # (_note_shared warms)
            return None
        return self.results.get(CacheKey(user, n, exclude_seen, kind, creator, name, options), token)

    def _token(
        self, stamps: tuple[Any, ...], loaded: _Loaded, options: RankOptions, now: float, peek: bool = False
    ) -> tuple[Any, ...] | None:
        """Everything a ranking reads, named by value or by snapshot serial: the user's store stamps
        (:meth:`Store.serving_stamps`), then the in-memory snapshots the ranker would use now, each
        refreshed on its own schedule exactly as for an uncached request. ``peek``: only what each
        snapshot holds without a read, a refresh or a wait, and None when one would need more."""
        store, newest, ranker = self.store, int(stamps[-1]), self._ranker
        window, half_life = options.trending_window_days, options.trending_half_life_days
        catalog = ranker.catalogs.peek() if peek else ranker.catalogs.get(store)
        if catalog is None:
            return None
        if peek:
            trending = ranker.trending.peek(catalog, window, half_life, newest)
        else:
            trending = ranker.trending.get(store, catalog, window, half_life, newest)
        if trending is None:
            return None
        tastes = None
        if options.new_item_share < 1.0 and catalog.content is not None:
            if peek:
                found = ranker.audience.peek(catalog, newest)
            else:
                found = ranker.audience.tastes(store, catalog, self.weights, newest)
            if found is None:
                return None
            tastes = self._serials.of(found[0])
        serial = self._serials.of
        user = stamps[:-1]  # the store-wide newest id only drives the refreshes above
        return (user, str(loaded.path), loaded.ident, serial(catalog), serial(trending), tastes, now)

    def _note_version(self, name: str, loaded: _Loaded) -> None:
        """On the first request served by a new version, re-rank the most recently used lists in
        the background, so the active users' next requests find them ready."""
        seen = (str(loaded.path), loaded.ident)
        before = self._served.get(name)
        self._served[name] = seen
        if before is None and self.freeze_gc and len(self._served) == 1:
            import gc

            gc.collect()  # once, so no garbage of the start is kept for good
            gc.freeze()
        if before is not None and before != seen and self.results.size:
            keys = self.results.recent_keys(WARM_LISTS, used=True)
            self._warmer.warm([k for k in keys if k.model == name])

    def _note_shared(self, token: tuple[Any, ...] | None) -> None:
        """When the snapshots every list shares (catalogue, trending figures, audiences, ranking
        clock) move on, re-rank the most recently used lists in the background."""
        if token is None or not self.results.size:
            return
        shared = token[3:]
        with self._refill_lock:
            before, self._shared = self._shared, shared
        if before is not None and before != shared:
            self._warmer.warm(self.results.recent_keys(WARM_LISTS, used=True))

    def _rank_key(self, k: CacheKey) -> None:
        self.rank_entry(k.user, k.n, k.exclude_seen, k.kind, k.creator, k.model, k.options)

    def refill(self, users: Sequence[str]) -> None:
        """Re-rank the cached lists of ``users`` in the background (their events just changed), so
        their next request is a hit, or joins the computation in flight."""
        if self.results.size:
            self._refill([k for u in dict.fromkeys(users) for k in self.results.user_keys(u)])

    def _refill(self, keys: list[CacheKey]) -> None:
        with self._refill_lock:
            # Bounded: when writes outpace re-ranking, the rest are simply misses later.
            keys = keys[: max(0, REFILL_QUEUE - self._refill_queued)]
            if not keys:
                return
            self._refill_queued += len(keys)
            if self._refiller is None:
                from concurrent.futures import ThreadPoolExecutor

                self._refiller = ThreadPoolExecutor(1, thread_name_prefix="mediarec-refill")
            refiller = self._refiller

        def run() -> None:
            for k in keys:
                try:
                    self.rank_entry(k.user, k.n, k.exclude_seen, k.kind, k.creator, k.model, k.options)
                except Exception:  # a refill is a courtesy; the request path reports errors
                    log.debug("refill of %s failed", k, exc_info=True)
                finally:
                    with self._refill_lock:
                        self._refill_queued -= 1

        refiller.submit(run)

    def similar(self, item: str, n: int = 10, model: str | None = None) -> list[Recommendation]:
        """Items like ``item``: the model's neighbours when the model has seen anyone engage with
        it, else (a cold item: added after training, or never engaged with) its nearest items by
        content vectors, with a ``similar_content`` reason. A cold item without a content vector
        has no similar items: an empty list, not arbitrary items scored 0."""
        loaded = self.loaded(model)
        if loaded is None:
            raise ValueError("no trained model yet: run `mediarec train` first")
        pos = loaded.item_index.get(item)
        if pos is None or loaded.popularity[pos] <= 0:
            if self.store.get_item(item) is None:
                raise UnknownItemError(item)
            return self._similar_by_content(item, n)
        ids, scores = self._model_neighbours(loaded, pos, n)
        # A neighbour at cosine 0 or below (say, an item nobody engaged with: a zero vector) is not similar.
        keep = np.isfinite(scores[0]) & (scores[0] > 0)
        title = self._titles([item]).get(item, item)
        reason = Reason("similar_item", f"similar to {title}", {"item_id": item, "title": title})
        out = self._build(loaded, ids[0][keep].tolist(), scores[0][keep])
        return [Recommendation(r.item_id, r.score, r.title, r.kind, r.creator, (reason,)) for r in out]

    def _model_neighbours(self, loaded: _Loaded, pos: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The model's nearest items to model position ``pos``: through the ranker's vector index when
        the catalogue is big (no pass over every item per request), else the model's exact search."""
        catalog = self._ranker.catalogs.get(self.store)
        ref = ModelRef(loaded.path, loaded.model, loaded.user_index, loaded.popularity)
        view = self._ranker.view(ref, catalog)
        at = int(view.cat_of_model[pos])
        if view.index is None or view.index.exact or view.vectors is None or at < 0:
            return loaded.model.similar_items([pos], n=n)
        found = view.index.search(view.vectors[at], n + 1)
        cat, sims = found.positions[0], found.scores[0]
        keep = (cat >= 0) & (cat != at)
        model_pos = view.model_of_cat[cat[keep]][:n]
        return model_pos[None, :], sims[keep][:n][None, :]

    def _similar_by_content(self, item: str, n: int) -> list[Recommendation]:
        catalog = self._ranker.catalogs.get(self.store)
        pos = catalog.index.get(item)
        if catalog.content is None or pos is None or not catalog.has_content[pos]:
            return []
        index = self._ranker.content_index(catalog)  # exact when small, HNSW when big
        assert index is not None
        found = index.search(catalog.content[pos], n + 1)  # the item itself comes back too
        sims = dict(zip(found.positions[0].tolist(), found.scores[0].tolist(), strict=True))
        floor = self.rank_options.reason_min_similarity  # the "because you watched" threshold
        order = [p for p in found.positions[0].tolist() if p >= 0 and p != pos and sims[p] >= floor][:n]
        title = catalog.titles[pos]
        out = []
        for p in order:
            reason = Reason(
                "similar_content",
                f"similar content to {title}",
                {
                    "item_id": item,
                    "title": title,
                    "similarity": round(float(sims[p]), 4),
                    "space": catalog.content_source,
                },
            )
            out.append(
                Recommendation(
                    str(catalog.item_ids[p]),
                    float(sims[p]),
                    catalog.titles[p],
                    catalog.kinds[p],
                    catalog.creators[p],
                    (reason,),
                )
            )
        return out

    def _titles(self, ids: Sequence[str]) -> dict[str, str]:
        return {k: v.title or k for k, v in self.store.items_by_external_ids(ids).items()}

    def _build(self, loaded: _Loaded, positions: list[int], scores: np.ndarray) -> list[Recommendation]:
        ext = [str(loaded.model.item_ids[p]) for p in positions]
        items: dict[str, StoredItem] = self.store.items_by_external_ids(ext)
        out = []
        for item_id, score in zip(ext, scores, strict=True):
            stored = items.get(item_id)
            out.append(
                Recommendation(
                    item_id=item_id,
                    score=float(score),
                    title=stored.title if stored and stored.title else item_id,
                    kind=stored.kind if stored else None,
                    creator=stored.creator if stored else None,
                )
            )
        return out

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
            if counts[pos] <= 0:
                break  # nobody engaged with the rest: they are not popular
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
        top = max(int(counts.max()) if len(counts) else 0, 1)
        for pos in chosen:
            item_id, count = str(data.item_ids[pos]), int(counts[pos])
            kind_, creator_, _ = attrs[item_id]
            reason = popular_reason(count)
            out.append(
                Recommendation(
                    item_id,
                    count / top,  # 0..1, as every list's scores
                    titles.get(item_id, item_id),
                    kind_,
                    creator_,
                    (reason,) if reason else (),
                    fallback=FALLBACK_POPULARITY,
                )
            )
        return out

    # -- steering (issue 12: mediarec/steering.py) ---------------------------------------------
    @property
    def steerer(self) -> Any:
        """The :class:`mediarec.steering.Steerer` of this engine (parser, item facts, text encoder)."""
        with self._lock:
            if self._steerer is None:
                from mediarec.steering import Steerer

                self._steerer = Steerer(self)
            return self._steerer

    def rank_steered(self, user: str, ask: str, n: int = 10, **kwargs: Any) -> Any:
        """:meth:`rank` steered by a request in plain words: a :class:`mediarec.steering.Steered`
        (the list, the parsed query, a message when nothing satisfies it). ``QueryError`` for a bad
        request (empty, over-long)."""
        return self.steerer.rank(user, ask, n, **kwargs)

    def similar_steered(self, item: str, ask: str, n: int = 10, model: str | None = None) -> Any:
        """:meth:`similar` steered by a request ("like this but shorter"); see :meth:`rank_steered`."""
        return self.steerer.similar(item, ask, n, model)

    def search(self, q: str, n: int = 10) -> list[Any]:
        """Items whose transcript, on-screen text or LLM moments and tags match ``q``, with the
        matching time ranges (:class:`mediarec.moments.Hit`). ``ValueError`` for an empty or
        over-long query."""
        return self._moments_finder().search(q, n)

    def moments(self, user: str, n: int = 10) -> list[Any]:
        """Where in the user's recommended items one of their interests is met (item, start, end, why)."""
        return self._moments_finder().moments(user, n)

    def _moments_finder(self) -> Any:
        with self._lock:
            if self._finder is None:
                from mediarec.moments import Finder

                self._finder = Finder(self)
            return self._finder

    # -- taste profiles (mediarec.users) ------------------------------------------------------
    @property
    def llm_cache_dir(self) -> Path:
        """Folder of the LLM result cache (``llm-cache.sqlite``)."""
        return self.home / "llm"

    def llm_backend(self) -> LLMBackend:
        """The backend the ``llm_url`` setting names, made once, so a local model loads once."""
        with self._lock:
            if self._llm is None:
                from mediarec.kit.locate import ModelNotInstalled
                from mediarec.llm.backends import LLMError, backend_from_settings

                try:
                    self._llm = backend_from_settings(self.settings)
                except ModelNotInstalled as exc:  # one error type for "no LLM to ask"
                    raise LLMError(str(exc)) from exc
            return self._llm

    def _profile_options(self) -> ProfileOptions:
        from mediarec.users import HistoryOptions, ProfileOptions

        return ProfileOptions(history=HistoryOptions(weights=self.weights))

    def interests(self, user: str, limit: int = 20) -> list[Interest]:
        """Weighted interest tags computed from the user's events (no LLM)."""
        from mediarec.users import user_interests

        return user_interests(self.store, user, self._profile_options().history, limit)

    def profile(self, user: str) -> TasteProfile | None:
        """The user's taste profile as shown: newest generated version with their edits applied."""
        from mediarec.users import shown_profile

        return shown_profile(self.store, user)

    def draft_profile(self, user: str, backend: LLMBackend | None = None) -> ProfileDraft:
        """Generate a profile without storing it (slow: the LLM runs here)."""
        from mediarec.users import draft_profile

        llm = backend or self.llm_backend()
        return draft_profile(self.store, user, llm, self.llm_cache_dir, self._profile_options())

    def save_profile(self, draft: ProfileDraft) -> TasteProfile:
        from mediarec.users import save_draft

        return save_draft(self.store, draft)

    def regenerate_profile(self, user: str, backend: LLMBackend | None = None) -> TasteProfile:
        """A new profile version from the current history; the user's edits stay applied."""
        return self.save_profile(self.draft_profile(user, backend))

    def edit_profile(
        self,
        user: str,
        text: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> TasteProfile:
        """Keep the user's own text (``""`` drops it) and tag changes over every regeneration."""
        from mediarec.users import edit_profile

        return edit_profile(self.store, user, text, add_tags, remove_tags)

    def delete_profile(self, user: str) -> dict[str, int]:
        """Delete the profile only (every version, the edits, cached answers); events stay."""
        from mediarec.users import delete_profile

        return delete_profile(self.store, user, self.llm_cache_dir)

    # -- privacy -----------------------------------------------------------------------------
    def delete_user(self, user: str) -> dict[str, int]:
        """Delete a user everywhere: events and profile in the store, the cached LLM answers made
        from their data, and their rows in every saved model; in memory too.

        The store's rows are zeroed and its WAL truncated (:meth:`Store.delete_user`), and so are
        the cache's; a model version is rewritten without the user and the old files deleted. Other
        processes (a running server) see the store's deletion stamp move and drop what they hold.
        """
        from mediarec.users import forget_results

        keys = self.store.profiles.result_keys(user)
        events = self.store.delete_user(user)
        # After the store's deletion, not before: a profile generation in flight writes its answer
        # only while the user exists (under the store's write lock), so from here on nothing new
        # can appear, and what was written before goes now (the cache names each answer's owner).
        # The owner also names the user's steering requests (``ask``): their cached parses go too.
        forget_results(keys, self.llm_cache_dir, owner=user)
        if self._steerer is not None:
            self._steerer.forget_user(user)  # and what this process remembers of their requests
        # Hold the lock throughout: a request that sees the deletion stamp move waits for it here,
        # then reloads the rewritten versions (a load in flight meanwhile is not installed: clear()).
        with self._lock:
            models = repository.scrub_user(self.home, user, root=self.models_dir)
            self._live.clear()
            self.results.drop_user(user)
            self.results.clear()  # everyone's lists: the model and trending figures counted the user
        self._ranker.trending.clear()
        self._ranker.audience.forget()  # their taste leaves the new-item audiences' batch
        return {"events_deleted": events, "models_scrubbed": models}

    def _watch_deletions(self, stamp: int | None = None) -> None:
        """Drop in-memory state when a user was deleted by any process (``mediarec delete-user``
        beside a running server): loaded models hold their rows (popularity, seen items) and the
        trending figures count their events. One indexed read per request."""
        stamp = self.store.deletion_stamp() if stamp is None else stamp
        if stamp == self._deletions:
            return
        if self._deletions is None:
            # The first look: nothing was loaded before it (every load comes through loaded()), so
            # there is nothing to drop, and no reason to look at the models folder on every request
            # for the next minute as after a real deletion (LiveModels.clear).
            self._deletions = stamp
            return
        with self._lock:
            self._live.clear()
            self.results.clear()
            steerer = self._steerer
        self._ranker.trending.clear()
        self._ranker.audience.forget()
        if steerer is not None:  # which user is not known here: every remembered request goes
            steerer.forget_user(None)
        self._deletions = stamp
