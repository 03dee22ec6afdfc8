"""conda environments: every rule's `conda:` file exists and installs what the package declares."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import REPO
from packaging.specifiers import SpecifierSet


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
    assert pip == ["-e ../"]
    assert set(conda) == {python, "pip"}, "conda packages beside python and pip would shadow pyproject's pins"
