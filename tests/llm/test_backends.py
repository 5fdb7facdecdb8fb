"""Backends: URL selection (no model), then real JSON from qwen-0.5b locally and over HTTP.

The HTTP test starts llama-cpp-python's own OpenAI-compatible server on loopback, so the request
and response formats are a real server's, not a mock's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from mediarec.llm import (
    CompletionOptions,
    LlamaCppBackend,
    LLMBackend,
    LLMError,
    OpenAIBackend,
    backend_from_url,
    generate,
    schema_errors,
)
from mediarec.settings import Settings

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tags": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z][a-z ]*$", "maxLength": 24},
            "minItems": 3,
            "maxItems": 5,
        },
        "language": {"type": "string", "enum": ["en", "de", "fr", "es", "other"]},
    },
    "required": ["tags", "language"],
    "additionalProperties": False,
}
PROMPTS = [
    ("A home cook shows how to bake sourdough bread: feeding the starter, folding, baking.", "en"),
    ("Ein Reporter erklärt die Regeln beim Fußball in der Bundesliga.", "de"),
    ("Un guide de randonnée dans les Alpes: sentiers, météo et équipement.", "fr"),
]
OPTIONS = CompletionOptions(max_tokens=96)


def _messages(text: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "You tag videos. Answer with JSON: 3 to 5 short lowercase English tags "
            "and the language of the description.",
        },
        {"role": "user", "content": f"Description: {text}"},
    ]


def _kit_settings(tmp_path: Path) -> Settings:
    kit = os.environ.get("MEDIAREC_KIT_DIR", "")
    if not kit or not (Path(kit) / "qwen-0.5b").is_dir():
        pytest.skip("no kit with qwen-0.5b: set MEDIAREC_KIT_DIR (mediarec models install --llm fast)")
    return Settings(home=str(tmp_path / "home"), kit_dir=kit)


def _gguf(tmp_path: Path, name: str = "qwen-0.5b") -> Path:
    if find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python missing: pip install 'mediarec[llm]'")
    from mediarec.kit import ModelNotInstalled, model_file

    try:
        return model_file(name, tmp_path / "home", _kit_settings(tmp_path))
    except ModelNotInstalled as exc:
        pytest.skip(str(exc))


# --- choosing a backend: no model is loaded ------------------------------------------------


def test_http_urls_make_openai_backends() -> None:
    backend = backend_from_url("http://127.0.0.1:11434/v1?model=qwen2.5:0.5b")
    assert isinstance(backend, OpenAIBackend)
    assert backend.base_url == "http://127.0.0.1:11434/v1"
    assert backend.model == "qwen2.5:0.5b"
    assert backend.model_id == "qwen2.5:0.5b@127.0.0.1:11434"
    secure = backend_from_url("https://llm.example/v1/", Settings())
    assert isinstance(secure, OpenAIBackend) and secure.model is None
    assert secure.base_url == "https://llm.example/v1"


def test_llama_path_url_makes_local_backend(tmp_path: Path) -> None:
    fake = tmp_path / "m" / "tiny.gguf"
    fake.parent.mkdir()
    fake.write_bytes(b"GGUF")  # never loaded: the backend loads on first use
    for url in (f"llama://{fake}", f"llama://{fake.parent}"):
        backend = backend_from_url(url)
        assert isinstance(backend, LlamaCppBackend)
        assert backend.model_path == fake and backend.model_id == "tiny"


def test_llama_kit_urls_pick_the_named_model(tmp_path: Path) -> None:
    settings = _kit_settings(tmp_path)
    if find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python missing: pip install 'mediarec[llm]'")
    small = backend_from_url("llama://qwen-0.5b", settings)
    assert isinstance(small, LlamaCppBackend) and small.model_id.startswith("qwen-0.5b/")
    if (Path(settings.kit_dir) / "qwen-1.5b").is_dir():
        # an explicit model in the URL wins over llm_model; the bare scheme follows llm_model
        big = backend_from_url("llama://qwen-1.5b", settings.with_overrides(llm_model="qwen-0.5b"))
        assert big.model_id.startswith("qwen-1.5b/")
        chosen = backend_from_url("llama://", settings.with_overrides(llm_model="qwen-1.5b"))
        assert chosen.model_id.startswith("qwen-1.5b/")
    assert backend_from_url("", settings).model_id.startswith("qwen-0.5b/")


def test_bad_urls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LLMError, match="unknown LLM URL"):
        backend_from_url("ftp://x")
    with pytest.raises(LLMError, match="no such GGUF"):
        backend_from_url(f"llama://{tmp_path}/missing.gguf")


def test_unreachable_server_is_an_llm_error() -> None:
    backend = OpenAIBackend(f"http://127.0.0.1:{_free_port()}/v1", model="m", timeout=5)
    with pytest.raises(LLMError):
        backend.complete_json([{"role": "user", "content": "hi"}], SCHEMA)


# --- real models ---------------------------------------------------------------------------


def _check_answers(backend: LLMBackend, label: str) -> None:
    tokens, seconds = 0, 0.0
    for text, _language in PROMPTS[: 2 if backend.name == "openai" else 3]:
        out = generate(backend, _messages(text), SCHEMA, retries=1, options=OPTIONS)
        assert schema_errors(out.value, SCHEMA) == []
        tokens += out.usage.completion_tokens
        seconds += out.usage.seconds
        print(f"{label}: {out.value} ({out.attempts} attempt(s), {out.usage.completion_tokens} tokens)")
    print(f"{label}: {tokens} tokens in {seconds:.1f} s = {tokens / seconds:.2f} tokens/s")


@pytest.mark.heavy
def test_local_backend_returns_schema_valid_json(tmp_path: Path) -> None:
    backend = LlamaCppBackend(_gguf(tmp_path), n_ctx=1024, n_threads=os.cpu_count())
    # constrained decoding alone (no retry) must already give schema-valid objects
    value, usage = backend.complete_json(_messages(PROMPTS[0][0]), SCHEMA, OPTIONS)
    assert schema_errors(value, SCHEMA) == []
    assert usage.completion_tokens > 0 and usage.prompt_tokens > 0
    _check_answers(backend, "llama.cpp qwen-0.5b")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port; yields its /v1 URL."""
    missing = [m for m in ("sse_starlette", "starlette_context", "pydantic_settings") if find_spec(m) is None]
    if missing:
        pytest.skip(f"llama_cpp.server needs {', '.join(missing)}: pip install 'llama-cpp-python[server]'")
    gguf = _gguf(tmp_path_factory.mktemp("srv"))
    port = _free_port()
    log = tmp_path_factory.mktemp("srvlog") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(gguf),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "1024",
                "--n_threads",
                str(os.cpu_count() or 1),
                "--model_alias",
                "qwen-0.5b",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer in 120 s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.heavy
def test_http_backend_against_a_real_server(llama_server: str) -> None:
    backend = backend_from_url(llama_server + "?model=qwen-0.5b", Settings())
    assert isinstance(backend, OpenAIBackend)
    _check_answers(backend, "http qwen-0.5b")
    # this server has no json_schema format; the backend settles on json_object with the schema
    assert backend._format == "json_object+schema"
    assert backend.model_id.startswith("qwen-0.5b@127.0.0.1:")


@pytest.mark.heavy
def test_http_backend_finds_the_model_when_none_is_named(llama_server: str) -> None:
    backend = backend_from_url(llama_server, Settings())
    assert isinstance(backend, OpenAIBackend)
    assert backend.model_id.startswith("qwen-0.5b@")


@pytest.mark.heavy
def test_greedy_first_grammar_gives_the_stock_answer_faster(tmp_path: Path) -> None:
    gguf = _gguf(tmp_path)
    fast = LlamaCppBackend(gguf, n_ctx=1024, greedy_first=True)
    stock = LlamaCppBackend(gguf, n_ctx=1024, greedy_first=False)
    messages = _messages(PROMPTS[2][0])
    value_fast, usage_fast = fast.complete_json(messages, SCHEMA, OPTIONS)
    value_stock, usage_stock = stock.complete_json(messages, SCHEMA, OPTIONS)
    assert value_fast == value_stock
    assert list(value_fast) == ["tags", "language"]  # the schema's property order
    print(
        f"greedy-first {usage_fast.tokens_per_second:.2f} tokens/s, "
        f"stock grammar {usage_stock.tokens_per_second:.2f} tokens/s"
    )
