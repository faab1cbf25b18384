"""Children started with `analytics_argv` run this code, wherever they are started from."""

from __future__ import annotations

import subprocess
import sys

from entrypoints.cli.common import analytics_argv

SHADOW = 'print("shadowing checkout")\n'


def _shadowing_checkout(root):
    """A folder holding an `entrypoints.cli.main` of its own, as another checkout would."""
    for package in (root / "entrypoints", root / "entrypoints" / "cli"):
        package.mkdir()
        (package / "__init__.py").write_text("")
    (root / "entrypoints" / "cli" / "main.py").write_text(SHADOW)


def test_a_child_started_in_another_checkout_runs_this_code(tmp_path):
    _shadowing_checkout(tmp_path)
    # The folder does shadow a plain `-m` run started there:
    plain = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli.main", "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert plain.stdout.startswith("shadowing checkout")

    ours = subprocess.run(analytics_argv("--help"), cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert ours.returncode == 0, ours.stderr
    assert "shadowing checkout" not in ours.stdout
    assert "Usage" in ours.stdout and "bench" in ours.stdout
