# Preprocessing: brain mask, PET-to-T1w coregistration, the model grid with normalized intensities
# (synthpet.preprocess).

from synthpet.preprocess.settings import (
    CoregSettings,
    GridSettings,
    MaskSettings,
    PetScale,
)

# each step's settings are only the keys it reads (synthpet.preprocess.settings), so that a change
# to another key leaves its outputs current
MASK_SETTINGS = MaskSettings.params(PREPROC)
COREG_SETTINGS = CoregSettings.params(PREPROC)
GRID_SETTINGS = GridSettings.params(PREPROC)
# how the PET becomes the model's target: its own settings, so that the T1w's grid does not go
# stale when only the PET's scale changes
PET_SCALE = PetScale.params(PREPROC)


rule brain_mask:
    input:
        t1w=rules.ingest_t1w.output.t1w,
    output:
        mask=preproc_path("anat", "mask", desc="brain"),
        brain=preproc_path("anat", "T1w", desc="brain"),
        xfm=preproc_path(
            "anat",
            "xfm",
            ext=".txt",
            **{"from": "T1w", "to": "MNI152NLin6Asym"},
            mode="image",
        ),
    log:
        scan_log("brain_mask", "anat"),
    benchmark:
        scan_benchmark("brain_mask", "anat")
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    threads: ANTS_THREADS
    resources:
        mem_mb=memory_mb(1500, 60),
        runtime=minutes(20),
    params:
        backend=PREPROC["backend"],
        settings=MASK_SETTINGS,
        seed=config["seed"],
        scan=lambda wildcards: scan_of(wildcards).id,
        qc_failed=lambda wildcards: f"{OUT}/qc/failed/{scan_of(wildcards).id}_desc-brainmask_qc.png",
    script:
        "../scripts/brain_mask.py"


rule coregister_pet:
    input:
        unpack(
            scan_files(
                t1w=rules.ingest_t1w.output.t1w, mask=rules.brain_mask.output.mask
            )
        ),
        suv=rules.ingest_pet.output.suv,
    output:
        matrix=preproc_path("pet", "xfm", ext=".txt", **{"from": "T1w", "to": "PET"}),
        pet=preproc_path("pet", "pet", space="T1w", desc="brain"),
        # not masked: the PET as a user overlays it on the T1w, scalp and all
        pet_whole=preproc_path("pet", "pet", space="T1w"),
        # drawn by the same job, from the images it holds: a job of its own paid a process and imports
        qc=participant_figure(
            f"{OUT}/qc/coregistration/{scan_name('pet')}_desc-coreg_qc.png",
            "qc_coregistration",
            "1. PET coregistration and brain mask",
        ),
    log:
        scan_log("coregister_pet", "pet"),
    benchmark:
        scan_benchmark("coregister_pet", "pet")
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    threads: ANTS_THREADS
    resources:
        mem_mb=memory_mb(1000, 40),
        runtime=minutes(15),
    params:
        backend=PREPROC["backend"],
        settings=COREG_SETTINGS,
        seed=config["seed"],
        scan=lambda wildcards: scan_of(wildcards).id,
        qc_failed=lambda wildcards: f"{OUT}/qc/failed/{scan_of(wildcards).id}_desc-coreg_qc.png",
    script:
        "../scripts/coregister_pet.py"


rule model_grid:
    input:
        t1w=rules.brain_mask.output.brain,
        mask=rules.brain_mask.output.mask,
        xfm=rules.brain_mask.output.xfm,
    output:
        t1w=preproc_path("anat", "T1w", space="grid", desc="norm"),
        mask=preproc_path("anat", "mask", space="grid", desc="brain"),
    log:
        scan_log("model_grid", "anat"),
    benchmark:
        scan_benchmark("model_grid", "anat")
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(800, 20),
        runtime=minutes(5),
    params:
        settings=GRID_SETTINGS,
        scan=lambda wildcards: scan_of(wildcards).id,
    script:
        "../scripts/model_grid.py"


rule grid_pet:
    input:
        unpack(scan_files(mask=rules.model_grid.output.mask)),
        pet=rules.coregister_pet.output.pet,
    output:
        pet=preproc_path("pet", "pet", space="grid", desc="norm"),
    log:
        scan_log("grid_pet", "pet"),
    benchmark:
        scan_benchmark("grid_pet", "pet")
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(800, 20),
        runtime=minutes(5),
    params:
        scale=PET_SCALE,
    script:
        "../scripts/grid_pet.py"
