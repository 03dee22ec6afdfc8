"""Code style and Snakemake best practice, checked as part of the suite."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO

BIN = Path(sys.executable).parent


def run(*command):
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff():
    result = run(str(BIN / "ruff"), "check", "src", "tests", "workflow/scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt():
    result = run(str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint(tmp_path):
    result = run(
        str(BIN / "snakemake"), "--lint", "-d", str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml")
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_rule_runs_a_shell_command():
    """Config values and file names never reach a shell: every rule runs a Python script."""
    rule_files = [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]
    for path in rule_files:
        text = path.read_text()
        assert "shell:" not in text and "run:" not in text, path.name
