# synthpet: synthetic TSPO PET from structural T1w MRI.
# Run the demo with `snakemake --cores all`; see README.md for the user's own BIDS data and clusters.

from pathlib import Path

# The demo config applies only when no --configfile is given. Loaded always, it would sit under the
# user's file, and every key that file leaves out would silently take the demo's value.
if not workflow.overwrite_configfiles:

    configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


# every job inside the synthpet container image when the config names one (run with --sdm apptainer);
# set before the rules, which take it when they are defined
if config.get("container"):

    container: config["container"]


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/learn.smk"
include: "workflow/rules/mni.smk"
include: "workflow/rules/evaluate.smk"


# the validation harness (synthetic cohort and its ground truth): its rules read the outputs of the
# stages above and score them against the truth; the report shows its tables too
HARNESS = config["input"]["source"] == "phantom"
if HARNESS:

    include: "workflow/rules/validation.smk"


include: "workflow/rules/report.smk"
include: "workflow/rules/derivatives.smk"


onstart:
    from snakemake.logging import logger
    from synthpet.io.derivatives import write_dataset_descriptions
    from synthpet.io.provenance import workflow_state

    # each derivatives folder says what made it, before any job writes into it
    write_dataset_descriptions(
        OUT, RAW_DIR, workflow_state(workflow.basedir), GROUP_LEVEL
    )
    # A job-rate limit makes Snakemake's scheduler wake once per window for every job that ended
    # while others waited for cores: with its default (100 jobs per 1 s) the main process of the demo
    # took a third of a core by the end, and training on 2 threads beside it ran 2-3 times slower. A
    # local run has no submissions to throttle: without the limit it wakes only when a job ends.
    if workflow.local_exec and unthrottled(workflow):
        logger.info(
            "synthpet: no job-rate limit on this local machine; the scheduler wakes when a job ends"
        )


# analysis_level 'participant': the per-scan stages of the selected participants (no folds needed)
rule participant:
    input:
        expand(rules.grid_pet.output.pet, zip, **SCAN_WILDCARDS),
        expand(rules.coregister_pet.output.qc, zip, **SCAN_WILDCARDS),
        expand(rules.mni_register.output.qc, zip, **SCAN_WILDCARDS),
        rules.participant_sidecars.output.manifest,
        rules.participant_reports.output.html,


# analysis_level 'group' (the default): the whole workflow
rule all:
    default_target: True
    input:
        rules.participant.input,
        (
            [
                rules.cohort_table.output.scans,
                expand(rules.genotype_correction.output.summary, fold=FOLDS),
                expand(rules.train_fold.output.summary, fold=FOLDS),
                expand(PREDICTION_T1W, zip, **SCAN_WILDCARDS),
                rules.expected_error.output.qc,
                rules.evaluation_figures.output,
                rules.provenance.output,
                rules.report_tables.output,
                rules.methods.output,
                rules.group_sidecars.output.manifest,
            ]
            if GROUP_LEVEL
            else []
        ),
        rules.validation.input if HARNESS and GROUP_LEVEL else [],
