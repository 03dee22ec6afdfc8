# The synthetic cohort: a BIDS dataset with ground truth, generated when input.source is phantom.
# One job per scan: every scan has its own seeded random streams, so jobs run in any order.

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
