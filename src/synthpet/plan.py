"""What a run will do, decided in one place: the validated settings, the scans and the folds.

The workflow (``common.smk``, when Snakemake builds the DAG) and ``synthpet check`` both call
:func:`plan_run`, so that a check accepts exactly what a run accepts and refuses what it refuses.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from synthpet.errors import ConfigError
from synthpet.evaluate import atlas
from synthpet.evaluate.suvr import check_reference
from synthpet.io import bids
from synthpet.io.bids import Cohort
from synthpet.io.config import validate_config
from synthpet.learn.folds import check_genotypes, make_folds

# the settings that define the paper's protocol, shown when a run starts so the user sees what runs
PROTOCOL_KEYS = (
    "input.source",
    "folds.n_folds",
    "genotype.scope",
    "genotype.method",
    "training.epochs",
    "training.batch_size",
    "training.learning_rate",
    "training.lr_schedule",
    "training.augment",
    "training.device",
    "preprocess.template_transform",
    "preprocess.grid_shape",
    "preprocess.grid_voxel_mm",
    "preprocess.grid_frame",
    "model.channels",
)


@dataclass
class Plan:
    config: dict
    cohort: Cohort
    folds: pd.DataFrame  # the cohort table with a fold column
    raw_dir: str  # the input dataset: the user's, or the synthetic one the workflow writes


def setting(config: dict, dotted: str):
    value = config
    for key in dotted.split("."):
        value = value[key]
    return value


def settings_line(config: dict) -> str:
    """``key=value`` for each protocol setting, e.g. ``folds.n_folds=5 training.epochs=50 ...``."""

    def show(value) -> str:
        return "x".join(map(str, value)) if isinstance(value, list) else str(value)

    return " ".join(f"{key}={show(setting(config, key))}" for key in PROTOCOL_KEYS)


def output_location_problems(config: dict) -> list[str]:
    """An output folder that cannot be made or written, or that lies inside the BIDS dataset (outside
    derivatives/), where the next run would read it as input."""
    out = Path(config["output_dir"]).resolve()
    existing = next(folder for folder in (out, *out.parents) if folder.exists())
    if not existing.is_dir():
        return [f"config key 'output_dir': {out} cannot be made: {existing} is a file, not a folder"]
    if not os.access(existing, os.W_OK | os.X_OK):
        return [f"config key 'output_dir': {out} cannot be written: this user may not write into {existing}"]
    if config["input"]["source"] != "bids":
        return []
    root = Path(config["input"]["bids_dir"]).resolve()
    if out == root or (out.is_relative_to(root) and not out.is_relative_to(root / "derivatives")):
        return [
            f"config key 'output_dir': {out} lies inside the BIDS dataset {root}, so the next run would take "
            f"its outputs for input images; choose a folder outside the dataset or under {root / 'derivatives'}"
        ]
    return []


# how a run finds its scans for one value of input.source: (the scans, the dataset's folder). The
# method knows BIDS datasets; the synthetic cohort's planner comes from the validation harness
# (synthpet.validation.phantom.DATASETS), which its callers pass in
DatasetPlanner = Callable[[dict], tuple[Cohort, str]]


def bids_dataset(config: dict) -> tuple[Cohort, str]:
    """The scans of the user's BIDS dataset (input.bids_dir), checked."""
    return bids.discover(config["input"]["bids_dir"], config["input"]), config["input"]["bids_dir"]


def plan_run(config: dict, schema: dict | None = None, datasets: Mapping[str, DatasetPlanner] | None = None) -> Plan:
    """Validate ``config`` (defaults filled in), find its scans and split them into folds.

    ``datasets``: planners of input sources other than 'bids' (the synthetic cohort's). Raises a
    SynthpetError that lists every problem it can find at that stage: config keys, then input
    files, then whether the folds and the genotype fit can be made.
    """
    config = validate_config(config, schema)
    problems = output_location_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    if config["evaluation"]["suvr_reference"]:
        check_reference(config["evaluation"]["suvr_reference"], atlas.region_names(config["evaluation"]["atlas"]))
    planners = {"bids": bids_dataset, **(datasets or {})}
    source = config["input"]["source"]
    if source not in planners:
        raise ConfigError(
            f"config key 'input.source': no planner for {source!r} was given to plan_run "
            f"(the synthetic cohort's is synthpet.validation.phantom.DATASETS)"
        )
    cohort, raw_dir = planners[source](config)
    whole_dataset = not (config["input"]["participant_label"] or config["input"]["exclude_participant_label"])
    if config["analysis_level"] == "group" or whole_dataset:
        # at the participant level too, when it covers the dataset: a dataset the group level cannot
        # split into folds is refused before every scan's preprocessing, not after it
        folds = make_folds(cohort.table(), config["folds"]["n_folds"], config["seed"])
        check_genotypes(folds, config["genotype"]["scope"])
    warning = training_time_warning(config, len(cohort.scans))
    if warning and config["analysis_level"] == "group":
        cohort.warnings.append(warning)
    if config["analysis_level"] == "participant":
        # per-scan stages only: no folds, so that one participant can be run on its own
        return Plan(config, cohort, cohort.table().assign(fold=-1), str(raw_dir))
    return Plan(config, cohort, folds, str(raw_dir))


# the trainer's speed on 2 CPU cores, measured for the paper's 32-channel model at 32^3
# (tests/benchmarks/RESULTS.md, "Training speed on the CPU": 5.06 volumes/s; 1.42 at 48^3); the
# cost grows with the grid's voxels and about linearly with the channels (8 channels: 21.85 at 32^3)
CPU_SECONDS_PER_VOLUME = 1 / 5.06
CPU_REFERENCE = (32**3, 32)


def training_time_warning(config: dict, scans: int) -> str | None:
    """A warning when the folds would train on a CPU for more than an hour each, with the estimate."""
    device = config["training"]["device"]
    gpu_driver = Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None
    if device.startswith("cuda") or (device == "auto" and gpu_driver):
        return None
    voxels = math.prod(config["preprocess"]["grid_shape"])
    per_volume = CPU_SECONDS_PER_VOLUME * voxels / CPU_REFERENCE[0] * config["model"]["channels"] / CPU_REFERENCE[1]
    folds = config["folds"]["n_folds"]
    hours = per_volume * config["training"]["epochs"] * scans * (folds - 1) / folds / 3600
    if hours < 1:
        return None
    return (
        f"training.device is {device!r} and no GPU is seen: each of the {folds} folds would train on the CPU for "
        f"about {hours:.0f} h ({per_volume:.1f} s a volume on 2 cores for this grid and model, measured at smaller "
        "ones); a CUDA GPU trains a fold in minutes (training.device: cuda)"
    )


def selected_scans(cohort: Cohort, input_config: dict) -> Cohort:
    """The synthetic cohort's scans of the participants that ``input.participant_label`` selects."""
    chosen = set(bids.select_participants({s.subject for s in cohort.scans}, input_config, "the synthetic cohort"))
    return Cohort(
        [s for s in cohort.scans if s.subject in chosen],
        {scan: why for scan, why in cohort.excluded.items() if scan.split("_")[0].removeprefix("sub-") in chosen},
        cohort.warnings,
    )
