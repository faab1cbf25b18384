"""The `analytics` CLI starts fast: building it imports no command's heavy dependencies.

Every `analytics` process (each dataflow cluster member, each `--help`) imports
`entrypoints.cli.main`, which imports every command module; those import what they run
with (Litestar, uvicorn, scikit-learn, alembic, ...) inside the command functions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"litestar", "uvicorn", "sklearn", "alembic"}


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_cli_imports_no_api_model_or_migration_stack():
    loaded = _run(
        "import entrypoints.cli.main, sys; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY)!r}))"
    )
    assert loaded == "[]"


def test_importing_the_cli_imports_no_adapter_nor_the_api_nor_the_processor():
    loaded = _run(
        "import entrypoints.cli.main, sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('adapters', 'application', 'dataflows')"
        " or m.startswith(('entrypoints.api', 'entrypoints.processor', 'entrypoints.containers'))))"
    )
    assert loaded == "[]"


COMMANDS = {"up", "services", "migrate", "generate", "produce", "process", "bench", "replay", "api", "evaluate"}
GROUPS = {"dlq": {"replay"}, "train": {"churn", "anomaly"}}
# A row of the commands panel, boxed by rich ("│ name   help") or plain ("  name   help").
LISTED = re.compile(r"^[\s│]*([a-z][\w-]*)\s{2,}\S", re.MULTILINE)


def _listed(*args: str) -> set[str]:
    from entrypoints.cli.main import app

    outcome = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert outcome.exit_code == 0, outcome.output
    return set(LISTED.findall(outcome.output))


def test_help_lists_every_command():
    from entrypoints.cli.main import app

    registered = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert registered == COMMANDS | set(GROUPS)
    assert registered <= _listed()


def test_the_groups_list_their_commands():
    for group, commands in GROUPS.items():
        assert commands <= _listed(group)


def test_the_default_of_min_events_is_the_training_default():
    from application.anomaly_training import DEFAULT_MIN_EVENTS
    from entrypoints.cli import train_commands

    assert train_commands.DEFAULT_MIN_EVENTS == DEFAULT_MIN_EVENTS
