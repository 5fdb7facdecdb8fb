"""Steered recommendations: ``recommend --ask``, ``ask=`` on the recommendation and similar-item APIs.

The request is parsed (:mod:`mediarec.llm.steer`: the LLM when one is configured, else the rules),
made ready for the catalogue snapshot (:mod:`mediarec.rank.steer`) and applied inside ranking: the
hard constraints restrict what any candidate source may offer, the soft part shifts scores. Results
come only from mediarec's own catalogue; an unsatisfiable request gets an empty list and a message.
Steered lists are ranked fresh (not through the result cache: their key would be the request text).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mediarec.llm.steer import ParsedAsk, SteerParser
from mediarec.rank import ModelRef, RankOptions, RankResult, Recommendation
from mediarec.rank.steer import FactsCache, Steering, prepare, vocabulary
from mediarec.rank.steer_rules import Context

if TYPE_CHECKING:
    from mediarec.engine import MediaRec

SIMILAR_POOL = 200  # neighbours looked at before a steered similar list is filtered and re-scored


@dataclass(frozen=True)
class Steered:
    """A steered list, the parsed request and what to tell the user."""

    parsed: ParsedAsk
    result: RankResult
    message: str | None = None  # why the list is empty
    notes: tuple[str, ...] = ()  # what was not applied, and why

    def steering(self) -> dict[str, Any]:
        out = self.parsed.to_dict()
        out["message"] = self.message
        out["notes"] = [n for n in (self.parsed.note, *self.notes) if n]
        return out


class Steerer:
    """Per engine: the parser (its LLM loaded once), item facts per snapshot, the text encoder."""

    def __init__(self, engine: MediaRec) -> None:
        self.engine = engine
        self.facts = FactsCache()
        self._lock = threading.Lock()
        self._parser: SteerParser | None = None
        self._parser_note: str | None = None
        self._encoder: Any = None
        self._encoder_failed = False
        self._vectors: dict[str, np.ndarray] = {}

    def parser(self) -> tuple[SteerParser, str | None]:
        with self._lock:
            if self._parser is None:
                from mediarec.llm.backends import LLMError
                from mediarec.llm.cache import ResultCache

                backend = None
                if str(self.engine.settings.ask_parser).lower() != "rules":
                    try:
                        backend = self.engine.llm_backend()
                    except LLMError as exc:
                        why = str(exc).splitlines()[0][:100]
                        self._parser_note = f"no LLM available ({why}): rules parsed it"
                cache = ResultCache(self.engine.llm_cache_dir) if backend is not None else None
                self._parser = SteerParser(backend, cache)
            return self._parser, self._parser_note

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._vectors]
        if missing:
            found = np.asarray(self._encoder.encode(missing), dtype=np.float32)
            with self._lock:
                self._vectors.update(zip(missing, found, strict=True))
                if len(self._vectors) > 4096:  # bounded: requests may name any words
                    self._vectors.clear()
                    self._vectors.update(zip(missing, found, strict=True))
        return np.stack([self._vectors[t] for t in texts])

    def encoder(self) -> Any:
        """``self.encode`` when the kit's text encoder loads, else None (soft part not applied)."""
        with self._lock:
            if self._encoder is None and not self._encoder_failed:
                from mediarec.kit import ModelNotInstalled
                from mediarec.understand.text import MiniLM

                try:
                    self._encoder = MiniLM.from_settings(self.engine.settings)
                except (ModelNotInstalled, ImportError, OSError):
                    self._encoder_failed = True
            return self.encode if self._encoder is not None else None

    def parse(self, ask: str, item: str | None = None, owner: str | None = None) -> ParsedAsk:
        """The request as a query, for the catalogue as it is now (``item``: on that item's page;
        ``owner``: the user who asked, whose cached parse it becomes; see :mod:`mediarec.llm.steer`)."""
        store = self.engine.store
        stamp = None
        if owner is not None:
            stamp = store.deletion_stamp()
            # A deletion by another process first drops what this one remembers of requests, so a
            # deleted user's parse is not answered from memory (one indexed read, read anyway here).
            self.engine._watch_deletions(stamp)
        catalog = self.engine._ranker.catalogs.get(store)
        ctx = Context()
        if item is not None and (pos := catalog.index.get(item)) is not None:
            d = self.facts.get(self.engine.store, catalog).durations[pos]
            ctx = Context(None if np.isnan(d) else float(d))
        parser, note = self.parser()
        parsed = parser.parse(ask, vocabulary(catalog), ctx, note=note, owner=owner)
        if owner is not None and store.deletion_stamp() != stamp:
            # A user was deleted while the model parsed (seconds) or the claim was written: if it
            # was this one, what was cached for them just now outlived the deletion's sweep of the
            # cache. Forget it again.
            from mediarec.users import forget_results

            forget_results([], self.engine.llm_cache_dir, owner=owner)
            self.forget_user(owner)
        return parsed

    def forget_user(self, user: str | None) -> None:
        """Forget ``user``'s requests (everyone's when None) in memory: the parses remembered as
        theirs, and the text vectors of soft terms (not attributable to a user, so all of them go;
        they are recomputed in milliseconds). The cache file is swept by the deleter
        (:meth:`MediaRec.delete_user`)."""
        with self._lock:
            self._vectors.clear()
            parser = self._parser
        if parser is not None:
            parser.forget(user)

    def _steering(self, parsed: ParsedAsk) -> Steering:
        catalog = self.engine._ranker.catalogs.get(self.engine.store)
        facts = self.facts.get(self.engine.store, catalog)
        encode = self.encoder() if parsed.query.soft else None
        return prepare(parsed.query, catalog, facts, time.time(), encode)

    def rank(
        self,
        user: str,
        ask: str,
        n: int = 10,
        exclude_seen: bool = True,
        kind: str | None = None,
        creator: str | None = None,
        model: str | None = None,
        options: RankOptions | None = None,
    ) -> Steered:
        engine = self.engine
        parsed = self.parse(ask, owner=user)
        steering = self._steering(parsed)
        notes = (steering.soft_note,) if steering.soft_note else ()
        loaded = engine.loaded(model or engine.settings.default_model)
        if loaded is None:  # before any model: the popular list, filtered (no soft shift to apply to)
            catalog = engine._ranker.catalogs.get(engine.store)
            everything = engine._popular_from_store(user, len(catalog), exclude_seen, kind, creator)
            keep = [r for r in everything if steering.mask[catalog.index[r.item_id]]][:n]
            result = RankResult(keep, fallback=True)
        else:
            ref = ModelRef(loaded.path, loaded.model, loaded.user_index, loaded.popularity)
            result = engine._ranker.rank(
                engine.store,
                ref,
                user,
                n,
                weights=engine.weights,
                options=options or engine.rank_options,
                exclude_seen=exclude_seen,
                kind=kind,
                creator=creator,
                steer=steering,
            )
            result = dataclasses.replace(result, model_version=loaded.version)
        return Steered(parsed, result, steering.message(len(result.items)), notes)

    def similar(self, item: str, ask: str, n: int = 10, model: str | None = None) -> Steered:
        """Items like ``item`` that satisfy the request; the soft part re-orders them."""
        engine = self.engine
        parsed = self.parse(ask, item)
        steering = self._steering(parsed)
        catalog = engine._ranker.catalogs.get(engine.store)
        pool = engine.similar(item, n=min(len(catalog), max(SIMILAR_POOL, n)), model=model)
        scored: list[tuple[float, Recommendation]] = []
        for rec in pool:
            pos = catalog.index.get(rec.item_id)
            if pos is None or not steering.mask[pos]:
                continue
            shift = float(steering.shift[pos]) if steering.shift is not None else 0.0
            scored.append((rec.score + shift, rec))
        scored.sort(key=lambda x: -x[0])
        items = [dataclasses.replace(r, score=s) for s, r in scored[:n]]
        message = steering.message(len(items))
        if not items and steering.empty_reason is None:
            message = "none of this item's similar items satisfies the request"
        notes = (steering.soft_note,) if steering.soft_note else ()
        return Steered(parsed, RankResult(items), message, notes)
