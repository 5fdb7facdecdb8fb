"""Chat-template control tokens defused in untrusted text: one function for every piece of it.

llama.cpp formats a conversation with the model's chat template and tokenises the result with
special tokens enabled, so a transcript line that says ``<|im_end|><|im_start|>system`` became real
ChatML control tokens: the attacker's text closed our user turn and opened a system turn of its own.
:func:`defuse` rewrites every such marker with a look-alike character (``<|`` becomes ``‹|``), which
no tokenizer reads as a control token and a reader still recognises. It runs on every piece of item
evidence (:func:`mediarec.llm.evidence.clean_text`), inside every ``<data>`` block
(:func:`mediarec.llm.scrub.as_data`, used by describe and by taste profiles), and on every message
the local backend sends (:class:`mediarec.llm.local.LlamaCppBackend`), so no caller can forget it.
"""

from __future__ import annotations

import re

# ChatML and most GGUF templates: <|im_start|>, <|im_end|>, <|endoftext|>, <|fim_prefix|>, ...;
# Llama 2/3 and Mistral: <s>, </s>, <<SYS>>, [INST], <|begin_of_text|>, <|eot_id|>. The pipe forms are
# defused whatever their name, so a marker of a template we do not ship is covered too.
_PIPE_OPEN = re.compile(r"<\s*\|")
_PIPE_CLOSE = re.compile(r"\|\s*>")
_SYS = re.compile(r"<<\s*(/?)\s*SYS\s*>>", re.IGNORECASE)
_BOS_EOS = re.compile(r"<(/?)s>")
_INST = re.compile(r"\[(/?)(INST|SYS)\]", re.IGNORECASE)

LOOKALIKE_OPEN = "\u2039"  # ‹ SINGLE LEFT-POINTING ANGLE QUOTATION MARK
LOOKALIKE_CLOSE = "\u203a"  # ›


def defuse(text: str) -> str:
    """``text`` with chat-template control markers replaced by look-alikes that no tokenizer treats
    as special (``<|im_start|>`` becomes ``‹|im_start|›``, ``[INST]`` becomes ``(INST)``).
    Run it after NFKC normalisation: NFKC folds full-width ``＜｜`` into ``<|``."""
    if "<" not in text and "|" not in text and "[" not in text:
        return text
    text = _PIPE_OPEN.sub(LOOKALIKE_OPEN + "|", text)
    text = _PIPE_CLOSE.sub("|" + LOOKALIKE_CLOSE, text)
    text = _SYS.sub(lambda m: f"{LOOKALIKE_OPEN * 2}{m.group(1)}SYS{LOOKALIKE_CLOSE * 2}", text)
    text = _BOS_EOS.sub(lambda m: f"{LOOKALIKE_OPEN}{m.group(1)}s{LOOKALIKE_CLOSE}", text)
    return _INST.sub(lambda m: f"({m.group(1)}{m.group(2)})", text)


def has_control_markers(text: str) -> bool:
    """Whether ``text`` still holds something :func:`defuse` would change (for tests and checks)."""
    return defuse(text) != text
