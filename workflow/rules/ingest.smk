# Ingest: each scan's raw T1w and PET read once, every voxel checked, written in canonical form
# (RAS+, float32, PET as SUV). Bad voxels or a broken file stop here, before any heavy compute.


def raw_inputs(kind):
    """Input function: the raw image of a scan, plus the phantom's dataset files when it is generated."""

    def inputs(wildcards):
        scan = scan_of(wildcards)
        files = {"image": getattr(scan, kind)}
        if kind == "pet":
            files["sidecars"] = list(scan.pet_sidecars)
        if config["input"]["source"] == "phantom":
            files["dataset"] = rules.phantom_dataset.output.participants
        return files

    return inputs


rule ingest_t1w:
    input:
        unpack(raw_inputs("t1w")),
    output:
        t1w=preproc_path("anat", "T1w", desc="ingested"),
    log:
        scan_log("ingest_t1w"),
    benchmark:
        scan_benchmark("ingest_t1w")
    resources:
        mem_mb=lambda wildcards, input, attempt: max(500, 40 * input.size_mb) * attempt,
        runtime=lambda wildcards, attempt: 5 * attempt,
    group:
        "scan"
    conda:
        "../../envs/synthpet.yaml"
    script:
        "../scripts/ingest_t1w.py"


rule ingest_pet:
    input:
        unpack(raw_inputs("pet")),
    output:
        suv=preproc_path("pet", "pet", desc="suv"),
    params:
        suv_window_min=config["input"]["suv_window_min"],
    log:
        scan_log("ingest_pet"),
    benchmark:
        scan_benchmark("ingest_pet")
    resources:
        mem_mb=lambda wildcards, input, attempt: max(500, 40 * input.size_mb) * attempt,
        runtime=lambda wildcards, attempt: 5 * attempt,
    group:
        "scan"
    conda:
        "../../envs/synthpet.yaml"
    script:
        "../scripts/ingest_pet.py"


rule cohort_table:
    output:
        scans=f"{OUT}/cohort/scans.tsv",
        excluded=f"{OUT}/cohort/excluded.tsv",
    params:
        scans=COHORT.table().to_dict(orient="list"),
        excluded=COHORT.excluded,
    log:
        f"{OUT}/logs/cohort_table.log",
    resources:
        mem_mb=200,
        runtime=2,
    conda:
        "../../envs/synthpet.yaml"
    script:
        "../scripts/cohort_table.py"
