# Shared by every stage: validated config, the scans to process, wildcard constraints and paths.
# Inputs are discovered and checked here, when the DAG is built, so that a bad input stops the
# run before any job starts, with every problem listed at once.

import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from synthpet.errors import SynthpetError
from synthpet.evaluate import mni
from synthpet.evaluate.measures import IMAGES
from synthpet.io import derivatives, paths
from synthpet.io.config import load_schema
from synthpet.io.resources import export_root_for_conda
from synthpet.plan import plan_run, settings_line
from synthpet.validation.phantom import DATASETS as SYNTHETIC_DATASETS

export_root_for_conda()

# one function decides, for the run and for `synthpet check`: settings, scans and folds
try:
    PLAN = plan_run(
        config,
        load_schema(
            Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
        ),
        # the workflow composes the method with the validation harness's synthetic cohort
        datasets=SYNTHETIC_DATASETS,
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
# the jobs on the way to training run before those that can wait (the registrations to MNI space,
# their warps): those fill the cores while the folds train, instead of holding the training back
TRAINING_PATH = 10
# the input dataset: the user's, or the synthetic one the workflow writes
RAW_DIR = PLAN.raw_dir
SCANS = {scan.id: scan for scan in COHORT.scans}
# optional session entity: datasets without sessions get no ses- level in their paths
SESSION = "{session}" if COHORT.has_sessions else None
# every scan's wildcard values, as lists for expand(..., zip, **SCAN_WILDCARDS)
SCAN_WILDCARDS = {
    key: [scan.wildcards[key] for scan in COHORT.scans]
    for key in COHORT.scans[0].wildcards
}
# the participant labels of the run, each with a page sub-<label>.html
PARTICIPANTS = sorted(set(SCAN_WILDCARDS["subject"]))


wildcard_constraints:
    subject="[0-9A-Za-z]+",
    session="[0-9A-Za-z]+",
    # the input image's own entities, kept in its derivatives' names (possibly none)
    anat_entities=paths.SOURCE_PATTERN,
    pet_entities=paths.SOURCE_PATTERN,


def unthrottled(workflow) -> bool:
    """Drop Snakemake's job-rate limiter from this run's scheduler when it holds Snakemake's default
    (100 jobs per 1 s; a limit the user set stays); True when dropped. Called when the run starts.
    """
    limiter = getattr(getattr(workflow, "scheduler", None), "job_rate_limiter", None)
    limit = getattr(workflow.scheduling_settings, "max_jobs_per_timespan", None)
    if limiter is None or limit is None or (limit.max_jobs, limit.timespan) != (100, 1):
        return False
    workflow.scheduler.job_rate_limiter = None
    return True


def scan_of(wildcards):
    return SCANS[paths.scan_id(wildcards.subject, wildcards.get("session"))]


def one_scan(pattern, values):
    """A per-scan pattern filled in with one scan's wildcard values: expand(pattern, **values)[0],
    at a tenth of its cost (input functions run thousands of times while the DAG is built).
    """
    return str(pattern).format_map(values)


def scan_files(**patterns):
    """Input function: per-scan patterns filled in for the job's scan, its entities included (a job
    that writes PET derivatives has no wildcard for the T1w's entities, and the other way round).
    """

    def inputs(wildcards):
        values = scan_of(wildcards).wildcards
        return {key: one_scan(pattern, values) for key, pattern in patterns.items()}

    return inputs


def derivative_path(root, datatype, suffix, **entities):
    """Pattern of a per-scan derivative under <output_dir>/<root> (BIDS-derivatives names): images of
    the anat folder keep the input T1w's entities, those of the pet folder the input PET's.
    """
    return paths.bids_path(
        f"{OUT}/{root}",
        datatype,
        suffix,
        "{subject}",
        SESSION,
        source="{anat_entities}" if datatype == "anat" else "{pet_entities}",
        **entities,
    )


def preproc_path(datatype, suffix, **entities):
    return derivative_path("preproc", datatype, suffix, **entities)


def mni_path(datatype, suffix, **entities):
    return derivative_path("mni", datatype, suffix, **entities)


def scan_name(*kinds):
    """A per-scan file name stem for logs and benchmarks, with the entity wildcards of the rule's
    outputs (Snakemake wants a log to have exactly its outputs' wildcards): kinds 'anat', 'pet'.
    """
    entities = "".join(f"{{{kind}_entities}}" for kind in kinds)
    return f"{paths.scan_id('{subject}', SESSION)}{entities}"


def participant_figures(subject, figures):
    """Each scan of ``subject``: its id, wildcards and, for every (title, per-scan pattern, caption
    name) of ``figures``, the title, the scan's PNG and the caption's name (its file in
    workflow/report/, found by the job: a path here would rerun every page when the workflow moves).
    """
    return [
        {
            "id": scan.id,
            "wildcards": scan.wildcards,
            "figures": [
                (title, one_scan(pattern, scan.wildcards), caption)
                for title, pattern, caption in figures
            ],
        }
        for scan in COHORT.scans
        if scan.subject == subject
    ]


def scan_log(rule, *kinds):
    return f"{OUT}/logs/{rule}/{scan_name(*kinds)}.log"


def scan_benchmark(rule, *kinds):
    return f"{OUT}/benchmarks/{rule}/{scan_name(*kinds)}.tsv"


def input_mb(input):
    """A job's input files' size in MiB, for its memory estimate: Snakemake's input.size_mb, without
    the event loop it starts for every call (1.7 s of the 204-scan dry run, which prints every job's
    resources; and inside --report's own loop it could not run at all). A missing input raises
    FileNotFoundError, which Snakemake reads as "to be determined" until the file exists; a real run
    evaluates resources again when a job's inputs are there."""
    return sum(os.stat(path).st_size for path in input) / 1024**2


def memory_mb(base, per_input_mb=0, floor=0):
    """A rule's memory estimate: ``base`` MB plus ``per_input_mb`` for each MiB of its inputs (at least
    ``floor``), times the attempt (a job that ran out of memory asks for more when retried).
    """

    def estimate(wildcards, input, attempt):
        return int(max(floor, base + per_input_mb * input_mb(input))) * attempt

    return estimate


def minutes(n):
    """A rule's runtime estimate: ``n`` minutes, times the attempt."""
    return lambda wildcards, attempt: n * attempt


# the input dataset's description, which the provenance records: named as a file, so that a rule that
# writes the dataset (the synthetic cohort's) runs first, and a user's dataset is simply read
DATASET_DESCRIPTION = f"{RAW_DIR}/dataset_description.json"


def raw_inputs(kind):
    """Input function: the raw image of a scan, and its sidecars."""

    def inputs(wildcards):
        scan = scan_of(wildcards)
        files = {"image": getattr(scan, kind)}
        if kind == "pet":
            files["sidecars"] = list(scan.pet_sidecars)
        return files

    return inputs


FOLDS = list(range(config["folds"]["n_folds"]))
# the split is computed once, when the DAG is built, so that the DAG knows which fold model predicts
# which scan; rule `folds` writes this same table for every later stage to read
FOLD_TABLE = PLAN.folds
FOLD_OF = dict(zip(FOLD_TABLE["scan"], FOLD_TABLE["fold"]))

# a scan's synthetic PET, named after the PET it stands in for (its trc- and other entities)
PREDICTION_GRID = derivative_path(
    "predictions", "pet", "pet", space="grid", desc="synthetic"
)
PREDICTION_T1W = derivative_path(
    "predictions", "pet", "pet", space="T1w", desc="synthetic"
)


FOLD_SCANS = {
    fold: [scan for scan in FOLD_TABLE["scan"] if FOLD_OF[scan] == fold]
    for fold in FOLDS
}


def held_out(fold, pattern):
    """``pattern`` filled in for each scan of ``fold``, in the folds table's order."""
    return [one_scan(pattern, SCANS[scan].wildcards) for scan in FOLD_SCANS[fold]]


def fold_volumes(wildcards):
    """Every scan's grid T1w and mask, and its PET corrected by this fold's genotype model."""
    fold = int(wildcards.fold)
    return {
        "t1w": expand(rules.model_grid.output.t1w, zip, **SCAN_WILDCARDS),
        "mask": expand(rules.model_grid.output.mask, zip, **SCAN_WILDCARDS),
        "pet": expand(rules.genotype_correction.output.pet, fold=fold),
    }


PREPROC = config["preprocess"]


# ANTs (ITK) gives bit-identical results only on one thread, even seeded: registrations run one
# thread each, and scans run in parallel instead
ANTS_THREADS = 1


# each scan's place among the genotype correction's outputs (one per scan, in SCANS' order)
SCAN_POSITION = {scan: i for i, scan in enumerate(SCANS)}


def scan_fold_inputs(wildcards):
    """A scan's PET as its fold model was trained to predict it (fold-corrected), and that fold's genotype model."""
    scan = scan_of(wildcards).id
    fold = str(FOLD_OF[scan])
    corrected = rules.genotype_correction.output.pet[SCAN_POSITION[scan]]
    return {
        "pet": corrected.replace("{fold}", fold),
        "genotype_model": rules.genotype_correction.output.model.replace(
            "{fold}", fold
        ),
    }


def mni_image(key):
    """The pattern of a scan's image in MNI space (evaluation.IMAGES, or its mask), whichever rule writes it."""
    by_anatomy = key in rules.mni_anatomy.output.keys()
    return getattr((rules.mni_anatomy if by_anatomy else rules.mni_pet).output, key)


def mni_images(wildcards):
    """A scan's images in MNI space, and its brain there."""
    return scan_files(**{key: mni_image(key) for key in (*IMAGES, "mask")})(wildcards)


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
    values = _example_scan().wildcards
    return {f"example_{key}": one_scan(mni_image(key), values) for key in IMAGES}


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


def evaluation_table(name, caption, folder="evaluation"):
    """A table of <output_dir>/<folder>/, shown in the report's category of that name."""
    return report_table(f"{OUT}/{folder}/{name}.tsv", caption, folder, "tables")


def participant_figure(path, caption, figure, section=None):
    """A per-scan figure, shown in that scan's own section of the report (as fMRIPrep does);
    ``section``: the scan's id, for a job that draws every scan's figure (no wildcards).
    """
    return report(
        path,
        caption=f"../report/{caption}.rst",
        category="participants",
        subcategory=section or paths.scan_id("{subject}", SESSION),
        labels={"figure": figure},
    )


def scan_figure(pattern, scan, caption, figure):
    """One named scan's figure of a per-scan ``pattern``, in that scan's report section."""
    return participant_figure(
        one_scan(pattern, scan.wildcards), caption, figure, section=scan.id
    )


def evaluation_figure(name, caption, folder="evaluation"):
    """A figure of <output_dir>/<folder>/figures/, shown in the report's category of that name."""
    return report(
        f"{OUT}/{folder}/figures/{name}.png",
        caption=f"../report/{caption}.rst",
        category=folder,
        subcategory="figures",
    )


def sidecar_jobs(patterns, with_fold):
    """Every scan's images of ``patterns`` with what their sidecars say of them: the scan's input
    images in the dataset, its grid (the grid mask), and the fold model that predicted it.
    """
    jobs = []
    for scan in COHORT.scans:
        values = scan.wildcards
        grid_mask = one_scan(rules.model_grid.output.mask, values)
        # once per scan, not per image: each call looks at the file system
        raw = {
            kind: derivatives.dataset_relative(getattr(scan, kind), RAW_DIR)
            for kind in ("t1w", "pet")
        }
        fold = int(FOLD_OF[scan.id]) if with_fold else None
        for pattern in patterns.values():
            jobs.append(
                {
                    "image": one_scan(pattern, values),
                    "raw": raw,
                    "grid_mask": grid_mask,
                    "fold": fold,
                }
            )
    return jobs
