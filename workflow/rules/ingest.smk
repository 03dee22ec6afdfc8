# Ingest: each scan's raw T1w and PET read once, every voxel checked, written in canonical form
# (RAS+, float32, PET as SUV). Bad voxels or a broken file stop here, before any heavy compute.


rule ingest_t1w:
    input:
        unpack(raw_inputs("t1w")),
    output:
        t1w=preproc_path("anat", "T1w", desc="ingested"),
    log:
        scan_log("ingest_t1w", "anat"),
    benchmark:
        scan_benchmark("ingest_t1w", "anat")
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(0, 40, floor=500),
        runtime=minutes(5),
    script:
        "../scripts/ingest_t1w.py"


rule ingest_pet:
    input:
        unpack(raw_inputs("pet")),
    output:
        suv=preproc_path("pet", "pet", desc="suv"),
    log:
        scan_log("ingest_pet", "pet"),
    benchmark:
        scan_benchmark("ingest_pet", "pet")
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(0, 40, floor=500),
        runtime=minutes(5),
    params:
        suv_window_min=config["input"]["suv_window_min"],
        weight_kg=lambda wildcards: scan_of(wildcards).weight_kg,
    script:
        "../scripts/ingest_pet.py"


rule cohort_table:
    output:
        scans=f"{OUT}/cohort/scans.tsv",
        excluded=f"{OUT}/cohort/excluded.tsv",
    log:
        f"{OUT}/logs/cohort_table.log",
    benchmark:
        f"{OUT}/benchmarks/cohort_table.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=200,
        runtime=2,
    params:
        scans=COHORT.table().to_dict(orient="list"),
        excluded=COHORT.excluded,
    script:
        "../scripts/cohort_table.py"
