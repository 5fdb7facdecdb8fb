"""LLM backends: one interface, a local GGUF model or any OpenAI-compatible HTTP server.

Every call asks for one JSON object that follows a JSON schema, and the backends constrain the
decoding to that schema where they can (a GBNF grammar made from the schema in llama.cpp, the
``response_format`` field over HTTP), so small models cannot wander off into prose. The object is
still checked afterwards (:mod:`mediarec.llm.structured`): servers differ in how much of a schema
they enforce, and a cut-off answer is not valid JSON at all.

The local backend lives in :mod:`mediarec.llm.local`. Which backend runs is a settings change
only, through :func:`backend_from_url`: ``llama://qwen-0.5b``, ``llama:///abs/path/model.gguf`` or
``http://host:port/v1?model=NAME``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mediarec.settings import Settings

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


# Progress displays (the CLI's token counter) listen to the tokens a backend writes in their thread.
_listeners = threading.local()


@contextmanager
def on_tokens(callback: Callable[[int], None]) -> Iterator[None]:
    """Call ``callback(n)`` as backends write tokens in this thread (the local one does, per token)."""
    before = getattr(_listeners, "callback", None)
    _listeners.callback = callback
    try:
        yield
    finally:
        _listeners.callback = before


def tokens_written(n: int = 1) -> None:
    """Tell this thread's :func:`on_tokens` listener, if any, that ``n`` tokens were written."""
    callback = getattr(_listeners, "callback", None)
    if callback is not None:
        callback(n)


def defused(messages: list[Message]) -> list[Message]:
    """``messages`` with chat-template control markers defused in every content (see
    :mod:`mediarec.llm.untrusted`): servers apply the template with special tokens parsed."""
    from mediarec.llm.untrusted import defuse

    return [{**m, "content": defuse(m["content"])} for m in messages]


class LLMError(RuntimeError):
    """The backend could not answer at all (no model, server down, HTTP error): not per item."""


class LLMOutputError(LLMError):
    """The model answered, but not with a valid object; ``reasons`` says why, ``raw`` is the text.
    Callers record it against the one item and go on with the next."""

    def __init__(self, reasons: list[str], raw: str = "", usage: Usage | None = None) -> None:
        self.reasons = list(reasons)
        self.raw = raw
        self.usage = usage  # what the failed attempts cost, where known (throughput figures count it)
        super().__init__("; ".join(self.reasons) or "invalid output")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.seconds + other.seconds,
        )


@dataclass(frozen=True)
class CompletionOptions:
    """Per-call decoding options. Greedy and seeded by default so that a rerun over the same input
    gives the same answer (the cache and the tests rely on that)."""

    max_tokens: int = 512  # an answer cut here is invalid JSON: raise it for long outputs
    temperature: float = 0.0
    seed: int = 42
    schema_name: str = "answer"  # OpenAI's json_schema wants a name; nothing reads it
    # String properties whose values should not repeat one another (e.g. ``("tag",)``): while the
    # local backend writes one, the tokens of earlier values of the same property are penalised by
    # ``distinct_penalty`` logits. Small models under greedy decoding otherwise loop ("recipe",
    # "recipe", ...). HTTP backends get OpenAI's presence_penalty instead, a blunter tool.
    distinct_keys: tuple[str, ...] = ()
    distinct_penalty: float = 6.0
    # Words the answer should not contain at all, e.g. those found only in evidence flagged as an
    # injection attempt. The local backend lowers the logits of their whole-word tokens (3 letters
    # or more, so that common word pieces stay free) by ``avoid_penalty`` inside every string value
    # (never in keys, which the grammar forces); HTTP backends ignore it, and validation catches
    # what gets through either way.
    avoid_words: tuple[str, ...] = ()
    avoid_penalty: float = 10.0
    # llama.cpp-style repeat penalty (>1 discourages) on word tokens among the last 48 written, for
    # the local backend's greedy decoding, where a small model otherwise copies a sentence twice.
    repeat_penalty: float = 1.0


def parse_json(text: str, finish_reason: str | None) -> Any:
    """The object in ``text``, or ``LLMOutputError`` saying why there is none."""
    if finish_reason == "length":
        raise LLMOutputError(["answer cut off at max_tokens (not complete JSON)"], text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LLMOutputError([f"not valid JSON: {exc}"], text) from None


class LLMBackend(ABC):
    """A chat model that answers with one JSON object."""

    name: ClassVar[str]

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Names the model and its quantisation: part of every cache key."""

    @abstractmethod
    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        """One decoded JSON value (constrained to ``schema`` where the backend can) and its cost.
        Raises ``LLMOutputError`` when the text is not JSON, ``LLMError`` when nothing came back."""


# The ways of asking for JSON, most precise first. OpenAI, vLLM and Ollama take json_schema;
# llama.cpp's servers take json_object with a "schema" beside it; anything else gets plain JSON
# mode and the schema in the prompt. A server that rejects one (HTTP 400/422, or an error naming
# response_format) is asked the next.
_FORMATS = ("json_schema", "json_object+schema", "json_object")


class OpenAIBackend(LLMBackend):
    """Any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp's servers, hosted APIs), over
    plain HTTP with the standard library, so the HTTP path needs no extra package."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,  # None: the first model the server lists
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self._format: str | None = None  # the first of _FORMATS this server accepted

    @property
    def model_id(self) -> str:
        host = urllib.parse.urlsplit(self.base_url).netloc
        return f"{self._model()}@{host}"

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def _model(self) -> str:
        if self.model is None:
            try:
                listed = self._request("/models").get("data") or []
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise LLMError(f"{self.base_url}/models: {exc}") from exc
            if not listed:
                raise LLMError(f"{self.base_url} lists no models: name one with ?model=NAME")
            self.model = str(listed[0]["id"])
        return self.model

    def _body(
        self, fmt: str, messages: list[Message], schema: dict[str, Any], opts: CompletionOptions
    ) -> Any:
        if fmt == "json_schema":
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {"name": opts.schema_name, "schema": schema},
            }
        elif fmt == "json_object+schema":
            response_format = {"type": "json_object", "schema": schema}
        else:
            response_format = {"type": "json_object"}
            # Nothing constrains the shape now: at least tell the model what it is.
            hint = "Answer with one JSON object that follows this JSON schema:\n" + json.dumps(schema)
            messages = [{"role": "system", "content": hint}, *messages]
        body = {
            "model": self._model(),
            "messages": messages,
            "temperature": opts.temperature,
            "seed": opts.seed,
            "max_tokens": opts.max_tokens,
            "response_format": response_format,
        }
        if opts.distinct_keys:
            body["presence_penalty"] = 0.5
        return body

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        opts = options or CompletionOptions()
        messages = defused(messages)
        formats = [self._format] if self._format else list(_FORMATS)
        rejected: list[str] = []
        for fmt in formats:
            start = time.perf_counter()
            try:
                out = self._request("/chat/completions", self._body(fmt, messages, schema, opts))
            except urllib.error.HTTPError as exc:
                body = exc.read().decode("utf-8", "replace")
                detail = body[:300]
                # llama-cpp-python's server answers a format it lacks with a 500, not a 4xx
                refused = exc.code in (400, 422) or "response_format" in body
                if refused and self._format is None:
                    rejected.append(f"{fmt}: HTTP {exc.code} {detail}")
                    continue
                raise LLMError(f"{self.base_url}: HTTP {exc.code}: {detail}") from exc
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise LLMError(f"{self.base_url}: {exc}") from exc
            seconds = time.perf_counter() - start
            self._format = fmt
            try:
                choice = out["choices"][0]
                text = choice["message"].get("content") or ""
            except (KeyError, IndexError, TypeError, AttributeError) as exc:
                raise LLMError(f"{self.base_url}: unexpected reply {str(out)[:300]}") from exc
            usage = out.get("usage") or {}
            cost = Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), seconds)
            return parse_json(text, choice.get("finish_reason")), cost
        raise LLMError(f"{self.base_url} rejected every JSON response format: {' | '.join(rejected)}")


def backend_from_url(url: str, settings: Settings | None = None) -> LLMBackend:
    """The backend a URL names.

    * ``llama://`` (or an empty URL): the kit model ``settings.llm_model`` chooses (``qwen-0.5b``);
    * ``llama://qwen-0.5b``, ``llama://qwen-1.5b``: that kit model, whatever ``llm_model`` says;
    * ``llama:///abs/path/model.gguf`` (or a folder holding one ``.gguf``): that file;
    * ``http://host:port/v1?model=NAME`` or ``https://...``: an OpenAI-compatible server; without
      ``model`` the server's first listed model. ``settings.llm_api_key`` is sent when set.
    """
    import dataclasses

    settings = settings or Settings()
    parts = urllib.parse.urlsplit(url or "llama://")
    n_ctx = int(getattr(settings, "llm_ctx", 0) or 4096)
    threads = int(getattr(settings, "llm_threads", 0) or settings.threads or 0) or None
    if parts.scheme == "llama":
        from mediarec.llm.local import LlamaCppBackend

        if parts.path and parts.path != "/":
            path = Path(urllib.parse.unquote(parts.path))
            if path.is_dir():
                ggufs = sorted(path.glob("*.gguf"))
                if len(ggufs) != 1:
                    raise LLMError(f"{url}: expected one .gguf in {path}, found {len(ggufs)}")
                path = ggufs[0]
            return LlamaCppBackend(path, n_ctx=n_ctx, n_threads=threads)
        from mediarec.kit import model_file

        name = parts.netloc or "qwen-0.5b"
        if parts.netloc:  # an explicit kit model wins over llm_model
            settings = dataclasses.replace(settings, llm_model="")
        path = model_file(name, settings.home_path, settings)
        # The kit model's name, not the file's: a cache key should survive a moved kit.
        kit_name = path.parent.name if path.parent.name.startswith("qwen-") else None
        model_id = f"{kit_name}/{path.stem}" if kit_name else path.stem
        return LlamaCppBackend(path, n_ctx=n_ctx, n_threads=threads, model_id=model_id)
    if parts.scheme in ("http", "https"):
        query = urllib.parse.parse_qs(parts.query)
        model = query["model"][0] if query.get("model") else None
        base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        api_key = str(getattr(settings, "llm_api_key", "") or "") or None
        timeout = float(getattr(settings, "llm_timeout", 0) or 120.0)
        return OpenAIBackend(base, model=model, api_key=api_key, timeout=timeout)
    raise LLMError(f"unknown LLM URL {url!r}: use llama://MODEL, llama:///path.gguf or http(s)://host/v1")


def backend_from_settings(settings: Settings) -> LLMBackend:
    """The backend ``settings.llm_url`` names (empty: the local kit model)."""
    return backend_from_url(str(getattr(settings, "llm_url", "") or ""), settings)
