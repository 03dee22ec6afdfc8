# BIDS derivatives: a JSON sidecar for every image of preproc/, mni/ and predictions/ (what it is,
# its spatial reference, units, sources, the fold model that made it); each folder's
# dataset_description.json is written when a run starts (Snakefile, onstart).


# JSON writers of a second each: on a cluster they run in the main process, not as jobs
localrules:
    participant_sidecars,
    group_sidecars,


PARTICIPANT_IMAGES = {
    "t1w": rules.ingest_t1w.output.t1w,
    "suv": rules.ingest_pet.output.suv,
    "mask": rules.brain_mask.output.mask,
    "brain": rules.brain_mask.output.brain,
    "pet_t1w": rules.coregister_pet.output.pet,
    "pet_t1w_whole": rules.coregister_pet.output.pet_whole,
    "grid_t1w": rules.model_grid.output.t1w,
    "grid_pet": rules.grid_pet.output.pet,
    "grid_mask": rules.model_grid.output.mask,
    "mni_t1w": rules.mni_register.output.t1w,
}
GROUP_IMAGES = {
    "synthetic_grid": PREDICTION_GRID,
    "synthetic_t1w": PREDICTION_T1W,
    "suvr_synthetic": rules.mni_pet.output.suvr_synthetic,
    "suvr_pet": rules.mni_pet.output.suvr_pet,
    **{f"mni_{key}": mni_image(key) for key in (*IMAGES, "mask")},
    "mni_expected_error": EXPECTED_ERROR,
}


# what each sidecar says, built once per level (it walks every scan and its input paths)
PARTICIPANT_SIDECARS = sidecar_jobs(PARTICIPANT_IMAGES, False)
GROUP_SIDECARS = sidecar_jobs(GROUP_IMAGES, GROUP_LEVEL)


# one job for every scan's sidecars: they are written in a second, and a sidecar names both the T1w
# and the PET a scan came from, which no per-scan rule of one kind (anat or pet) has as wildcards
rule participant_sidecars:
    # a sidecar says what its image's name means, never what its voxels hold: the job waits for the
    # last images of each scan's chains (every other image lies upstream of them, and the job
    # refuses to write a sidecar beside a missing image) instead of reading thousands of inputs
    input:
        expand(rules.grid_pet.output.pet, zip, **SCAN_WILDCARDS),
        expand(rules.mni_register.output.t1w, zip, **SCAN_WILDCARDS),
    # the sidecars are written beside their images; the manifest (each sidecar and its checksum),
    # written last, is the one declared output: thousands of declared outputs slowed every DAG
    # look-up (synthpet.io.derivatives.write_sidecars). A deleted sidecar comes back when its
    # image is remade, or with --forcerun participant_sidecars
    output:
        manifest=f"{OUT}/logs/participant_sidecars.tsv",
    log:
        f"{OUT}/logs/participant_sidecars.log",
    benchmark:
        f"{OUT}/benchmarks/participant_sidecars.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=300,
        runtime=2,
    params:
        images=PARTICIPANT_SIDECARS,
        suvr_reference=[],
        pet_scale=PREPROC["pet_scale"],
    script:
        "../scripts/write_sidecars.py"


use rule participant_sidecars as group_sidecars with:
    input:
        # each scan's MNI PET images come after its predictions and MNI anatomy; the expected-error
        # maps are one job's. Not the per-scan measures: a statistics setting would rewrite every
        # sidecar for nothing
        expand(rules.mni_pet.output.pet, zip, **SCAN_WILDCARDS),
        rules.expected_error.output.maps,
    output:
        manifest=f"{OUT}/logs/group_sidecars.tsv",
    log:
        f"{OUT}/logs/group_sidecars.log",
    benchmark:
        f"{OUT}/benchmarks/group_sidecars.tsv"
    params:
        images=GROUP_SIDECARS,
        suvr_reference=EVAL["suvr_reference"],
