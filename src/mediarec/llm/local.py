"""The local backend: a GGUF model through llama-cpp-python, constrained by a grammar.

The grammar is made from the JSON schema by llama.cpp's own converter, so the model can only write
objects of the schema's shape (property order included). llama-cpp-python is imported on first use,
so that the rest of the LLM layer works without it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediarec.llm.backends import (
    CompletionOptions,
    LLMBackend,
    LLMError,
    Message,
    Usage,
    defused,
    parse_json,
    tokens_written,
)


class LlamaCppBackend(LLMBackend):
    """A local GGUF model through llama-cpp-python, loaded on first use (in the process using it)."""

    name = "llama.cpp"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        n_ctx: int = 4096,
        n_threads: int | None = None,  # None: all cores
        model_id: str | None = None,
        greedy_first: bool = True,  # see _GreedyGrammar; False applies the grammar the stock way
    ) -> None:
        self.model_path = Path(model_path)
        self.greedy_first = greedy_first
        if not self.model_path.is_file():
            raise LLMError(f"{self.model_path}: no such GGUF file")
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self._model_id = model_id or self.model_path.stem
        self._llm: Any = None
        self._grammars: OrderedDict[str, Any] = OrderedDict()
        self._words: list[bool] | None = None
        # One Llama context is not safe to share between threads: calls take turns.
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LLMError("the local LLM needs llama-cpp-python: pip install 'mediarec[llm]'") from exc
            self._llm = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                verbose=False,
            )
        return self._llm

    def _grammar(self, schema: dict[str, Any]) -> Any:
        # The grammar is built here rather than through response_format, because that path falls
        # back silently to "any JSON" when the schema has a construct the converter cannot handle;
        # here that is an error the author of the schema sees at once.
        key = json.dumps(schema)  # unsorted: properties are generated in the schema's order
        if key in self._grammars:
            self._grammars.move_to_end(key)
            return self._grammars[key]
        from llama_cpp import LlamaGrammar

        try:
            grammar = LlamaGrammar.from_json_schema(key, verbose=False)
        except Exception as exc:  # the converter raises plain Exception/ValueError
            raise LLMError(f"llama.cpp cannot turn this JSON schema into a grammar: {exc}") from exc
        # Item schemas differ per item (each limits tags to its evidence's words): keep a few.
        self._grammars[key] = grammar
        while len(self._grammars) > 16:
            self._grammars.popitem(last=False)
        return grammar

    def _distinct(self, opts: CompletionOptions) -> _Distinct | None:
        if not opts.distinct_keys and opts.repeat_penalty == 1.0 and not opts.avoid_words:
            return None
        if self._words is None:
            # Which tokens carry letters: only those are penalised, never quotes or commas.
            llm = self._llm
            self._words = [
                bool(_LETTERS.search(llm.detokenize([i]).decode("utf-8", "ignore")))
                for i in range(llm.n_vocab())
            ]
        return _Distinct(
            opts.distinct_keys,
            opts.distinct_penalty,
            self._words,
            opts.repeat_penalty,
            shun=opts.avoid_words,
            shun_penalty=opts.avoid_penalty,
            pieces=lambda t: self._llm.detokenize([t]).decode("utf-8", "ignore"),
        )

    def complete_json(
        self, messages: list[Message], schema: dict[str, Any], options: CompletionOptions | None = None
    ) -> tuple[Any, Usage]:
        opts = options or CompletionOptions()
        # llama-cpp-python tokenises the templated prompt with special tokens on: a "<|im_start|>"
        # in any content would become a real control token. Defused here for every caller.
        messages = defused(messages)
        with self._lock:
            llm = self._load()
            grammar = self._grammar(schema)
            start = time.perf_counter()
            if opts.temperature == 0 and self.greedy_first:
                from llama_cpp import LogitsProcessorList

                greedy = _GreedyGrammar(llm, grammar, self._distinct(opts))
                try:
                    out = llm.create_chat_completion(
                        messages=messages,
                        logits_processor=LogitsProcessorList([greedy]),
                        temperature=0.0,
                        seed=opts.seed,
                        max_tokens=opts.max_tokens,
                    )
                finally:
                    greedy.close()
            else:
                out = llm.create_chat_completion(
                    messages=messages,
                    grammar=grammar,
                    temperature=opts.temperature,
                    seed=opts.seed,
                    max_tokens=opts.max_tokens,
                )
            seconds = time.perf_counter() - start
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        usage = out.get("usage") or {}
        cost = Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), seconds)
        return parse_json(text, choice.get("finish_reason")), cost


_LETTERS = re.compile(r"[A-Za-z]")
_LETTERS_ONLY = re.compile(r"[\W\d_]+")
_VALUE_OPEN = re.compile(r'"\s*:\s*"[^"]*$')  # the text ends inside a string value


@dataclass
class _Distinct:
    """Keeps the values of ``keys`` apart: see ``CompletionOptions.distinct_keys``."""

    keys: tuple[str, ...]
    penalty: float
    words: list[bool]
    repeat_penalty: float = 1.0
    window: int = 48
    shun: tuple[str, ...] = ()  # CompletionOptions.avoid_words
    shun_penalty: float = 10.0
    pieces: Callable[[int], str] | None = None  # token id -> its text
    text: str = ""
    _open: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        names = "|".join(re.escape(k) for k in self.keys)
        # The value being written: the text ends inside the string after "key": "
        self._open = re.compile(rf'"({names})"\s*:\s*"([^"\\]*)$')
        self._done = re.compile(rf'"({names})"\s*:\s*"([^"\\]*)"')
        self._tokens: dict[str, set[int]] = {}
        self._shunned: list[int] | None = None
        self.recent: list[int] = []

    def feed(self, token: int, piece: str) -> None:
        self.text += piece
        if self.words[token]:
            self.recent = [*self.recent[-(self.window - 1) :], token]

    def penalise(self, scores: Any, tokenize: Any) -> Any:
        """``scores`` with the repeat, distinct-value and avoided-word penalties applied (a copy
        when changed)."""
        banned = self.banned(tokenize) if self.keys else []
        # Only inside a string value: the same word as a key ("tag") is forced by the grammar, and
        # a penalised key token makes the decoder spell it in pieces the model never saw there.
        shunned = self.shunned(tokenize) if self.shun and _VALUE_OPEN.search(self.text[-450:]) else []
        if not banned and not shunned and (self.repeat_penalty == 1.0 or not self.recent):
            return scores
        scores = scores.copy()
        if shunned:
            scores[shunned] -= self.shun_penalty
        if self.repeat_penalty != 1.0 and self.recent:
            ids = sorted(set(self.recent))
            vals = scores[ids]
            scores[ids] = vals / self.repeat_penalty * (vals > 0) + vals * self.repeat_penalty * (vals <= 0)
        if banned:
            scores[banned] -= self.penalty
        return scores

    def shunned(self, tokenize: Any) -> list[int]:
        """Whole-word tokens of the words to avoid, in the spellings a sentence may use."""
        if self._shunned is None:
            out: set[int] = set()
            for word in self.shun:
                for form in {word, word.capitalize(), word.upper()}:
                    for spelling in (form, " " + form):
                        for t in tokenize(spelling):
                            piece = self.pieces(t) if self.pieces else ""
                            letters = _LETTERS_ONLY.sub("", piece).lower()
                            # Only pieces that carry a real part of the word: "fyp" splits into
                            # " f" + "yp", and banning " f" would ban half the language.
                            if len(letters) >= 3 and letters in word.lower():
                                out.add(t)
            self._shunned = sorted(out)
        return self._shunned

    def banned(self, tokenize: Any) -> list[int]:
        """Tokens of earlier values of the key whose value is open now (empty outside one)."""
        assert self._open is not None
        found = self._open.search(self.text[-200:])
        if found is None:
            return []
        key = found.group(1)
        out: set[int] = set()
        for m in self._done.finditer(self.text):
            if m.group(1) != key or not m.group(2):
                continue
            value = m.group(2)
            if value not in self._tokens:
                ids = tokenize(value) + tokenize(" " + value)
                self._tokens[value] = {t for t in ids if t < len(self.words) and self.words[t]}
            out |= self._tokens[value]
        return sorted(out)


class _GreedyGrammar:
    """Greedy decoding under a grammar, checking the grammar against the best token first.

    llama-cpp-python applies a grammar to every token of the vocabulary at every step (152k for
    Qwen). For greedy decoding the result is the same if the model's top token is tried alone first
    and the whole vocabulary is filtered only when the grammar rejects it (llama.cpp's own CLI does
    this), so this logits processor does exactly that and leaves one finite logit for the greedy
    sampler. Same answers (a heavy test compares them), 1.2-1.5x the tokens/s with qwen-0.5b on two
    idle cores, more when the cores are busy.
    """

    def __init__(self, llm: Any, grammar: Any, distinct: _Distinct | None = None) -> None:
        import ctypes

        import llama_cpp
        import numpy as np

        self._c = llama_cpp
        self._ctypes = ctypes
        self._np = np
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._sampler:
            raise LLMError("llama.cpp rejected the grammar made from the schema")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all = (llama_cpp.llama_token_data * llm.n_vocab())()
        layout = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)])
        self._view = np.frombuffer(self._all, dtype=layout)
        self._llm = llm
        self._distinct = distinct

    def _apply(self, data: Any, size: int) -> None:
        c = self._c
        cast = self._ctypes.cast(data, c.llama_token_data_p)
        arr = c.llama_token_data_array(data=cast, size=size, selected=-1, sorted=False)
        c.llama_sampler_apply(self._sampler, self._ctypes.byref(arr))

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        np = self._np
        if self._distinct is not None:
            scores = self._distinct.penalise(
                scores, lambda text: self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
            )
        token = int(np.argmax(scores))
        self._one[0] = self._c.llama_token_data(token, 0.0, 0.0)
        self._apply(self._one, 1)
        if np.isinf(self._one[0].logit):  # rejected: filter the whole vocabulary
            n = len(scores)
            self._view["id"][:n] = np.arange(n)
            self._view["logit"][:n] = scores
            self._view["p"][:n] = 0.0
            self._apply(self._all, n)
            token = int(np.argmax(self._view["logit"][:n]))
            if np.isinf(self._view["logit"][token]):
                # Nothing fits (cannot happen with a sound grammar). Accepting a rejected token
                # would abort the process, and an exception here is lost inside llama.cpp's
                # callback: decode freely instead and let the validator report the result.
                return scores
        self._c.llama_sampler_accept(self._sampler, token)
        if self._distinct is not None:
            self._distinct.feed(token, self._llm.detokenize([token]).decode("utf-8", "ignore"))
        out = np.full_like(scores, -np.inf)
        out[token] = 0.0
        tokens_written()
        return out

    def close(self) -> None:
        if self._sampler:
            self._c.llama_sampler_free(self._sampler)
            self._sampler = None
