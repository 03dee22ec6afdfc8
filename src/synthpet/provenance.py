"""What produced a results folder: the config, the seed, package versions and the workflow's git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "synthpet",
    "snakemake",
    "torch",
    "monai",
    "antspyx",
    "nibabel",
    "nilearn",
    "numpy",
    "scikit-learn",
    "pingouin",
    "fslpy",
    "nipype",
    "pandas",
    "scipy",
)


def git_state(folder: str | Path) -> dict:
    """The commit of the workflow's repository and whether its tracked files differ from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "note": f"{folder} is not a git checkout"}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "modified": bool(status)}


def workflow_state(root: str | Path) -> dict:
    """The commit of the workflow files in ``root``: stamped into an installed wheel, else asked of git."""
    from synthpet import resources

    if Path(root).resolve() == resources.PACKAGED:
        return {"commit": resources.installed_commit(), "installed": str(resources.PACKAGED)}
    return git_state(root)


def versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def input_dataset(config: dict) -> dict:
    """The BIDS dataset the results come from: its folder and dataset_description.json."""
    import json

    if config["input"]["source"] == "bids":
        root = Path(config["input"]["bids_dir"])
    else:
        from synthpet.validation.phantom import phantom_dir

        root = Path(phantom_dir(config))
    description = root / "dataset_description.json"
    return {
        "path": str(root.resolve()),
        "source": config["input"]["source"],
        "dataset_description": json.loads(description.read_text()) if description.exists() else None,
    }


def record(config: dict, workflow_dir: str | Path) -> dict:
    return {
        "seed": config.get("seed"),
        "input_dataset": input_dataset(config),
        "config": config,
        "workflow": workflow_state(workflow_dir),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions(),
    }
