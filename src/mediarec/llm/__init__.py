"""The LLM layer's foundation: backends, schema-checked generation, a result cache, prompt hygiene.

Heavy imports (llama-cpp-python) happen only when a local model is first used; the HTTP backend
needs the standard library alone. Install the local runtime with ``pip install 'mediarec[llm]'``.
"""

from mediarec.llm.backends import (
    CompletionOptions,
    LLMBackend,
    LLMError,
    LLMOutputError,
    Message,
    OpenAIBackend,
    Usage,
    backend_from_settings,
    backend_from_url,
)
from mediarec.llm.cache import ResultCache, input_hash
from mediarec.llm.local import LlamaCppBackend
from mediarec.llm.scrub import DATA_RULE, as_data, neutralise, scrub_pii
from mediarec.llm.structured import Generated, generate, schema_errors

__all__ = [
    "DATA_RULE",
    "CompletionOptions",
    "Generated",
    "LLMBackend",
    "LLMError",
    "LLMOutputError",
    "LlamaCppBackend",
    "Message",
    "OpenAIBackend",
    "ResultCache",
    "Usage",
    "as_data",
    "backend_from_settings",
    "backend_from_url",
    "generate",
    "input_hash",
    "neutralise",
    "schema_errors",
    "scrub_pii",
]
