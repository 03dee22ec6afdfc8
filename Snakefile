# synthpet: synthetic TSPO PET from structural T1w MRI.
# Run the demo with `snakemake --cores all`; see README.md for the user's own BIDS data and clusters.

from pathlib import Path

# The demo config applies only when no --configfile is given. Loaded always, it would sit under the
# user's file, and every key that file leaves out would silently take the demo's value.
if not workflow.overwrite_configfiles:

    configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/phantom.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.cohort_table.output.scans,
        expand(rules.model_grid.output.t1w, zip, **SCAN_WILDCARDS),
        expand(rules.qc_coregistration.output, zip, **SCAN_WILDCARDS),
        expand(rules.genotype_correction.output.summary, fold=FOLDS),
        expand(rules.train_fold.output.summary, fold=FOLDS),
        expand(rules.predict_scan.output.native, zip, **SCAN_WILDCARDS),
        rules.evaluation_figures.output,
        rules.provenance.output,
        expand(rules.mni_register.output.qc, zip, **SCAN_WILDCARDS),
        (
            [rules.preprocessing_accuracy.output, rules.ground_truth_tables.output]
            if config["input"]["source"] == "phantom"
            else []
        ),
