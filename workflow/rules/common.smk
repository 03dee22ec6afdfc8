# Shared by every stage: validated config, the scans to process, wildcard constraints and paths.
# Inputs are discovered and checked here, when the DAG is built, so that a bad input stops the
# run before any job starts, with every problem listed at once.

import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from synthpet import derivatives, mni, paths, phantom
from synthpet.config import load_schema
from synthpet.errors import SynthpetError
from synthpet.evaluation import IMAGES, PHANTOM_IMAGES
from synthpet.plan import plan_run, settings_line
from synthpet.resources import export_root_for_conda

export_root_for_conda()

# one function decides, for the run and for `synthpet check`: settings, scans and folds
try:
    PLAN = plan_run(
        config,
        load_schema(
            Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
        ),
    )
except SynthpetError as err:
    raise WorkflowError(f"synthpet: {err}") from None
# defaults filled in and keys in the schema's order, so every rule reads one complete config
config.clear()
config.update(PLAN.config)
COHORT = PLAN.cohort

if workflow.is_main_process:  # once per run, not once per job
    print(f"synthpet: settings in effect: {settings_line(config)}", file=sys.stderr)
    for _scan, _reason in COHORT.excluded.items():
        print(f"synthpet: {_scan} excluded: {_reason}", file=sys.stderr)
    for _warning in COHORT.warnings:
        print(f"synthpet: warning: {_warning}", file=sys.stderr)

OUT = config["output_dir"]
# the input dataset: the user's, or the synthetic one the workflow writes
RAW_DIR = (
    config["input"]["bids_dir"]
    if config["input"]["source"] == "bids"
    else phantom.phantom_dir(config)
)
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


def mni_path(datatype, suffix, **entities):
    """Pattern of a per-scan image or transform in MNI space, under <output_dir>/mni."""
    return paths.bids_path(
        f"{OUT}/mni", datatype, suffix, "{subject}", SESSION, **entities
    )


def raw_relative(wildcards):
    """A scan's input T1w and PET, relative to the input dataset (for bids:raw: URIs)."""
    scan = scan_of(wildcards)
    return {
        kind: derivatives.dataset_relative(getattr(scan, kind), RAW_DIR)
        for kind in ("t1w", "pet")
    }


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
# the split is computed once, when the DAG is built, so that the DAG knows which fold model predicts
# which scan; rule `folds` writes this same table for every later stage to read
FOLD_TABLE = PLAN.folds
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


# ANTs (ITK) gives bit-identical results only on one thread, even seeded: registrations run one
# thread each, and scans run in parallel instead
ANTS_THREADS = 1


def scan_fold_inputs(wildcards):
    """A scan's PET as its fold model was trained to predict it (fold-corrected), and that fold's genotype model."""
    scan = scan_of(wildcards).id
    fold = FOLD_OF[scan]
    return {
        "pet": f"{OUT}/folds/fold-{fold}/pet/{scan}_space-grid_desc-genocorr_pet.nii.gz",
        "genotype_model": rules.genotype_correction.output.model.format(fold=fold),
    }


def mni_images(wildcards):
    """A scan's images in MNI space; with the synthetic cohort, its noise-free PET and anatomical part too."""
    images = {key: getattr(rules.mni_pet.output, key) for key in (*IMAGES, "mask")}
    if config["input"]["source"] == "phantom":
        images.update(
            {key: getattr(rules.mni_noisefree.output, key) for key in PHANTOM_IMAGES}
        )
    return {key: expand(path, **wildcards)[0] for key, path in images.items()}


def _example_scan():
    chosen = config["evaluation"]["example_scan"] or next(iter(SCANS))
    if chosen not in SCANS:
        raise WorkflowError(
            f"synthpet: config key 'evaluation.example_scan': {chosen!r} is not a scan of the cohort "
            f"(for example {next(iter(SCANS))})"
        )
    return SCANS[chosen]


GROUP_LEVEL = config["analysis_level"] == "group"
# the example scan is checked only where the group stages run (a participant run may not hold it)
EXAMPLE_SCAN = _example_scan().id if GROUP_LEVEL else None


def example_images(wildcards):
    """The example scan's MNI images, for the example-slices figure."""
    scan = _example_scan()
    entities = {"subject": scan.subject}
    if COHORT.has_sessions:
        entities["session"] = scan.session
    return {
        f"example_{key}": expand(getattr(rules.mni_pet.output, key), **entities)[0]
        for key in IMAGES
    }


# the tables the report shows, each as an HTML page made by rule report_tables (Snakemake's
# report only offers a TSV or JSON for download): name -> data file and where the report lists it
REPORT_TABLES = {}


def report_table(path, caption, category, subcategory=None):
    """A TSV (or JSON) output that the report shows as an HTML table; returns ``path``."""
    REPORT_TABLES[Path(path).stem] = {
        "path": path,
        "caption": f"../report/{caption}.rst",
        "category": category,
        "subcategory": subcategory,
    }
    return path


def evaluation_table(name, caption):
    return report_table(f"{OUT}/evaluation/{name}.tsv", caption, "evaluation", "tables")


def participant_figure(path, caption, figure):
    """A per-scan figure, shown in that scan's own section of the report (as fMRIPrep does)."""
    return report(
        path,
        caption=f"../report/{caption}.rst",
        category="participants",
        subcategory=paths.scan_id("{subject}", SESSION),
        labels={"figure": figure},
    )


def evaluation_figure(name, caption):
    return report(
        f"{OUT}/evaluation/figures/{name}.png",
        caption=f"../report/{caption}.rst",
        category="evaluation",
        subcategory="figures",
    )
