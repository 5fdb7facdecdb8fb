"""Text the ``mediarec`` command prints, made safe for a terminal.

Titles, file names, transcripts, comments and LLM output come from media files and users. Printed
raw, a title holding ``ESC [2J`` clears the screen, ``ESC ] 0;...BEL`` retitles the window, and a
C1 byte such as U+009B (a one-character CSI) does the same on terminals that honour it. Every
command echoes stored text through :func:`echo` (or :func:`echo_json`), which shows each control
character as a visible escape (``\\x1b``, ``\\x9b``) instead of sending it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click

# C0 controls except tab and newline (which only move the cursor forward), DEL, the C1 controls,
# and lone surrogates (which cannot be encoded, so printing them raised UnicodeEncodeError).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Inside JSON, C0 controls are already escaped by json.dumps; DEL and C1 are not (with ensure_ascii
# off) and surrogates would not encode.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe(text: object) -> str:
    """``text`` with every control character (but tab and newline) shown as an escape."""
    return _UNSAFE.sub(_visible, str(text))


def safe_line(text: object) -> str:
    """Like :func:`safe`, for a value that must stay on one line (a title, a path): newlines too."""
    return safe(text).replace("\n", "\\n")


def echo(message: object = "", err: bool = False, nl: bool = True) -> None:
    """``click.echo`` of ``message`` made safe for a terminal (see the module docstring)."""
    click.echo(safe(message), err=err, nl=nl)


def dumps(value: Any, indent: int | None = None) -> str:
    """JSON text of ``value`` (non-ASCII kept readable) with no raw control character left in it:
    the escapes are JSON's own, so the output parses back to the same value."""
    return _UNSAFE_IN_JSON.sub(_json_escape, json.dumps(value, indent=indent, ensure_ascii=False))


def echo_json(value: Any, indent: int | None = None) -> None:
    click.echo(dumps(value, indent=indent))
