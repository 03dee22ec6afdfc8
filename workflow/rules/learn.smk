# Learning (synthpet.learn): the folds; per fold, the genotype regression fitted on the fold's
# training scans and applied to every scan; one training job per fold on its training scans; then
# every scan predicted by the one fold model that never saw it.


rule folds:
    output:
        folds=f"{OUT}/cohort/folds.tsv",
    log:
        f"{OUT}/logs/folds.log",
    benchmark:
        f"{OUT}/benchmarks/folds.tsv"
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=200,
        runtime=2,
    params:
        folds=FOLD_TABLE.to_dict(orient="list"),
    script:
        "../scripts/folds.py"


rule genotype_correction:
    input:
        folds=rules.folds.output.folds,
        pet=expand(rules.grid_pet.output.pet, zip, **SCAN_WILDCARDS),
        mask=expand(rules.model_grid.output.mask, zip, **SCAN_WILDCARDS),
    output:
        model=f"{OUT}/folds/fold-{{fold}}/genotype_model.npz",
        summary=f"{OUT}/folds/fold-{{fold}}/genotype_effect.json",
        pet=[
            f"{OUT}/folds/fold-{{fold}}/pet/{scan}_space-grid_desc-genocorr_pet.nii.gz"
            for scan in SCANS
        ],
    log:
        f"{OUT}/logs/genotype_correction/fold-{{fold}}.log",
    benchmark:
        f"{OUT}/benchmarks/genotype_correction/fold-{{fold}}.tsv"
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    resources:
        mem_mb=memory_mb(1000, 30),
        runtime=minutes(10),
    params:
        scans=list(SCANS),
        genotypes=[scan.genotype for scan in SCANS.values()],
        scope=config["genotype"]["scope"],
        method=config["genotype"]["method"],
    script:
        "../scripts/genotype_correction.py"


TRAIN = config["training"]
GPU = 1 if TRAIN["device"] == "cuda" else 0


rule train_fold:
    input:
        unpack(fold_volumes),
        folds=rules.folds.output.folds,
    output:
        weights=f"{OUT}/models/fold-{{fold}}/model.pt",
        losses=f"{OUT}/models/fold-{{fold}}/losses.tsv",
        plot=report(
            f"{OUT}/models/fold-{{fold}}/losses.png",
            caption="../report/losses.rst",
            category="training",
            labels={"fold": "{fold}"},
        ),
        summary=f"{OUT}/models/fold-{{fold}}/summary.json",
    log:
        f"{OUT}/logs/train_fold/fold-{{fold}}.log",
    benchmark:
        f"{OUT}/benchmarks/train_fold/fold-{{fold}}.tsv"
    priority: TRAINING_PATH
    conda:
        "../../envs/synthpet.yaml"
    threads: TRAIN["threads"]
    resources:
        gpu=GPU,
        mem_mb=memory_mb(2000, 3),
        runtime=lambda wildcards, attempt: (10 + TRAIN["epochs"] * len(SCANS) // 20)
        * attempt,
    params:
        scans=list(SCANS),
        # the thread count is the job's (snakemake.threads), not a training setting
        training={key: value for key, value in TRAIN.items() if key != "threads"},
        model=config["model"],
        preprocess=PREPROC,
        input_source=config["input"]["source"],
        seed=config["seed"],
        # not an output: it must survive a failed or killed job so that the next one resumes
        checkpoint=lambda wildcards: f"{OUT}/models/fold-{wildcards.fold}/checkpoint.pt",
    script:
        "../scripts/train_fold.py"


# one job per fold predicts its held-out scans (the model loaded once, one process: a job per scan
# paid two seconds of start and imports for a fifth of a second of work, and on a cluster a GPU job
# each); a rule per fold, since each writes its own scans. A retrained fold reruns only its own.
for fold in FOLDS:

    rule:
        name:
            f"predict_fold_{fold}"
        input:
            weights=rules.train_fold.output.weights.format(fold=fold),
            t1w=held_out(fold, rules.model_grid.output.t1w),
            mask=held_out(fold, rules.model_grid.output.mask),
            native=held_out(fold, rules.ingest_t1w.output.t1w),
        output:
            grid=held_out(fold, PREDICTION_GRID),
            native=held_out(fold, PREDICTION_T1W),
        log:
            f"{OUT}/logs/predict_fold_{fold}.log",
        benchmark:
            f"{OUT}/benchmarks/predict_fold_{fold}.tsv"
        conda:
            "../../envs/synthpet.yaml"
        resources:
            gpu=GPU,
            mem_mb=memory_mb(1500, 10),
            runtime=minutes(10),
        params:
            model=config["model"],
            device=TRAIN["device"],
        script:
            "../scripts/predict_fold.py"
