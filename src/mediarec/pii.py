"""Personal data out of free text: e-mail addresses and phone numbers.

Comments, transcripts and on-screen text are written by strangers. The store scrubs comments
before keeping them (:meth:`mediarec.store.Store.add_events`), and the LLM layer scrubs whatever
it puts in a prompt (:mod:`mediarec.llm.scrub`). This module imports nothing of mediarec, so
both can use it without an import cycle.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+"
    r"(?:@|\s*[\[(]\s*at\s*[\])]\s*)"  # also the "name [at] example.com" disguise
    r"[A-Za-z0-9-]+(?:(?:\.|\s*[\[(]\s*dot\s*[\])]\s*)[A-Za-z0-9-]+)*"
    r"(?:\.|\s*[\[(]\s*dot\s*[\])]\s*)[A-Za-z]{2,}\b",
    re.IGNORECASE,
)

# A run of digit groups that could be a phone number; _is_phone decides. Separators are single
# spaces, dots, dashes and slashes, with an optional (area code); a colon never (1:30:00 is a time).
_PHONE_CANDIDATE = re.compile(r"(?<![\w+/.,:-])(?:\+|\()?\d[\d .\-/()]*\d(?![\w/:-]|[.,]\d)")
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")
_YEARS = re.compile(r"^(?:1[89]|20)\d\d(?:\s*[-/ ]\s*(?:1[89]|20)\d\d)*$")
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?:([ ,.])\d{3})(?:\1\d{3})*$")


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        return False
    if candidate.startswith(("+", "00")) or re.match(r"^\(\d{1,5}\) ?\d", candidate):
        return True  # an international prefix or an (area code) is telling enough
    if _DATE.match(candidate) or _YEARS.match(candidate) or _THOUSANDS.match(candidate):
        return False  # 2024-01-15, 1999-2003, 1 000 000
    if candidate.count("(") != candidate.count(")"):
        return False
    groups = re.split(r"[ .\-/]", candidate.replace("(", "").replace(")", ""))
    if len(groups) == 1:
        # A bare run of digits is a phone only in national form (0 then 9-11 digits); counts,
        # IDs and amounts are left alone.
        return candidate.startswith("0") and 10 <= len(digits) <= 12
    if any(len(g) == 0 for g in groups):
        return False
    # Decimal numbers and version strings: at most two groups and short ones.
    return not (len(groups) == 2 and "." in candidate and len(groups[1]) < 3)


def scrub_pii(text: str) -> str:
    """``text`` with e-mail addresses replaced by ``[email]`` and phone numbers by ``[phone]``.
    Ordinary numbers (years, dates, durations, amounts, counts) are left as they are."""
    text = _EMAIL.sub("[email]", text)

    def phone(m: re.Match[str]) -> str:
        found = m.group(0)
        stripped = found.rstrip(" .-/")
        tail = found[len(stripped) :]
        return "[phone]" + tail if _is_phone(stripped) else found

    return _PHONE_CANDIDATE.sub(phone, text)


_PLACEHOLDER = re.compile(r"\[(?:email|phone)\]")


def without_placeholders(text: str) -> str:
    """``text`` with the ``[email]``/``[phone]`` marks of :func:`scrub_pii` taken out, for checks
    that would read a bracketed word as a command (stored comments are scrubbed already)."""
    return _PLACEHOLDER.sub(" ", text)
