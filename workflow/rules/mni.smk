# MNI space (synthpet.evaluate.mni): every scan's T1w registered to MNI152NLin6Asym (affine then
# SyN, started from brain extraction's affine), and its T1w, mask, true PET (also smoothed) and
# out-of-fold synthetic PET warped there (a participant-level step up to the PET); the atlas on the
# MNI grid, whose reference region the SUVR images use.

EVAL = config["evaluation"]
MNI_VOXEL = EVAL["mni_voxel_mm"]


rule mni_register:
    input:
        brain=rules.brain_mask.output.brain,
        xfm=rules.brain_mask.output.xfm,
    output:
        warp=mni_path(
            "anat",
            "xfm",
            **{"from": "T1w", "to": mni.SPACE},
            desc="warp",
        ),
        affine=mni_path(
            "anat",
            "xfm",
            ext=".mat",
            **{"from": "T1w", "to": mni.SPACE},
            desc="affine",
        ),
        inverse_warp=mni_path(
            "anat",
            "xfm",
            **{"from": mni.SPACE, "to": "T1w"},
            desc="warp",
        ),
        t1w=mni_path("anat", "T1w", space=mni.SPACE, desc="brain"),
        qc=participant_figure(
            f"{OUT}/qc/mni/{scan_name('anat')}_desc-mni_qc.png",
            "qc_mni",
            "2. registration to MNI",
        ),
    log:
        scan_log("mni_register", "anat"),
    benchmark:
        scan_benchmark("mni_register", "anat")
    conda:
        "../../envs/synthpet.yaml"
    threads: ANTS_THREADS
    resources:
        mem_mb=memory_mb(2000, 60),
        runtime=lambda wildcards, attempt: (10 if MNI_VOXEL > 1 else 30) * attempt,
    params:
        voxel_mm=MNI_VOXEL,
        work_voxel_mm=EVAL["mni_register_voxel_mm"],
        seed=config["seed"],
        scan=lambda wildcards: scan_of(wildcards).id,
    script:
        "../scripts/mni_register.py"


rule mni_anatomy:
    input:
        warp=rules.mni_register.output.warp,
        affine=rules.mni_register.output.affine,
        t1w=rules.model_grid.output.t1w,
        mask=rules.model_grid.output.mask,
    output:
        t1w=mni_path("anat", "T1w", space=mni.SPACE, desc="norm"),
        mask=mni_path("anat", "mask", space=mni.SPACE, desc="brain"),
    log:
        scan_log("mni_anatomy", "anat"),
    benchmark:
        scan_benchmark("mni_anatomy", "anat")
    conda:
        "../../envs/synthpet.yaml"
    threads: ANTS_THREADS
    resources:
        mem_mb=memory_mb(1500, 20),
        runtime=minutes(5),
    params:
        voxel_mm=MNI_VOXEL,
    script:
        "../scripts/mni_anatomy.py"


rule atlas:
    output:
        f"{OUT}/evaluation/atlas_res-{MNI_VOXEL}mm.npz",
    log:
        f"{OUT}/logs/atlas.log",
    benchmark:
        f"{OUT}/benchmarks/atlas.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        atlas=EVAL["atlas"],
        voxel_mm=MNI_VOXEL,
    script:
        "../scripts/atlas.py"


rule mni_pet:
    input:
        unpack(scan_fold_inputs),
        unpack(
            scan_files(
                warp=rules.mni_register.output.warp,
                affine=rules.mni_register.output.affine,
                mask=rules.mni_anatomy.output.mask,
            )
        ),
        synthetic=PREDICTION_GRID,
        atlas=rules.atlas.output[0],
    output:
        pet=mni_path("pet", "pet", space=mni.SPACE, desc="true"),
        pet_smoothed=mni_path("pet", "pet", space=mni.SPACE, desc="smoothed"),
        synthetic=mni_path("pet", "pet", space=mni.SPACE, desc="synthetic"),
        # SUVR (evaluation.suvr_reference) in the same job: a job of its own paid a process and imports
        suvr_synthetic=mni_path("pet", "pet", space=mni.SPACE, desc="syntheticSUVR"),
        suvr_pet=mni_path("pet", "pet", space=mni.SPACE, desc="trueSUVR"),
    log:
        scan_log("mni_pet", "pet"),
    benchmark:
        scan_benchmark("mni_pet", "pet")
    conda:
        "../../envs/synthpet.yaml"
    threads: ANTS_THREADS
    resources:
        mem_mb=memory_mb(1500, 20),
        runtime=minutes(5),
    params:
        voxel_mm=MNI_VOXEL,
        fwhm_mm=EVAL["smoothing_fwhm_mm"],
        suvr_reference=EVAL["suvr_reference"],
    script:
        "../scripts/mni_pet.py"


# where each scan's synthetic PET is expected to be wrong: the other folds' held-out errors
EXPECTED_ERROR = mni_path("pet", "pet", space=mni.SPACE, desc="expectederror")
PREDICTION_QC = (
    f"{OUT}/qc/prediction/{paths.scan_id('{subject}', SESSION)}_desc-prediction_qc.png"
)

# the maps, and each scan's prediction QC figure drawn beside its map: one process for all scans
# (a job per figure paid more for its start and imports than for the drawing)
