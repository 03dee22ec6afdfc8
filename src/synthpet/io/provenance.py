"""What produced a results folder: the config, the seed, package versions and the workflow's git commit."""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata
from pathlib import Path

from synthpet.io.resources import workflow_state

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


def versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def input_dataset(source: str, root: str | Path) -> dict:
    """The BIDS dataset the results come from (``source``: 'bids', or 'phantom' for the synthetic
    cohort the workflow wrote): its folder and dataset_description.json."""
    description = Path(root) / "dataset_description.json"
    return {
        "path": str(Path(root).resolve()),
        "source": source,
        "dataset_description": json.loads(description.read_text()) if description.exists() else None,
    }


def record(config: dict, workflow_dir: str | Path, dataset_dir: str | Path) -> dict:
    return {
        "seed": config.get("seed"),
        "input_dataset": input_dataset(config["input"]["source"], dataset_dir),
        "config": config,
        "workflow": workflow_state(workflow_dir),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions(),
    }
