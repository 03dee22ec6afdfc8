# Provenance of the results folder; shown in the report beside the figures and tables. Each
# participant's own page.

from synthpet.report.participant import notices_about


rule provenance:
    input:
        # the dataset's description is recorded (a generated dataset's must exist first)
        dataset=DATASET_DESCRIPTION,
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
    params:
        # caption names, not paths: a path would rerun the job whenever the workflow moves
        captions={
            name: Path(table["caption"]).stem for name, table in REPORT_TABLES.items()
        },
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


# each participant's page (fMRIPrep's sub-<label>.html): the figures of the stages that ran, so the
# group level adds the prediction's (the page's inputs change, and it is written again)
PARTICIPANT_FIGURES = [
    (
        "PET coregistration and brain mask",
        rules.coregister_pet.output.qc,
        "qc_coregistration",
    ),
    ("Registration to MNI", rules.mni_register.output.qc, "qc_mni"),
] + (
    [("Synthetic vs measured PET, in MNI space", PREDICTION_QC, "qc_prediction")]
    if GROUP_LEVEL
    else []
)


# each page's scans (with their figures) and notices, built once for the job's input and params
PARTICIPANT_PAGES = [
    {
        "subject": subject,
        "scans": participant_figures(subject, PARTICIPANT_FIGURES),
        "notices": notices_about(subject, COHORT.warnings, COHORT.excluded),
    }
    for subject in PARTICIPANTS
]


localrules:
    participant_reports,


# one job writes every page: a page takes under 0.1 s, a job of its own paid a second to start
rule participant_reports:
    input:
        [
            png
            for page in PARTICIPANT_PAGES
            for scan in page["scans"]
            for _, png, _ in scan["figures"]
        ],
    output:
        html=expand(f"{OUT}/sub-{{subject}}.html", subject=PARTICIPANTS),
    log:
        f"{OUT}/logs/participant_reports.log",
    benchmark:
        f"{OUT}/benchmarks/participant_reports.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=300,
        runtime=lambda wildcards, attempt: (2 + len(PARTICIPANTS) // 50) * attempt,
    params:
        # one entry per page of output.html, in its order
        pages=PARTICIPANT_PAGES,
        config={"preprocess": PREPROC},
    script:
        "../scripts/participant_reports.py"
