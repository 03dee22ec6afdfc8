# Evaluation (synthpet.evaluate): per-scan metrics and regional means in MNI space, the expected-error
# maps, then the paper's tables and figures. (The synthetic cohort's harness scores these outputs
# against its truth in rules of its own: workflow/rules/validation.smk.)

# settings of the per-scan measures; changing one reruns the measures and tables, not the warps
MEASURE_SETTINGS = {
    key: EVAL[key] for key in ("atlas", "cnr_draws", "cnr_box", "percdiff_min_target")
}


rule expected_error:
    input:
        **{
            key: expand(mni_image(key), zip, **SCAN_WILDCARDS)
            for key in (*IMAGES, "mask")
        },
    output:
        maps=expand(EXPECTED_ERROR, zip, **SCAN_WILDCARDS),
        table=evaluation_table("expected_error", "expected_error"),
        qc=[
            scan_figure(
                PREDICTION_QC, scan, "qc_prediction", "3. synthetic vs measured PET"
            )
            for scan in SCANS.values()
        ],
    log:
        f"{OUT}/logs/expected_error.log",
    benchmark:
        f"{OUT}/benchmarks/expected_error.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(2000, 1 / 10),
        runtime=minutes(10),
    params:
        scans=list(SCANS),
        folds=[int(FOLD_OF[scan]) for scan in SCANS] if GROUP_LEVEL else [],
        voxel_mm=MNI_VOXEL,
    script:
        "../scripts/expected_error.py"


rule scan_measures:
    input:
        unpack(mni_images),
        atlas=rules.atlas.output[0],
    output:
        metrics=f"{OUT}/evaluation/scans/{paths.scan_id('{subject}', SESSION)}_metrics.json",
        regions=f"{OUT}/evaluation/scans/{paths.scan_id('{subject}', SESSION)}_regions.tsv",
    log:
        scan_log("scan_measures"),
    benchmark:
        scan_benchmark("scan_measures")
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(1500, 20),
        runtime=minutes(5),
    params:
        voxel_mm=MNI_VOXEL,
        settings=MEASURE_SETTINGS,
        seed=config["seed"],
    script:
        "../scripts/scan_measures.py"


rule evaluation_tables:
    input:
        **{
            key: expand(mni_image(key), zip, **SCAN_WILDCARDS)
            for key in ("pet", "pet_smoothed", "synthetic", "mask", "t1w")
        },
        scans=rules.cohort_table.output.scans,
        folds=rules.folds.output.folds,
        metrics=expand(rules.scan_measures.output.metrics, zip, **SCAN_WILDCARDS),
        regions=expand(rules.scan_measures.output.regions, zip, **SCAN_WILDCARDS),
    output:
        # the results at a glance: the report's first table
        headline=report_table(
            f"{OUT}/evaluation/headline.tsv", "headline", "evaluation", "0. headline"
        ),
        scan_metrics=evaluation_table("scan_metrics", "scan_metrics"),
        regions=f"{OUT}/evaluation/regional_suv.tsv",
        table2=evaluation_table("table2_regional_suv", "table2"),
        table3=evaluation_table("table3_median_split", "table3"),
        table4=evaluation_table("table4_metrics", "table4"),
        table5=evaluation_table("table5_specificity", "table5"),
        table5_scans=f"{OUT}/evaluation/table5_specificity_per_scan.tsv",
        correlations=evaluation_table("correlations", "correlations"),
        agreement=evaluation_table("regional_agreement", "regional_agreement"),
        groups=evaluation_table("group_comparison", "group_comparison"),
    log:
        f"{OUT}/logs/evaluation_tables.log",
    benchmark:
        f"{OUT}/benchmarks/evaluation_tables.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(2000, 3),
        runtime=minutes(30),
    params:
        voxel_mm=MNI_VOXEL,
        min_target=EVAL["percdiff_min_target"],
    script:
        "../scripts/evaluation_tables.py"


rule evaluation_figures:
    input:
        unpack(example_images),
        scan_metrics=rules.evaluation_tables.output.scan_metrics,
        regions=rules.evaluation_tables.output.regions,
        correlations=rules.evaluation_tables.output.correlations,
        groups=rules.evaluation_tables.output.groups,
        losses=expand(rules.train_fold.output.losses, fold=FOLDS),
    output:
        examples=evaluation_figure("fig2_example_slices", "fig2"),
        groups=evaluation_figure("fig3_groups", "fig3"),
        median_split=evaluation_figure("fig4_median_split_bland_altman", "fig4"),
        metrics=evaluation_figure("fig5_metric_distributions", "fig5"),
        correlations=evaluation_figure("fig6_correlations", "fig6"),
        losses=evaluation_figure("fig7_loss_curves", "fig7"),
        # each figure's vector twin (SVG, text as text) beside its 300 dpi PNG
        vectors=expand(
            f"{OUT}/evaluation/figures/{{name}}.svg",
            name=[
                "fig2_example_slices",
                "fig3_groups",
                "fig4_median_split_bland_altman",
                "fig5_metric_distributions",
                "fig6_correlations",
                "fig7_loss_curves",
            ],
        ),
    log:
        f"{OUT}/logs/evaluation_figures.log",
    benchmark:
        f"{OUT}/benchmarks/evaluation_figures.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        voxel_mm=MNI_VOXEL,
        folds=FOLDS,
        example=EXAMPLE_SCAN,
        alpha=TRAIN["alpha"],
    script:
        "../scripts/evaluation_figures.py"
