"""Cache hits of ``GET /users/{id}/recommendations``, answered before FastAPI's routing.

A hit sends bytes serialised when the list was ranked, yet through FastAPI it cost about 0.8 ms of
CPU in process, most of it parameter validation and dependency solving (cProfile: 60% in
``solve_dependencies``), plus two thread-pool hand-offs (the key check, then the endpoint). This
ASGI layer answers a request itself only when it can prove the endpoint would send the same bytes:

- a ``GET`` on exactly that path, every query parameter one the endpoint takes, each at most once,
  spelled so that its value is beyond doubt (plain digits, ``true``/``false``, a decimal in range,
  a listed kind or model) and within the endpoint's bounds; no ``ask`` (steered lists are never cached);
- the read key check passing exactly as ``require_read`` lets a request through (a client waiting
  out failed attempts, a missing or wrong key: all left to the app);
- the list cached under the current token (:meth:`MediaRec.cached_entry`, the same read as a hit
  through the endpoint), with its body already serialised; else (a miss) ranked here by the call the
  endpoint makes (:meth:`MediaRec.rank_entry`, same arguments) and serialised by the endpoint's own
  :func:`answer_body`. A miss through FastAPI paid its validation and a second thread hand-off
  (about 0.7 ms, an eighth of a miss on ML-1M) on top of the ranking; an error while ranking sends
  nothing here and the request goes on to the endpoint, which meets it again and answers as before.

Anything else (a 401/422/429 to give, a parameter spelled another way) goes on to the app
untouched, so its answers and errors are exactly what they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from mediarec import limits, recommenders
from mediarec.engine import MediaRec
from mediarec.rank.options import RankOptions
from mediarec.rank.records import RankResult
from mediarec.records import ITEM_KINDS
from mediarec.serve.auth import AttemptLimiter, keys_match
from mediarec.serve.models import RecommendationsOut

PATH = re.compile(r"/users/([^/]+)/recommendations")
INT = re.compile(r"0|[1-9][0-9]{0,5}")
DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,2})(?:\.[0-9]{1,12})?")
BOOLS = {"true": True, "false": False}
MAX_MEMO = 256  # distinct query strings remembered (clients send few)

# parameter -> (parser returning the value or None when unsure, the RankOptions field it overrides)
Parser = Callable[[str], Any]


def _int(low: int, high: int) -> Parser:
    return lambda s: int(s) if INT.fullmatch(s) and low <= int(s) <= high else None


def _decimal(high: float) -> Parser:
    return lambda s: float(s) if DECIMAL.fullmatch(s) and 0.0 <= float(s) <= high else None


class HitPath:
    """ASGI middleware: serve cached lists of ``GET /users/{id}/recommendations`` directly."""

    def __init__(
        self,
        app: ASGIApp,
        engine: MediaRec,
        max_n: int,
        max_freshness: float,
        reads_open: bool,
        accepted: tuple[str | None, ...],
        limiter: AttemptLimiter,
        header: str,
        misses: bool = True,
    ) -> None:
        self.app = app
        self.misses = misses  # rank misses here too (False: only hits, misses go to the endpoint)
        self.engine = engine
        self.reads_open = reads_open
        self.accepted = tuple(k for k in accepted if k)
        self.limiter = limiter
        self.header = header.encode()
        # The endpoint's Query bounds, parameter by parameter (serve/app.py recommendations()).
        self.parsers: dict[str, Parser] = {
            "n": _int(1, max_n),
            "exclude_seen": BOOLS.get,
            "kind": lambda s: s if s in ITEM_KINDS else None,
            "creator": lambda s: s if 0 < len(s) <= limits.MAX_FILTER_CHARS else None,
            "model": lambda s: s if s in recommenders.MODELS else None,
            "diversity": _decimal(1.0),
            "max_per_creator": _int(0, max_n),
            "max_per_topic": _int(0, max_n),
            "explore": _decimal(1.0),
            "freshness": _decimal(max_freshness),
        }
        self._memo: dict[bytes, tuple[dict[str, Any], RankOptions] | None] = {}
        self._memo_base: RankOptions | None = None
        self.loop_hits = 0  # hits answered on the event loop, without the thread pool (tests, benchmarks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            match = PATH.fullmatch(scope["path"])
            if match is not None:
                request = self._parse(scope)
                if request is not None:
                    # A hit that needs nothing but memory is answered here, on the event loop
                    # (MediaRec.peek_entry: the store's version says nothing was committed since
                    # the user's stamps were read, SQLite's data_version or PostgreSQL's change
                    # counter and notifications; no snapshot is due for its check). Anything else
                    # goes to the endpoints' thread pool, one hand-off instead of two: a hit may
                    # have to refresh a snapshot first (a new model, catalogue or trending figures)
                    # or read the stamps over the network; neither may stall the event loop.
                    body, hit = self._peek(match.group(1), *request), True
                    if body is None:
                        body, hit = await to_thread.run_sync(self._answer, match.group(1), *request)
                    else:
                        self.loop_hits += 1
                    if body is not None:
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                "headers": [
                                    (self.header, b"hit" if hit else b"miss"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"content-type", b"application/json"),
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
        await self.app(scope, receive, send)

    def _parse(self, scope: Scope) -> tuple[dict[str, Any], RankOptions] | None:
        """(parameter values, rank options) when the endpoint would read them the same, else None."""
        if not self.reads_open and not self._key_ok(scope):
            return None
        query: bytes = scope["query_string"]
        base = self.engine.rank_options
        if base is not self._memo_base or len(self._memo) > MAX_MEMO:
            self._memo, self._memo_base = {}, base
        if query in self._memo:  # clients send the same few option sets over and over
            return self._memo[query]
        parsed = self._memo[query] = self._parse_query(query, base)
        return parsed

    def _parse_query(self, query: bytes, base: RankOptions) -> tuple[dict[str, Any], RankOptions] | None:
        # Starlette's own parse (QueryParams): the same names and values the endpoint would see.
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        values: dict[str, Any] = {}
        for name, raw in pairs:
            parse = self.parsers.get(name)
            if parse is None or name in values:
                return None  # unknown to this path (ask, or ignored by the endpoint), or repeated
            value = parse(raw)
            if value is None:
                return None
            values[name] = value
        # As the endpoint calls it; equal options make equal cache keys.
        options = base.with_overrides(
            mmr_lambda=values.get("diversity"),
            max_per_creator=values.get("max_per_creator"),
            max_per_topic=values.get("max_per_topic"),
            explore_epsilon=values.get("explore"),
            freshness_boost=values.get("freshness"),
        )
        return values, options

    def _key_ok(self, scope: Scope) -> bool:
        key = next((v for k, v in scope["headers"] if k.lower() == b"x-api-key"), None)
        if key is None:
            return False
        client = scope.get("client")
        if self.limiter.retry_after(client[0] if client else "unknown"):
            return False  # the app answers 429
        given = key.decode("latin-1")
        return any(keys_match(given, expected) for expected in self.accepted)

    def _args(self, user: str, values: dict[str, Any], options: RankOptions) -> tuple[Any, ...]:
        """The endpoint's call (serve/app.py ``recommendations``) for these parameters."""
        model = values.get("model") or self.engine.settings.default_model
        n, seen = values.get("n", 10), values.get("exclude_seen", True)
        return (user, n, seen, values.get("kind"), values.get("creator"), model, options)

    def _peek(self, user: str, values: dict[str, Any], options: RankOptions) -> bytes | None:
        """The cached body when :meth:`MediaRec.peek_entry` proves it current without waiting."""
        try:
            entry = self.engine.peek_entry(*self._args(user, values, options))
        except Exception:  # never on the loop: the thread path meets it again and answers as always
            return None
        return None if entry is None else entry.body

    def _answer(self, user: str, values: dict[str, Any], options: RankOptions) -> tuple[bytes | None, bool]:
        """(the body, whether it was a hit); (None, False) leaves the request to the endpoint."""
        args = self._args(user, values, options)
        model = args[5]
        try:
            entry = self.engine.cached_entry(*args)
            if entry is not None and entry.body is not None:
                return entry.body, True
            if not self.misses:
                return None, False
            ranked, hit = self.engine.rank_entry(*args)
            if ranked.body is None:
                ranked.body = answer_body(user, model, ranked.result)
            return ranked.body, hit
        except Exception:  # whatever went wrong, the app meets it again and answers as it always did
            return None, False


def answer_body(user_id: str, model: str, result: RankResult) -> bytes:
    """The JSON of ``GET /users/{id}/recommendations`` for a ranked list (unsteered)."""
    out = RecommendationsOut(
        user_id=user_id,
        model=model,
        fallback=result.fallback,
        folded_in=result.folded_in,
        model_version=result.model_version,
        items=[r.to_dict() for r in result.items],  # type: ignore[misc]  # validated into the models here
        steering=None,
    )
    return out.model_dump_json().encode()
