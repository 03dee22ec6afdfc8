# The validation harness, included only when the input is the synthetic cohort: the cohort itself (a
# BIDS dataset with ground truth), the preprocessing's accuracy against that truth, the noise-free
# PET carried to MNI space, and the method's outputs scored against the truth. The method's rules
# know nothing of it: its rules read theirs, and write under <output_dir>/validation.

from synthpet.validation import phantom, truth

# ----- the synthetic cohort

PHANTOM_DIR = phantom.phantom_dir(config)
# megabytes per job: the padded 1 mm grid holds about 15 M voxels per volume
PHANTOM_MEM_MB = 3000 if config["phantom"]["t1_voxel_mm"] == 1 else 800


rule phantom_reference:
    output:
        temp(
            f"{OUT}/work/phantom/reference_res-{config['phantom']['t1_voxel_mm']}mm.npz"
        ),
    log:
        f"{OUT}/logs/phantom_reference.log",
    benchmark:
        f"{OUT}/benchmarks/phantom_reference.tsv"
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=lambda wildcards, attempt: 2 * PHANTOM_MEM_MB * attempt,
        runtime=minutes(10),
    params:
        resolution=config["phantom"]["t1_voxel_mm"],
    script:
        "../scripts/phantom_reference.py"


rule phantom_scan:
    input:
        reference=rules.phantom_reference.output[0],
        pattern=lambda wildcards: config["phantom"]["pattern_image"] or [],
    output:
        t1w=phantom.t1w_path(PHANTOM_DIR, "{subject}", "{session}"),
        t1w_json=phantom.t1w_path(PHANTOM_DIR, "{subject}", "{session}").replace(
            ".nii.gz", ".json"
        ),
        pet=phantom.pet_path(PHANTOM_DIR, "{subject}", "{session}"),
        pet_json=phantom.pet_path(PHANTOM_DIR, "{subject}", "{session}").replace(
            ".nii.gz", ".json"
        ),
        mask=phantom.truth_path(PHANTOM_DIR, "{subject}", "{session}", "mask"),
        noisefree=phantom.truth_path(PHANTOM_DIR, "{subject}", "{session}", "noisefree"),
        anatomical=phantom.truth_path(
            PHANTOM_DIR, "{subject}", "{session}", "anatomical"
        ),
        truth=phantom.truth_path(PHANTOM_DIR, "{subject}", "{session}", "json"),
    log:
        f"{OUT}/logs/phantom_scan/sub-{{subject}}_ses-{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/phantom_scan/sub-{{subject}}_ses-{{session}}.tsv"
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=lambda wildcards, attempt: PHANTOM_MEM_MB * attempt,
        runtime=minutes(10),
    params:
        phantom=config["phantom"],
        seed=config["seed"],
        suv_window_min=config["input"]["suv_window_min"],
    script:
        "../scripts/phantom_scan.py"


rule phantom_dataset:
    output:
        description=f"{PHANTOM_DIR}/dataset_description.json",
        participants=f"{PHANTOM_DIR}/participants.tsv",
        participants_json=f"{PHANTOM_DIR}/participants.json",
        readme=f"{PHANTOM_DIR}/README",
        effects=f"{PHANTOM_DIR}/{phantom.GROUNDTRUTH}/effects.json",
    log:
        f"{OUT}/logs/phantom_dataset.log",
    benchmark:
        f"{OUT}/benchmarks/phantom_dataset.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        phantom=config["phantom"],
        seed=config["seed"],
    script:
        "../scripts/phantom_dataset.py"


# ----- accuracy against the truth


rule preprocessing_accuracy:
    input:
        matrices=expand(rules.coregister_pet.output.matrix, zip, **SCAN_WILDCARDS),
        masks=expand(rules.brain_mask.output.mask, zip, **SCAN_WILDCARDS),
        truths=expand(rules.phantom_scan.output.truth, zip, **SCAN_WILDCARDS),
        truth_masks=expand(rules.phantom_scan.output.mask, zip, **SCAN_WILDCARDS),
    output:
        report_table(
            f"{OUT}/qc/preprocessing_accuracy.tsv",
            "preprocessing_accuracy",
            "QC",
            "accuracy against ground truth",
        ),
    log:
        f"{OUT}/logs/preprocessing_accuracy.log",
    benchmark:
        f"{OUT}/benchmarks/preprocessing_accuracy.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        scans=list(SCANS),
    script:
        "../scripts/preprocessing_accuracy.py"


# each scan's truth in MNI space, on the scale of its normalized PET (the same warp, scaling and
# genotype correction), and its anatomical part in SUV: per-scan patterns, for the sidecars
TRUTH_MNI = {
    "noisefree": mni_path("pet", "pet", space=mni.SPACE, desc="noisefree"),
    "anatomical": mni_path("pet", "pet", space=mni.SPACE, desc="anatomical"),
    "anatomical_suv": mni_path("pet", "pet", space=mni.SPACE, desc="anatomicalSUV"),
}


# one job for every scan: each scan's work is under a second, its own job's start-up two
rule mni_noisefree:
    input:
        noisefree=expand(rules.phantom_scan.output.noisefree, zip, **SCAN_WILDCARDS),
        anatomical=expand(rules.phantom_scan.output.anatomical, zip, **SCAN_WILDCARDS),
        pet_t1=expand(rules.coregister_pet.output.pet, zip, **SCAN_WILDCARDS),
        mask=expand(rules.model_grid.output.mask, zip, **SCAN_WILDCARDS),
        warp=expand(rules.mni_register.output.warp, zip, **SCAN_WILDCARDS),
        affine=expand(rules.mni_register.output.affine, zip, **SCAN_WILDCARDS),
        genotype_model=[
            rules.genotype_correction.output.model.replace(
                "{fold}", str(FOLD_OF[scan])
            )
            for scan in SCANS
        ],
    output:
        **{
            key: expand(pattern, zip, **SCAN_WILDCARDS)
            for key, pattern in TRUTH_MNI.items()
        },
    log:
        f"{OUT}/logs/mni_noisefree.log",
    benchmark:
        f"{OUT}/benchmarks/mni_noisefree.tsv"
    conda:
        "../../envs/synthpet.yaml"
    threads: ANTS_THREADS
    resources:
        # one scan at a time: a scan's share of the inputs
        mem_mb=memory_mb(1500, 20 / len(SCANS)),
        runtime=minutes(2 + len(SCANS) // 10),
    params:
        voxel_mm=MNI_VOXEL,
        genotypes=[scan.genotype for scan in SCANS.values()],
        scale=PET_SCALE,
    script:
        "../scripts/mni_noisefree.py"


# the method's outputs (its tables, each scan's MNI images) and each scan's truth in MNI space
rule ground_truth_tables:
    input:
        **{
            key: expand(mni_image(key), zip, **SCAN_WILDCARDS)
            for key in ("synthetic", "pet", "pet_smoothed", "mask")
        },
        **{
            key: getattr(rules.mni_noisefree.output, key)
            for key in (*truth.PHANTOM_IMAGES, truth.ANATOMICAL_SUV)
        },
        scan_metrics=rules.evaluation_tables.output.scan_metrics,
        regions=rules.evaluation_tables.output.regions,
        atlas=rules.atlas.output[0],
    output:
        # the method's headline and Table 4 with the ceilings beside them, and its per-scan measures
        # with each scan's scores against the truth
        headline=report_table(
            f"{OUT}/validation/headline_with_ceiling.tsv",
            "headline_with_ceiling",
            "validation",
            "0. headline with the ceiling",
        ),
        table4=evaluation_table("table4_with_ceilings", "table4", "validation"),
        scan_metrics=evaluation_table(
            "scan_metrics_with_truth", "scan_metrics", "validation"
        ),
        errors=evaluation_table(
            "groundtruth_errors", "groundtruth_errors", "validation"
        ),
        effects=evaluation_table(
            "groundtruth_effects", "groundtruth_effects", "validation"
        ),
    log:
        f"{OUT}/logs/ground_truth_tables.log",
    benchmark:
        f"{OUT}/benchmarks/ground_truth_tables.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(1000, 3),
        runtime=minutes(10),
    params:
        voxel_mm=MNI_VOXEL,
        settings=MEASURE_SETTINGS,
        seed=config["seed"],
        group_effects=config["phantom"]["group_effects"],
        control=config["input"]["groups"][0],
        hab_over_mab=config["phantom"]["hab_over_mab"],
    script:
        "../scripts/ground_truth_tables.py"


# the positive control, lesion by lesion: how much of each lesion's signal the held-out synthetic PET
# shows, beside the population mean; and Figure 2 of the example scan through its largest lesion
rule lesion_control:
    input:
        **{
            key: expand(mni_image(key), zip, **SCAN_WILDCARDS)
            for key in ("t1w", "pet", "pet_smoothed", "synthetic", "mask")
        },
        folds=rules.folds.output.folds,
        truth=expand(rules.phantom_scan.output.truth, zip, **SCAN_WILDCARDS),
        noisefree=rules.mni_noisefree.output.noisefree,
    output:
        lesions=evaluation_table("lesion_contrast", "lesion_contrast", "validation"),
        summary=evaluation_table("lesion_control", "lesion_control", "validation"),
        figure=evaluation_figure("lesions", "lesions", "validation"),
        vector=f"{OUT}/validation/figures/lesions.svg",
    log:
        f"{OUT}/logs/lesion_control.log",
    benchmark:
        f"{OUT}/benchmarks/lesion_control.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(1000, 3),
        runtime=minutes(10),
    params:
        scans=list(SCANS),
        example=EXAMPLE_SCAN,
    script:
        "../scripts/lesion_control.py"


# the sidecars of the truth's MNI images, as the method's own images have theirs (derivatives.smk)
localrules:
    validation_sidecars,


rule validation_sidecars:
    input:
        rules.mni_noisefree.output,
    output:
        manifest=f"{OUT}/logs/validation_sidecars.tsv",
    log:
        f"{OUT}/logs/validation_sidecars.log",
    benchmark:
        f"{OUT}/benchmarks/validation_sidecars.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=300,
        runtime=2,
    params:
        images=sidecar_jobs(TRUTH_MNI, GROUP_LEVEL),
        suvr_reference=EVAL["suvr_reference"],
        pet_scale=PREPROC["pet_scale"],
    script:
        "../scripts/write_sidecars.py"


# what the group level builds of the harness (the Snakefile's rule all; `snakemake validation`)
rule validation:
    input:
        rules.preprocessing_accuracy.output,
        rules.ground_truth_tables.output,
        rules.lesion_control.output,
        rules.validation_sidecars.output,
