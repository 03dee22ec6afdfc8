"""Code style and Snakemake best practice, checked as part of the suite."""

import os
import shutil
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


def lint_imports(package_parent: Path | None = None) -> subprocess.CompletedProcess:
    """`lint-imports` with the contracts of pyproject.toml, on the package found first on the path."""
    env = {**os.environ, **({"PYTHONPATH": str(package_parent)} if package_parent else {})}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_import_contracts_hold():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_import_contracts_catch_a_harness_import_a_circle_and_a_stage_importing_a_later_one(tmp_path):
    """The contracts fail on a scratch copy of the package where a method module imports the
    validation harness, where two modules import each other (provenance and resources did), and where
    reading the dataset (io) imports the cross-validation of a later stage (learn)."""
    shutil.copytree(REPO / "src" / "synthpet", tmp_path / "synthpet", ignore=shutil.ignore_patterns("__pycache__"))
    package = tmp_path / "synthpet"
    for module, line in (
        ("plan.py", "from synthpet.validation import phantom"),
        ("io/resources.py", "from synthpet.io import provenance"),
        ("io/bids.py", "from synthpet.learn import folds"),
    ):
        path = package / module
        path.write_text(path.read_text() + f"\n{line}  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "Illegal imports of protected package synthpet.validation" in result.stdout
    assert "synthpet.plan -> synthpet.validation.phantom" in result.stdout
    assert "No cycles are allowed in synthpet" in result.stdout
    assert "synthpet.io.bids -> synthpet.learn.folds" in result.stdout
    assert "0 kept, 3 broken" in result.stdout
