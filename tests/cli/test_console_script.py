"""The console script as a person runs it: a process of its own for each command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_command_closes_the_ledger_cleanly_before_its_process_ends(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    url = f"sqlite:///{ledger}"
    added = _console("--db", url, "party", "add", "cj-enm", "--name", "CJ E&M")
    assert added.returncode == 0, added.stderr
    listed = _console("--db", url, "party", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert '"cj-enm"' in listed.stdout
    # The last connection to a WAL database, closed, folds the log back into the file and
    # removes it: nothing is left beside the ledger.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.db"]


def test_a_failing_command_still_exits_with_its_code_and_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = _console("--db", url, "holders", "--territory", "Narnia")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "unknown territory 'Narnia'" in result.stderr


def test_a_command_on_an_sqlite_ledger_never_loads_the_postgresql_dialect(tmp_path: Path) -> None:
    """Loading it costs a command's process about a tenth of a second."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    for party in ("p", "q"):
        assert _console("--db", url, "party", "add", party, "--name", party).returncode == 0
    titled = _console("--db", url, "title", "add", "real", "--name", "Real", "--owner", "p:WW")
    assert titled.returncode == 0, titled.stderr
    probe = (
        "import sys\n"
        "from cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.')))\n"
    )
    checked = subprocess.run(
        [sys.executable, "-c", probe, "--db", url, "check", "--title", "real", "--grantor",
         "p", "--grantee", "q", "--rights", "svod", "--territory", "CN", "--start",
         "2027-01-01", "--term", "2y", "--exclusivity", "exclusive"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "sqlalchemy.dialects.sqlite" in checked.stdout, checked.stderr
    assert "sqlalchemy.dialects.postgresql" not in checked.stdout
