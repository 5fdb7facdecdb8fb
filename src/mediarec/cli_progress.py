"""Signs of life for the ``mediarec`` command's long steps, on stderr.

One rule for every command: progress is drawn only when stderr is a terminal, or when asked with
``mediarec --progress`` (``MEDIAREC_PROGRESS=1``); ``--no-progress`` silences it. So scripts,
pipes and tests get clean output while a person at a terminal sees bars with an estimate.

Bars are tqdm's. Between two updates tqdm redraws nothing, so a step whose first update comes a
minute late (the first chunk of texts embedded, one LLM call) would look frozen: each bar here has
a ticker thread that redraws it every half second, so its elapsed time keeps moving.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import click

ENV = "MEDIAREC_PROGRESS"
TICK_SECONDS = 0.5


def wanted(ctx: click.Context | None = None) -> bool:
    """Whether to draw progress: the ``--progress/--no-progress`` choice, else whether stderr is a
    terminal."""
    ctx = ctx or click.get_current_context(silent=True)
    chosen = None
    if ctx is not None:
        chosen = ctx.find_root().params.get("progress")
    if chosen is None:
        raw = os.environ.get(ENV, "").strip().lower()
        if raw in ("1", "true", "yes", "on"):
            chosen = True
        elif raw in ("0", "false", "no", "off"):
            chosen = False
    if chosen is None:
        chosen = bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(chosen)


def _width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class Bar:
    """A tqdm bar on stderr that keeps its clock moving; does nothing when progress is off.

    ``total=None`` draws a counter with elapsed time and rate (for one long call, e.g. tokens);
    ``unit=None`` draws the elapsed time alone (a step that reports nothing until it ends).
    """

    def __init__(
        self, desc: str, total: int | None = None, unit: str | None = "it", enabled: bool | None = None
    ):
        self.enabled = wanted() if enabled is None else enabled
        self._bar: Any = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if not self.enabled:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=total,
            desc=desc,
            unit=unit or "it",
            bar_format=None if unit else "{desc}: {elapsed} elapsed",
            file=sys.stderr,
            # Follow the terminal's size; one that reports none (0 x 0, e.g. a bare pty) gets a
            # fixed one, since tqdm would draw nothing there.
            dynamic_ncols=_width() > 0,
            ncols=None if _width() > 0 else 100,
            nrows=None if _width() > 0 else 24,
            leave=True,
            mininterval=0.2,
        )
        self._thread = threading.Thread(target=self._tick, name="mediarec-progress", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            with self._lock:
                self._bar.update(n)

    def moveto(self, done: int, total: int | None = None) -> None:
        """Set the position (and total) from a callback that reports ``done`` of ``total``."""
        if self._bar is not None:
            with self._lock:
                if total is not None and self._bar.total != total:
                    self._bar.total = total
                self._bar.n = done
                self._bar.refresh()

    def describe(self, desc: str) -> None:
        if self._bar is not None:
            with self._lock:
                self._bar.set_description_str(desc, refresh=True)

    def note(self, text: str) -> None:
        """Text after the counts (e.g. the item being worked on); drawn by the next tick, so it
        may be called per token."""
        if self._bar is not None:
            with self._lock:
                self._bar.set_postfix_str(text, refresh=False)

    def write(self, line: str) -> None:
        """A result line on stdout, printed above the bar without tearing it."""
        if self._bar is None:
            click.echo(line)
            return
        with self._lock:
            self._bar.write(line, file=sys.stdout)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._bar is not None:
            with self._lock:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@contextmanager
def llm_call(desc: str, enabled: bool | None = None) -> Iterator[Bar]:
    """A counter of the tokens a local LLM writes during one long call, with elapsed time and rate;
    an HTTP backend reports no tokens, so only the clock moves."""
    from mediarec.llm.backends import on_tokens

    with Bar(desc, total=None, unit="tok", enabled=enabled) as bar:
        if not bar.enabled:
            yield bar
            return
        with on_tokens(bar.update):
            yield bar
