# Provenance of the results folder; shown in the report beside the figures and tables.


rule provenance:
    input:
        # the generated dataset's description is recorded, so it must exist first
        dataset=(
            rules.phantom_dataset.output.participants
            if config["input"]["source"] == "phantom"
            else []
        ),
    output:
        report(
            f"{OUT}/provenance.json",
            caption="../report/provenance.rst",
            category="provenance",
        ),
    log:
        f"{OUT}/logs/provenance.log",
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=500,
        runtime=2,
    params:
        # the whole config: any change of setting is recorded
        config=config,
    script:
        "../scripts/provenance.py"
