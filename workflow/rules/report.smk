# Provenance of the results folder; shown in the report beside the figures and tables.


rule provenance:
    input:
        # a generated dataset's description is recorded, so it must exist first
        dataset=lambda wildcards: list(DATASET_INPUTS.values()),
    output:
        report_table(f"{OUT}/provenance.json", "provenance", "provenance"),
    log:
        f"{OUT}/logs/provenance.log",
    benchmark:
        f"{OUT}/benchmarks/provenance.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=500,
        runtime=2,
    params:
        # the whole config: any change of setting is recorded
        config=config,
        dataset=RAW_DIR,
    script:
        "../scripts/provenance.py"


# small text writers: on a cluster they run in the main process, not as jobs
localrules:
    report_tables,
    methods,


rule report_tables:
    input:
        **{name: table["path"] for name, table in REPORT_TABLES.items()},
    output:
        **{
            name: report(
                f"{OUT}/report/{name}.html",
                caption=table["caption"],
                category=table["category"],
                subcategory=table["subcategory"],
            )
            for name, table in REPORT_TABLES.items()
        },
    log:
        f"{OUT}/logs/report_tables.log",
    benchmark:
        f"{OUT}/benchmarks/report_tables.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/report_tables.py"


rule methods:
    input:
        provenance=rules.provenance.output[0],
        folds=rules.folds.output.folds,
        summary=expand(rules.train_fold.output.summary, fold=0)[0],
    output:
        markdown=f"{OUT}/methods.md",
        html=report(
            f"{OUT}/report/methods.html",
            caption="../report/methods.rst",
            category="methods",
        ),
    log:
        f"{OUT}/logs/methods.log",
    benchmark:
        f"{OUT}/benchmarks/methods.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=500,
        runtime=2,
    script:
        "../scripts/methods.py"
