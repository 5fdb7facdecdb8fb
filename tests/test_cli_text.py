"""Stored text reaches the terminal with its control characters escaped (item titles, file names,
reasons, profiles), in plain and in JSON output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mediarec.cli_text import dumps, safe, safe_line
from mediarec.engine import MediaRec
from mediarec.records import ItemRecord
from tests.cli_helpers import invoke, small_home

ESC, BEL, CSI_C1, OSC_C1, ST_C1 = "\x1b", "\x07", "\x9b", "\x9d", "\x9c"
HOSTILE = {
    "clear screen": f"{ESC}[2J{ESC}[HCleared",
    "window title (OSC, BEL)": f"{ESC}]0;pwned{BEL}Titled",
    "window title (OSC, ST)": f"{ESC}]2;pwned{ESC}\\Titled",
    "C1 CSI": f"{CSI_C1}31mRed",
    "C1 OSC": f"{OSC_C1}0;pwned{ST_C1}Titled",
    "backspace and DEL": "Over\x08\x08\x7fwritten",
    "carriage return": "Hidden\rShown",
    "NUL": "Nul\x00byte",
}
# The store refuses NUL at the door (mediarec.limits); every other control character can be stored.
STORED = {name: text for name, text in HOSTILE.items() if "\x00" not in text}
# Any control character but tab and newline (and no lone surrogate, which cannot even be encoded).
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_safe_shows_every_control_character_as_an_escape(text: str) -> None:
    shown = safe(text)
    assert not RAW_CONTROL.search(shown)
    # The escape names the character, and printable text around it is kept.
    for ch in set(RAW_CONTROL.findall(text)):
        assert f"\\x{ord(ch):02x}" in shown
    assert re.sub(r"\\x[0-9a-f]{2}", "", shown).replace("[2J", "").strip()


def test_safe_keeps_tab_newline_and_non_ascii_and_escapes_surrogates() -> None:
    assert safe("a\tb\nc — é 日本") == "a\tb\nc — é 日本"
    assert safe_line("one\ntwo") == "one\\ntwo"
    assert safe("lone \ud83d surrogate") == "lone \\ud83d surrogate"


def test_json_output_has_no_raw_control_character_and_parses_back_unchanged() -> None:
    value = {"titles": list(HOSTILE.values()), "lone": "\ud83d", "fine": "é"}
    text = dumps(value, indent=2)
    assert not RAW_CONTROL.search(text) and "é" in text
    assert json.loads(text) == value


def _hostile_home(tmp_path: Path) -> Path:
    titles = {f"v{i}": title for i, title in enumerate(STORED.values())}
    home = small_home(tmp_path / "home", titles=titles)
    with MediaRec(home) as engine:
        engine.add_items(
            [
                ItemRecord(
                    external_id="v0",
                    title=titles["v0"],
                    kind="audio",
                    creator=f"{ESC}]0;creator{BEL}",
                    uri=f"/media/{ESC}[2Jclip{CSI_C1}1m.mp4",
                )
            ]
        )
    return home


def _assert_clean(output: str) -> None:
    assert not RAW_CONTROL.search(output), repr(output[:500])


def test_show_escapes_title_and_file_name(tmp_path: Path) -> None:
    home = _hostile_home(tmp_path)
    result = invoke(home, "show", "v0")
    assert result.exit_code == 0, result.output
    _assert_clean(result.output)
    assert "\\x1b[2J\\x1b[HCleared [v0]" in result.output
    assert "file: /media/\\x1b[2Jclip\\x9b1m.mp4" in result.output
    shown = invoke(home, "show", "v0", "--json")
    _assert_clean(shown.output)
    assert json.loads(shown.stdout)["item"]["title"] == HOSTILE["clear screen"]


def test_items_recommend_and_similar_escape_titles(tmp_path: Path) -> None:
    home = _hostile_home(tmp_path)
    outputs = [invoke(home, "items", "--limit", "20").output]
    assert "\\x1b]0;pwned\\x07Titled" in outputs[0] and "\\x9b31mRed" in outputs[0]
    assert invoke(home, "train", "--model", "itemknn").exit_code == 0
    for args in (
        ("recommend", "u1", "-n", "20", "--model", "itemknn"),
        ("recommend", "u1", "-n", "20", "--model", "itemknn", "--include-seen"),
        ("similar", "v1", "-n", "20", "--model", "itemknn"),
        ("items", "--json"),
    ):
        result = invoke(home, *args)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    joined = "\n".join(outputs)
    _assert_clean(joined)
    assert "\\x9d0;pwned\\x9cTitled" in joined  # a C1 OSC, shown, not sent
    listed = json.loads(invoke(home, "items", "--json", "--limit", "20").stdout)
    assert {i["title"] for i in listed["items"]} >= set(STORED.values())
