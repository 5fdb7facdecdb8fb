"""Progress on stderr: drawn for a terminal or when asked (``--progress``), never otherwise, with a
clock that moves between updates and a token count during LLM calls."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediarec.cli import main
from mediarec.cli_progress import Bar, llm_call, wanted
from mediarec.llm.backends import on_tokens, tokens_written
from tests.cli_helpers import invoke, small_home

EVALUATE = ("evaluate", "--split", "random", "--models", "random,popularity,itemknn", "-k", "5")


def test_progress_is_drawn_only_when_asked_or_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDIAREC_PROGRESS", raising=False)
    home = small_home(tmp_path / "home")
    quiet = invoke(home, *EVALUATE, "--out", str(tmp_path / "a"))
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""  # CliRunner's stderr is no terminal: scripts and tests stay clean
    shown = invoke(home, "--progress", *EVALUATE, "--out", str(tmp_path / "b"))
    assert shown.exit_code == 0, shown.output
    assert "evaluate: 100%" in shown.stderr and "3/3" in shown.stderr and "models" in shown.stderr
    # Progress never reaches stdout: the report reads the same either way (timings aside).
    assert "models" not in shown.stdout and "it/s" not in shown.stdout
    assert shown.stdout.split("| model |")[0] == quiet.stdout.split("| model |")[0]
    monkeypatch.setenv("MEDIAREC_PROGRESS", "1")
    assert "evaluate: 100%" in invoke(home, *EVALUATE, "--out", str(tmp_path / "c")).stderr
    assert invoke(home, "--no-progress", *EVALUATE, "--out", str(tmp_path / "d")).stderr == ""


def test_wanted_follows_the_flag_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAREC_PROGRESS", "0")
    assert wanted() is False
    monkeypatch.setenv("MEDIAREC_PROGRESS", "yes")
    assert wanted() is True


def test_a_bar_keeps_its_clock_moving_without_updates(capsys: pytest.CaptureFixture[str]) -> None:
    with Bar("waiting", total=None, enabled=True):
        time.sleep(1.3)  # one long step that reports nothing
    err = capsys.readouterr().err
    assert "waiting: 0it [00:01" in err, repr(err[-300:])


def test_a_step_that_reports_nothing_shows_its_elapsed_time(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    result = invoke(home, "--progress", "train", "--model", "itemknn")
    assert result.exit_code == 0 and "training itemknn: 00:00 elapsed" in result.stderr
    assert invoke(home, "train", "--model", "itemknn").stderr == ""


def test_llm_call_counts_the_tokens_written_in_its_thread(capsys: pytest.CaptureFixture[str]) -> None:
    with llm_call("profile of u1", enabled=True):
        tokens_written(5)
        tokens_written(2)
    err = capsys.readouterr().err
    assert "profile of u1: 7tok" in err, repr(err[-300:])
    # Off, nothing listens and nothing is drawn.
    with llm_call("quiet", enabled=False):
        tokens_written(3)
    assert capsys.readouterr().err == ""
    seen: list[int] = []
    with on_tokens(seen.append), on_tokens(lambda n: seen.append(-n)):
        tokens_written(1)
    tokens_written(1)  # outside: no listener
    assert seen == [-1]


def test_profile_regeneration_shows_a_live_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.users.helpers import engine_with_history

    home = tmp_path / "home"
    engine_with_history(home).close()
    # Nothing listens on port 9: the call fails at once, after the spinner started.
    monkeypatch.setenv("MEDIAREC_LLM_URL", "http://127.0.0.1:9/v1?model=none")
    result = CliRunner().invoke(main, ["--home", str(home), "--progress", "profile", "u1", "--regenerate"])
    assert result.exit_code == 1 and "127.0.0.1:9" in result.output
    assert "profile of u1: 0tok [00:00" in result.stderr
    quiet = CliRunner().invoke(main, ["--home", str(home), "profile", "u1", "--regenerate"])
    assert "tok" not in quiet.stderr


def test_describe_bar_knows_its_total_from_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = small_home(tmp_path / "home")
    monkeypatch.setenv("MEDIAREC_LLM_URL", "http://127.0.0.1:9/v1?model=none")
    result = invoke(home, "--progress", "describe", "v1", "v2", "nope")
    assert "describe:   0%" in result.stderr and "0/3" in result.stderr, result.stderr[-500:]


@pytest.mark.heavy
def test_the_local_backend_reports_each_token_it_writes(tmp_path: Path) -> None:
    """The token counter of `describe` and `profile --regenerate` is fed by the real decoder."""
    import os

    from mediarec.llm.local import LlamaCppBackend
    from tests.llm.test_backends import OPTIONS, PROMPTS, SCHEMA, _gguf, _messages

    backend = LlamaCppBackend(_gguf(tmp_path), n_ctx=1024, n_threads=os.cpu_count())
    counted: list[int] = []
    with on_tokens(counted.append):
        _value, usage = backend.complete_json(_messages(PROMPTS[0][0]), SCHEMA, OPTIONS)
    # One call per sampled token; the end-of-text token is sampled but not counted as completion.
    assert usage.completion_tokens > 0
    assert usage.completion_tokens <= sum(counted) <= usage.completion_tokens + 1


def _stderr_on_a_pty(args: list[str], columns: int) -> str:
    """Run ``mediarec ARGS`` with stderr on a pseudo-terminal of ``columns`` (0: one that reports
    no size, as some CI runners and bare ptys do); returns what reached it."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24 if columns else 0, columns, 0, 0))
    code = "import sys; from mediarec.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave
    )
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=60) == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


@pytest.mark.parametrize("columns", [100, 0])
def test_a_terminal_gets_progress_without_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.delenv("MEDIAREC_PROGRESS", raising=False)
    home = small_home(tmp_path / "home")
    drawn = _stderr_on_a_pty(["--home", str(home), "train", "--model", "itemknn"], columns)
    assert "training itemknn: 00:00 elapsed" in drawn, repr(drawn)
