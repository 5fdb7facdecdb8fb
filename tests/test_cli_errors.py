"""Errors of the ``mediarec`` command: a clear message, click's exit codes (2 for a bad option, 1 for
a missing thing), no traceback, and a suggested command that really parses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest

from mediarec.cli import main
from tests.cli_helpers import invoke, small_home

SRC = Path(__file__).resolve().parents[1] / "src" / "mediarec"
SUGGESTION = re.compile(r"(?<!`)`(mediarec [^`]+)`(?!`)")


def parse_command(words: list[str]) -> click.Context:
    """Parse ``mediarec WORDS`` down to the leaf command, as click would before running it."""
    ctx = main.make_context("mediarec", list(words))
    command: click.Command = main
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return ctx


def _string_texts(tree: ast.AST) -> list[str]:
    """Every string literal of a module but its docstrings; f-string fields become ``{}``."""
    # "docstrings" collects the ids of constants not to read on their own.
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # its parts are read with it, not again alone
            docstrings.update(id(v) for v in node.values)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            texts.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            texts.append(
                "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)  # type: ignore[misc]
            )
    return texts


def suggested_commands() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for text in _string_texts(ast.parse(path.read_text())):
            found += [(str(path.relative_to(SRC)), m) for m in SUGGESTION.findall(text)]
    return found


def test_every_command_suggested_in_a_message_parses(tmp_path: Path) -> None:
    found = suggested_commands()
    assert any("train --model" in cmd for _, cmd in found)  # the scan sees f-strings
    # Upper-case words are metavars, as in --help: a path, a user, an item.
    path = str(tmp_path)
    placeholders = {"PATH": path, "FILE": path, "DIR": path, "USER": "u1", "ITEM": "v1", "ITEMS": "v1"}
    failures = []
    for where, command in found:
        words = command.split()[1:]
        words = [placeholders.get(w, w) for w in words]
        # A field of an f-string is a value the message fills in: a model name, a user or an item id.
        tried = []
        for value in ("als", "u1"):
            try:
                parse_command([w.replace("{}", value) for w in words])
                break
            except click.ClickException as exc:
                tried.append(exc.format_message())
        else:
            failures.append(f"{where}: `{command}`: {tried[0]}")
    assert not failures, "\n".join(failures)


def test_the_scan_catches_a_command_that_does_not_parse() -> None:
    with pytest.raises(click.UsageError):
        parse_command(["train", "content"])  # what the API's message used to suggest
    parse_command(["train", "--model", "content"])


def test_unknown_model_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    for args in (
        ("recommend", "u1", "--model", "nonsense"),
        ("similar", "v1", "--model", "nonsense"),
        ("train", "--model", "nonsense"),
        ("evaluate", "--models", "als,nonsense"),
    ):
        result = invoke(home, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "nonsense" in result.output and "itemknn" in result.output  # the choices are listed
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_an_untrained_model_named_explicitly_is_an_error_that_says_how_to_train_it(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    for args in (("recommend", "u1", "--model", "itemknn"), ("similar", "v1", "--model", "itemknn")):
        result = invoke(home, *args)
        assert result.exit_code == 1, result.output
        assert "no trained itemknn model yet: run `mediarec train --model itemknn` first" in result.output
    parse_command(["train", "--model", "itemknn"])
    # Without --model, before any training, the popular items are the documented answer, with a note.
    result = invoke(home, "recommend", "u1", "-n", "3")
    assert result.exit_code == 0
    assert "note: no als model is trained yet, so these are the most popular items" in result.stderr
    assert "note:" not in result.stdout and "popular" in result.stdout
    # Trained: no note for a known user, a note that says why for a user with no events.
    assert invoke(home, "train", "--model", "itemknn").exit_code == 0
    result = invoke(home, "recommend", "u1", "-n", "3", "--model", "itemknn")
    assert result.exit_code == 0 and "note" not in result.stderr
    result = invoke(home, "recommend", "stranger", "-n", "3", "--model", "itemknn")
    assert result.exit_code == 0 and "'stranger' has no events yet" in result.stderr
    assert invoke(home, "similar", "v1", "--model", "itemknn").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("recommend", "u1"),
        ("similar", "v1"),
        ("show", "v1"),
        ("items",),
        ("profile", "u1"),
        ("delete-user", "u1"),
        ("train",),
        ("describe",),
        ("evaluate",),
    ],
)
def test_a_read_command_on_a_missing_home_creates_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "typo"
    result = invoke(typo, *args)
    assert result.exit_code == 1, result.output
    assert f"no data home at {typo}" in result.output and "`mediarec import PATH`" in result.output
    assert not typo.exists()
    # An existing folder without a store (e.g. --home pointing at the wrong folder) is no home either.
    typo.mkdir()
    result = invoke(typo, *args)
    assert result.exit_code == 1 and "no store in" in result.output, result.output
    assert list(typo.iterdir()) == []


def test_commands_that_put_data_in_still_make_a_new_home(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "items.csv").write_text("id,title,kind\nv1,One,video\n")
    (export / "interactions.csv").write_text("user,item,type,value,timestamp\nu1,v1,view,0.9,1700000000\n")
    result = invoke(tmp_path / "new", "import", str(export))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "mediarec.db").is_file()


def test_delete_user_of_an_unknown_user_is_an_error(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    result = invoke(home, "delete-user", "ghost")
    assert result.exit_code == 1
    assert "unknown user 'ghost': no events, profile or model rows to delete" in result.output
    result = invoke(home, "delete-user", "u1")
    assert result.exit_code == 0 and "deleted u1:" in result.output
    # Deleted once, the user is unknown: the second deletion says so rather than "deleted 0 events".
    assert invoke(home, "delete-user", "u1").exit_code == 1


def test_evaluate_param_for_a_model_not_evaluated_is_refused(tmp_path: Path) -> None:
    home = small_home(tmp_path / "home")
    result = invoke(home, "evaluate", "--models", "random,itemknn", "--param", "als.factors=8")
    assert result.exit_code == 2
    assert "model 'als' is not among --models (random, itemknn)" in result.output
    result = invoke(home, "evaluate", "--models", "random", "--param", "factors=8")
    assert result.exit_code == 2 and "expected MODEL.KEY=VALUE" in result.output
