"""Option definitions shared by several ``mediarec`` commands, so that each reads the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# The splits `evaluate` tests on and `tune` keeps the test side of unread (eval/splits.py).
SPLITS_HELP = (
    "given | random | temporal | leave-last-out (default: given when the source ships one, else temporal)."
)


class _ModelChoice(click.Choice):
    """``click.Choice`` of the registered models, read on first use so that ``--help`` and every
    other command start without importing NumPy and SciPy."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        # Imported here: mediarec.cli imports this module before it defines _model_names.
        from mediarec.cli import _model_names

        return tuple(_model_names())

    @choices.setter
    def choices(self, value: Any) -> None:
        pass


MODEL = _ModelChoice()


def split_option(before: str = "", after: str = "") -> Callable[[F], F]:
    """``--split``, its help the shared list of splits between what the command adds before and after."""
    return click.option("--split", default=None, help=f"{before}{SPLITS_HELP}{after}")
