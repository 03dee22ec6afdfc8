# Shared by every stage: validated config, the scans to process, wildcard constraints and paths.
# Inputs are discovered and checked here, when the DAG is built, so that a bad input stops the
# run before any job starts, with every problem listed at once.

import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from synthpet import bids, paths, phantom
from synthpet.config import load_schema, validate_config
from synthpet.errors import SynthpetError
from synthpet.folds import make_folds


def _prepare(config):
    """Validate the config in place (defaults filled in) and return the cohort of scans."""
    schema = load_schema(
        Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
    )
    config.update(validate_config(config, schema))
    if config["input"]["source"] == "phantom":
        phantom.check_effect_regions(config["phantom"])
        return phantom.planned_cohort(config)
    return bids.discover(config["input"]["bids_dir"], config["input"])


try:
    COHORT = _prepare(config)
except SynthpetError as err:
    raise WorkflowError(f"synthpet: {err}") from None

for _scan, _reason in COHORT.excluded.items():
    print(f"synthpet: {_scan} excluded: {_reason}", file=sys.stderr)

OUT = config["output_dir"]
SCANS = {scan.id: scan for scan in COHORT.scans}
# optional session entity: datasets without sessions get no ses- level in their paths
SESSION = "{session}" if COHORT.has_sessions else None
SCAN_WILDCARDS = {"subject": [s.subject for s in COHORT.scans]}
if COHORT.has_sessions:
    SCAN_WILDCARDS["session"] = [s.session for s in COHORT.scans]


wildcard_constraints:
    subject="[0-9A-Za-z]+",
    session="[0-9A-Za-z]+",


def scan_of(wildcards):
    return SCANS[paths.scan_id(wildcards.subject, wildcards.get("session"))]


def preproc_path(datatype, suffix, **entities):
    """Pattern of a per-scan derivative under <output_dir>/preproc (BIDS-derivatives names)."""
    return paths.bids_path(
        f"{OUT}/preproc", datatype, suffix, "{subject}", SESSION, **entities
    )


def scan_log(rule):
    return f"{OUT}/logs/{rule}/{paths.scan_id('{subject}', SESSION)}.log"


def scan_benchmark(rule):
    return f"{OUT}/benchmarks/{rule}/{paths.scan_id('{subject}', SESSION)}.tsv"


def raw_inputs(kind):
    """Input function: the raw image of a scan, plus the phantom's dataset files when it is generated."""

    def inputs(wildcards):
        scan = scan_of(wildcards)
        files = {"image": getattr(scan, kind)}
        if kind == "pet":
            files["sidecars"] = list(scan.pet_sidecars)
        if config["input"]["source"] == "phantom":
            files["dataset"] = rules.phantom_dataset.output.participants
        return files

    return inputs


FOLDS = list(range(config["folds"]["n_folds"]))
# the split is computed here, once, so that the DAG knows which fold model predicts which scan;
# rule `folds` writes this same table for every later stage to read
try:
    FOLD_TABLE = make_folds(COHORT.table(), config["folds"]["n_folds"], config["seed"])
except SynthpetError as err:
    raise WorkflowError(f"synthpet: {err}") from None
FOLD_OF = dict(zip(FOLD_TABLE["scan"], FOLD_TABLE["fold"]))


def fold_volumes(wildcards):
    """Every scan's grid T1w and mask, and its PET corrected by this fold's genotype model."""
    fold = int(wildcards.fold)
    return {
        "t1w": expand(rules.model_grid.output.t1w, zip, **SCAN_WILDCARDS),
        "mask": expand(rules.model_grid.output.mask, zip, **SCAN_WILDCARDS),
        "pet": expand(rules.genotype_correction.output.pet, fold=fold),
    }


PREPROC = config["preprocess"]


def settings(*keys):
    """Only the settings a rule uses, so that changing another one does not make it stale."""
    return {key: PREPROC[key] for key in keys}
