# The validation harness, included only when the input is the synthetic cohort: the cohort itself (a
# BIDS dataset with ground truth), the preprocessing's accuracy against that truth, the noise-free
# PET carried to MNI space, and the ground-truth tables. The method's rules know nothing of it: this
# file plugs in through the hooks of common.smk (EXTRA_MNI_IMAGES, ...).

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
        runtime=lambda wildcards, attempt: 10 * attempt,
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
        runtime=lambda wildcards, attempt: 10 * attempt,
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


rule mni_noisefree:
    input:
        unpack(scan_fold_inputs),
        unpack(
            scan_files(
                mask=rules.model_grid.output.mask,
                warp=rules.mni_register.output.warp,
                affine=rules.mni_register.output.affine,
            )
        ),
        noisefree=rules.phantom_scan.output.noisefree,
        anatomical=rules.phantom_scan.output.anatomical,
        pet_t1=rules.coregister_pet.output.pet,
    output:
        noisefree=mni_path("pet", "pet", space=mni.SPACE, desc="noisefree"),
        anatomical=mni_path("pet", "pet", space=mni.SPACE, desc="anatomical"),
        anatomical_suv=mni_path("pet", "pet", space=mni.SPACE, desc="anatomicalSUV"),
    log:
        scan_log("mni_noisefree", "pet"),
    benchmark:
        scan_benchmark("mni_noisefree", "pet")
    conda:
        "../../envs/synthpet.yaml"
    threads: ANTS_THREADS
    resources:
        mem_mb=lambda wildcards, input, attempt: (1500 + 20 * input_mb(input)) * attempt,
        runtime=lambda wildcards, attempt: 5 * attempt,
    params:
        voxel_mm=MNI_VOXEL,
        genotype=lambda wildcards: scan_of(wildcards).genotype,
        scale=PET_SCALE,
    script:
        "../scripts/mni_noisefree.py"


rule ground_truth_tables:
    input:
        scan_metrics=rules.evaluation_tables.output.scan_metrics,
        regions=rules.evaluation_tables.output.regions,
    output:
        errors=evaluation_table("groundtruth_errors", "groundtruth_errors"),
        effects=evaluation_table("groundtruth_effects", "groundtruth_effects"),
    log:
        f"{OUT}/logs/ground_truth_tables.log",
    benchmark:
        f"{OUT}/benchmarks/ground_truth_tables.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        group_effects=config["phantom"]["group_effects"],
        control=config["input"]["groups"][0],
        hab_over_mab=config["phantom"]["hab_over_mab"],
    script:
        "../scripts/ground_truth_tables.py"


# the hooks (the dataset's files need none: the provenance names dataset_description.json as its
# input, and phantom_dataset writes it): each scan has its
# noise-free PET and its anatomical part in MNI space, scored by the per-scan measures; Table 4 shows
# the anatomical part's skill as the ceiling of a T1w-only predictor: with the population mean,
# weighed by a fit on the training scans (honest), and on each scan's own scale (an oracle's)
EXTRA_MNI_IMAGES.update(
    {
        key: getattr(rules.mni_noisefree.output, key)
        for key in (*truth.PHANTOM_IMAGES, truth.ANATOMICAL_SUV)
    }
)
MEASURE_COMPARISONS.update(
    {target: list(images) for target, images in truth.COMPARISONS.items()}
)
TABLE4_CEILING["image"] = truth.ANATOMICAL
TABLE4_CEILING["anatomy"] = expand(
    rules.mni_noisefree.output.anatomical_suv, zip, **SCAN_WILDCARDS
)
VALIDATION_TARGETS.extend(
    [rules.preprocessing_accuracy.output, rules.ground_truth_tables.output]
)
