# synthpet: synthetic TSPO PET from structural T1w MRI.
# Run the demo with `snakemake --cores all`; see README.md for the user's own BIDS data and clusters.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/phantom.smk"
include: "workflow/rules/ingest.smk"


rule all:
    default_target: True
    input:
        rules.cohort_table.output.scans,
        expand(rules.ingest_t1w.output.t1w, zip, **SCAN_WILDCARDS),
        expand(rules.ingest_pet.output.suv, zip, **SCAN_WILDCARDS),
