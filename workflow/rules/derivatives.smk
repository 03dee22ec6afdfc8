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
    "grid_t1w": rules.model_grid.output.t1w,
    "grid_pet": rules.model_grid.output.pet,
    "grid_mask": rules.model_grid.output.mask,
    "mni_t1w": rules.mni_register.output.t1w,
}
GROUP_IMAGES = {
    "synthetic_grid": rules.predict_scan.output.grid,
    "synthetic_t1w": rules.predict_scan.output.native,
    "suvr_synthetic": rules.suvr.output.synthetic,
    "suvr_pet": rules.suvr.output.pet,
    **{
        f"mni_{key}": getattr(rules.mni_pet.output, key)
        for key in rules.mni_pet.output.keys()
    },
}
if config["input"]["source"] == "phantom":
    GROUP_IMAGES.update(
        {
            f"mni_{key}": getattr(rules.mni_noisefree.output, key)
            for key in PHANTOM_IMAGES
        }
    )


rule participant_sidecars:
    input:
        **PARTICIPANT_IMAGES,
    output:
        **{key: paths.json_sidecar(image) for key, image in PARTICIPANT_IMAGES.items()},
    log:
        scan_log("participant_sidecars"),
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=300,
        runtime=2,
    params:
        raw=raw_relative,
        fold=None,
        suvr_reference=[],
    script:
        "../scripts/write_sidecars.py"


use rule participant_sidecars as group_sidecars with:
    input:
        **GROUP_IMAGES,
    output:
        **{key: paths.json_sidecar(image) for key, image in GROUP_IMAGES.items()},
    log:
        scan_log("group_sidecars"),
    params:
        raw=raw_relative,
        fold=lambda wildcards: int(FOLD_OF[scan_of(wildcards).id]),
        suvr_reference=EVAL["suvr_reference"],
