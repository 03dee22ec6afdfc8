# Provenance of the results folder; shown in the report beside the figures and tables.


rule provenance:
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
