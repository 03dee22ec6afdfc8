"""conda environments: every rule's `conda:` file exists and installs what the package declares."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib

import yaml
from conftest import REPO
from packaging.specifiers import SpecifierSet

from synthpet.io.resources import export_root_for_conda, workflow_root


def conda_directives() -> set[str]:
    found = set()
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        found |= set(re.findall(r'^\s+conda:\s*\n\s+"([^"]+)"', rules.read_text(), re.M))
    return found


def test_every_rule_names_an_existing_environment():
    rules = REPO / "workflow" / "rules"
    directives = conda_directives()
    assert directives, "no conda: directive found"
    for path in directives:
        assert (rules / path).resolve().is_file(), path
    # every rule that runs a script has one (so --sdm conda covers the whole workflow)
    for smk in rules.glob("*.smk"):
        text = smk.read_text()
        assert text.count("script:") == text.count("conda:"), smk.name


def test_environment_matches_the_package():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "synthpet.yaml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python"))
    assert python.split("=")[1] in SpecifierSet(project["requires-python"])
    # the package itself, installed from the checkout: its dependencies are exactly pyproject's
    assert pip == ["-e ${SYNTHPET_ROOT}"]
    assert set(conda) == {python, "pip"}, "conda packages beside python and pip would shadow pyproject's pins"


def test_pip_line_installs_the_package_from_its_real_location(tmp_path, monkeypatch):
    """Snakemake hands conda a copy of the env file elsewhere; conda writes its pip lines to a
    requirements file that pip reads, expanding SYNTHPET_ROOT, which the workflow sets (common.smk)."""
    env = yaml.safe_load((REPO / "envs" / "synthpet.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    requirements = tmp_path / "elsewhere" / "condaenv.requirements.txt"
    requirements.parent.mkdir()
    requirements.write_text("\n".join(pip) + "\n")
    # the workflow sets the variable when it is parsed, to where it runs from
    assert "export_root_for_conda()" in (REPO / "workflow" / "rules" / "common.smk").read_text()
    monkeypatch.delenv("SYNTHPET_ROOT", raising=False)
    export_root_for_conda()
    # the root of the synthpet that runs (a checkout, or a wheel's packaged copy), which need not be
    # the checkout these tests come from
    root = workflow_root()
    assert os.environ["SYNTHPET_ROOT"] == str(root) and (root / "envs" / "synthpet.yaml").is_file()
    report_path = tmp_path / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-build-isolation"]
    result = subprocess.run(
        [*command, "--report", str(report_path), "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(report_path.read_text())
    (item,) = report["install"]
    assert item["metadata"]["name"] == "synthpet"
    assert item["download_info"]["url"] == root.as_uri() and item["download_info"]["dir_info"]["editable"]
