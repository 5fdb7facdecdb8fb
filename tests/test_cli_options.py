"""The option definitions shared by several commands, and the command modules they live beside."""

from __future__ import annotations

import re
import subprocess
import sys

from click.testing import CliRunner

from mediarec.cli import main
from mediarec.cli_options import SPLITS_HELP
from mediarec.eval.splits import SPLITS
from mediarec.recommenders import MODELS


def test_split_help_names_every_split_a_user_may_choose() -> None:
    # cold-items is chosen by --cold, not --split; every other split must be listed.
    listed = set(re.findall(r"[a-z-]+", SPLITS_HELP.split(" (")[0])) - {"|"}
    assert listed == set(SPLITS) - {"cold-items"}
    runner = CliRunner()
    for command in ("tune", "evaluate"):
        out = runner.invoke(main, [command, "--help"], terminal_width=400)
        assert out.exit_code == 0
        assert " ".join(SPLITS_HELP.split()) in " ".join(out.output.split())


def test_model_choice_lists_the_registered_models() -> None:
    out = CliRunner().invoke(main, ["train", "--model", "no-such-model"])
    assert out.exit_code == 2
    assert all(name in out.output for name in MODELS)


def test_command_modules_import_on_their_own_and_help_needs_no_numpy() -> None:
    # Each cli_* module imports mediarec.cli only inside its commands, so importing one first must
    # not meet a half-initialised mediarec.cli (a circular import), and --help stays light.
    code = (
        "import sys\n"
        "import mediarec.cli_recs, mediarec.cli_ingest, mediarec.cli_users, mediarec.cli_models\n"
        "from mediarec.cli import main\n"
        "names = {'import', 'ingest', 'describe', 'show', 'train', 'recommend', 'similar', 'search',\n"
        "         'moments', 'models', 'delete-user', 'profile', 'serve', 'demo', 'evaluate', 'tune'}\n"
        "assert names <= set(main.commands), names - set(main.commands)\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0\n"
        "assert 'numpy' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
