"""The Snakemake workflow itself: dry runs, input errors at DAG build, and one real end-to-end run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import (
    REPO,
    SNAKEMAKE,
    STATIC_PET_SIDECAR,
    digests,
    parsed_rules,
    planned_jobs,
    small_run_command,
    snakemake,
    workflow_command,
)

# the paper's protocol (METHOD.md), as the settings line of a run prints it
PAPER_PROTOCOL = {
    "folds.n_folds": "5",
    "genotype.scope": "fold",
    "genotype.method": "brain",
    "training.epochs": "50",
    "training.batch_size": "2",
    "training.learning_rate": "0.0001",
    "training.lr_schedule": "constant",
    "training.augment": "none",
    "training.device": "auto",
    "preprocess.template_transform": "SyN",
    "preprocess.grid_shape": "96x96x96",
    "preprocess.grid_voxel_mm": "2",
    "preprocess.grid_frame": "affine",
    "model.channels": "32",
}


def settings_in_effect(text: str) -> dict[str, str]:
    line = re.search(r"settings in effect: (.*)", text).group(1)
    return dict(pair.split("=", 1) for pair in line.split())


def beside_the_demo_config(workdir: Path) -> Path:
    """A working directory that holds config/config.yaml, as a checkout does when a user runs from it."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "config.yaml", workdir / "config" / "config.yaml")
    return workdir


def test_full_scale_dry_run_plans_every_scan_with_the_papers_protocol(tmp_path):
    work = beside_the_demo_config(tmp_path)
    start = time.perf_counter()
    result = snakemake(work, "-n", configfile="config/phantom-paper.yaml")
    seconds = time.perf_counter() - start
    jobs = planned_jobs(result)
    for rule in ("phantom_scan", "ingest_pet", "ingest_t1w", "brain_mask", "coregister_pet", "model_grid"):
        assert jobs[rule] == 204, rule
    assert jobs["genotype_correction"] == 5 and jobs["train_fold"] == 5
    settings = settings_in_effect(result.stdout + result.stderr)
    assert settings == PAPER_PROTOCOL | {"input.source": "phantom"}
    print(f"dry run of the 204-scan DAG: {seconds:.1f} s")


def test_paper_config_on_a_users_dataset_runs_the_papers_protocol(tiny_bids, tmp_path):
    for i in range(15):  # 5 participants per group: enough for 5 stratified folds
        tiny_bids.scan(f"{i:02d}", group=("HC", "CLBP", "KOA")[i % 3], genotype=("HAB", "MAB")[(i // 3) % 2])
    tiny_bids.write_participants()
    local = tmp_path / "local.yaml"
    local.write_text(f"input: {{source: bids, bids_dir: {tiny_bids.root}}}\noutput_dir: {tmp_path / 'out'}\n")
    work = beside_the_demo_config(tmp_path / "work")
    # with paper.yaml, and with a file that names only the data: no demo setting may fill the gaps
    for configfiles in [("config/paper.yaml", str(local)), (str(local),)]:
        command = workflow_command(work, "-n", configfiles=configfiles)
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert planned_jobs(result)["train_fold"] == 5
        settings = settings_in_effect(result.stdout + result.stderr)
        assert settings == PAPER_PROTOCOL | {"input.source": "bids"}, configfiles

    # synthpet check validates exactly the config that would run
    checked = subprocess.run(
        [
            str(Path(sys.executable).with_name("synthpet")),
            "check",
            "--config",
            str(REPO / "config" / "paper.yaml"),
            "--config",
            str(local),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
    )
    assert checked.returncode == 0, checked.stderr
    assert settings_in_effect(checked.stdout) == settings
    from synthpet.io.config import load_config
    from synthpet.learn.model import ModelConfig, UNet3D, count_parameters

    model = load_config(REPO / "config" / "paper.yaml", overrides={"input": {"bids_dir": str(tiny_bids.root)}})["model"]
    assert count_parameters(UNet3D(ModelConfig.from_dict(model))) == 507_553


def test_derivative_names_keep_the_input_images_entities(tiny_bids, tmp_path):
    """sub-00's T1w is acq-mprage and its PET rec-acdyn_run-1; the others have none beyond trc-:
    each derivative keeps its own source's entities (a T1w's never land on a PET's name, nor back)."""
    for i in range(6):
        label = f"{i:02d}"
        tiny_bids.participant(label, group=("HC", "CLBP", "KOA")[i % 3], genotype=("HAB", "MAB")[i // 3])
        tiny_bids.t1w(label, extra="_acq-mprage" if i == 0 else "")
        tiny_bids.pet(label, sidecar=STATIC_PET_SIDECAR, extra="_rec-acdyn_run-1" if i == 0 else "")
    tiny_bids.write_participants()
    config = tmp_path / "local.yaml"
    config.write_text(
        f"input: {{source: bids, bids_dir: {tiny_bids.root}}}\noutput_dir: {tmp_path / 'out'}\nfolds: {{n_folds: 2}}\n"
    )
    result = subprocess.run(
        workflow_command(tmp_path / "work", "-n", configfiles=(str(config),)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    paths = set(re.findall(r"([^\s,;]+/(?:preproc|mni|predictions)/sub-[^\s,;]+)", result.stdout))
    planned = {Path(path).name for path in paths}
    named = {name for name in planned if name.startswith("sub-00_")}
    expected = {
        "sub-00_acq-mprage_desc-ingested_T1w.nii.gz",
        "sub-00_acq-mprage_space-grid_desc-brain_mask.nii.gz",
        "sub-00_acq-mprage_from-T1w_to-MNI152NLin6Asym_desc-warp_xfm.nii.gz",
        "sub-00_trc-PBR28_rec-acdyn_run-1_desc-suv_pet.nii.gz",
        "sub-00_trc-PBR28_rec-acdyn_run-1_space-grid_desc-norm_pet.nii.gz",
        "sub-00_trc-PBR28_rec-acdyn_run-1_space-T1w_desc-synthetic_pet.nii.gz",
        "sub-00_trc-PBR28_rec-acdyn_run-1_space-MNI152NLin6Asym_desc-syntheticSUVR_pet.nii.gz",
    }
    assert expected <= named, sorted(named)
    # every derivative of sub-00 carries its own source's entities: the T1w's in anat/, the PET's in pet/
    own = {"anat": "sub-00_acq-mprage_", "pet": "sub-00_trc-PBR28_rec-acdyn_run-1_"}
    sub00 = [Path(p) for p in paths if Path(p).name.startswith("sub-00_") and Path(p).parent.name in own]
    assert len(sub00) >= 20 and all(path.name.startswith(own[path.parent.name]) for path in sub00), sorted(sub00)
    assert "sub-01_trc-PBR28_space-grid_desc-norm_pet.nii.gz" in planned
    assert "sub-01_space-grid_desc-norm_T1w.nii.gz" in planned


def test_without_a_config_file_the_demo_runs(tmp_path):
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    settings = settings_in_effect(result.stdout + result.stderr)
    assert settings["folds.n_folds"] == "3" and settings["training.epochs"] == "60"
    assert planned_jobs(result)["train_fold"] == 3


# the validation harness's rules, and the report and the default target, which show and ask for both
HARNESS_RULES = {
    *re.findall(r"^rule (\w+):", (REPO / "workflow" / "rules" / "validation.smk").read_text(), re.M),
    "report_tables",
    "all",
}
# what only the harness knows: the truth, and what it makes of it
HARNESS_FILES = re.compile(r"/groundtruth/|desc-noisefree|desc-anatomical|/validation/")


def test_the_methods_jobs_never_read_the_harness(tmp_path):
    """On the synthetic cohort, the harness reads the method's outputs and scores them against the
    truth; no job of the method reads the truth or what the harness makes of it. (The per-scan
    measures, Table 4 and the sidecars once read the noise-free PET through hooks of common.smk.)"""
    result = subprocess.run(
        [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = re.findall(r"^rule (\w+):\n    input: (.*)$", result.stdout + result.stderr, re.M)
    assert {rule for rule, _ in jobs} >= {"scan_measures", "evaluation_tables", "ground_truth_tables"}
    leaks = {
        rule: sorted(path for path in inputs.split(", ") if HARNESS_FILES.search(path))[:3]
        for rule, inputs in jobs
        if rule not in HARNESS_RULES
    }
    assert not {rule: paths for rule, paths in leaks.items() if paths}
    # and the harness reads the method's outputs (its tables, its MNI images), not a copy of its own
    (truth_tables,) = [inputs for rule, inputs in jobs if rule == "ground_truth_tables"]
    assert "results/evaluation/scan_metrics.tsv" in truth_tables and "desc-synthetic_pet" in truth_tables


def test_unknown_config_key_stops_before_any_job(tmp_path):
    result = snakemake(tmp_path, "-n", "--config", "sede=1", check=False)
    assert result.returncode != 0
    assert "unknown config key 'sede'" in result.stdout + result.stderr


def test_bad_dataset_is_reported_before_any_job(tiny_bids, tmp_path):
    tiny_bids.scan("01").participant("02").write_participants()
    tiny_bids.t1w("02")
    tiny_bids.pet("03", sidecar=STATIC_PET_SIDECAR)
    result = snakemake(
        tmp_path / "run",
        "--cores",
        "1",
        "--config",
        f"input={{source: bids, bids_dir: {tiny_bids.root}}}",
        "output_dir=out",
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "sub-02: no PET image" in output
    assert "participant sub-03 is not in participants.tsv" in output
    assert not (tmp_path / "run" / "out").exists()


# what rule mni_pet writes for a scan (the expected-error maps and the harness's images need every fold)
MNI_PET = ("true", "smoothed", "synthetic", "syntheticSUVR", "trueSUVR")


@pytest.mark.slow
def test_a_second_run_of_fold_0_gives_identical_weights_and_predictions(small_run_copy):
    """Same config and seed on the CPU: fold 0 from its genotype regression on, its model and its
    scans' predictions and MNI images, run again bit for bit; no other fold's file is touched.

    On the small cohort (2 epochs): the demo's 60 would cost a third of its training for the same check;
    the trainer's determinism over many epochs is test_training's (a killed and resumed run)."""
    work = small_run_copy
    out = work / "results"
    folds = pd.read_csv(out / "cohort" / "folds.tsv", sep="\t", dtype=str)
    own = list(folds.loc[folds["fold"] == "0", "scan"])
    mni = out / "mni"
    # what fold 0 owns: its corrected PETs, its model, and its held-out scans' predictions and MNI PET
    owned = [
        *sorted((out / "folds" / "fold-0").rglob("*.nii.gz")),
        *[p for scan in own for p in sorted((out / "predictions").rglob(f"{scan}_*.nii.gz"))],
        *[p for scan in own for desc in MNI_PET for p in sorted(mni.rglob(f"{scan}_*_desc-{desc}_pet.nii.gz"))],
    ]
    others = [*sorted((out / "folds" / "fold-1").rglob("*.nii.gz")), *sorted((out / "models" / "fold-1").iterdir())]
    # every scan's PET corrected by fold 0's genotype model; each own scan's 2 predictions and MNI PETs
    assert len(owned) == len(folds) + (2 + len(MNI_PET)) * len(own) and others
    before, untouched = digests(owned), {path: path.stat().st_mtime_ns for path in others}
    stamps = {path: path.stat().st_mtime_ns for path in owned}
    # torch.save writes a random serialization id into every file: weights are compared as tensors
    weights = torch.load(out / "models" / "fold-0" / "model.pt", weights_only=True)
    # a finished fold keeps no checkpoint, so a forced rerun trains from scratch rather than resuming
    assert not (out / "models" / "fold-0" / "checkpoint.pt").exists()
    targets = [str(path.relative_to(work)) for path in owned if path.is_relative_to(mni)]
    command = small_run_command(work, "--cores", "2", "--forcerun", "genotype_correction", "--", *targets)
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert rerun.returncode == 0, rerun.stderr[-5000:]
    ran = planned_jobs(rerun)
    assert ran["genotype_correction"] == 1 and ran["train_fold"] == 1 and ran["predict_fold_0"] == 1, ran
    assert not {"predict_fold_1", "predict_fold_2"} & set(ran), ran
    summary = json.loads((out / "models" / "fold-0" / "summary.json").read_text())
    assert summary["facts"]["resumed_from_epoch"] == 0  # it really retrained, every epoch
    rewritten = [path for path in owned if path.stat().st_mtime_ns != stamps[path]]
    assert rewritten == owned  # every watched file was written again ...
    changed = [str(p.relative_to(out)) for p, digest in digests(owned).items() if digest != before[p]]
    assert not changed, changed  # ... with the same bytes
    again = torch.load(out / "models" / "fold-0" / "model.pt", weights_only=True)
    assert all(torch.equal(weights[key], again[key]) for key in weights)
    assert {path: path.stat().st_mtime_ns for path in others} == untouched


def test_every_job_writes_a_log_and_a_benchmark(tmp_path):
    """README: every job writes a log to logs/<rule>/ and its time and memory to benchmarks/<rule>/.
    Checked on the rules as Snakemake parses them (grid_pet and 18 others had no benchmark)."""
    rules = [rule for rule in parsed_rules(tmp_path, {}) if rule.script]
    assert len(rules) > 25
    missing = {rule.name: [what for what in ("log", "benchmark") if not getattr(rule, what)] for rule in rules}
    assert not {name: what for name, what in missing.items() if what}
    for rule in rules:
        assert f"/benchmarks/{rule.name}" in str(rule.benchmark) and f"/logs/{rule.name}" in str(rule.log[0])


def test_memory_grows_with_the_inputs_and_waits_for_them(tmp_path):
    """Every rule that sizes its memory from its inputs (input_mb, Snakemake's input.size_mb without an
    event loop per call): more input, more memory, by the input's size in MiB; a missing input leaves it
    'to be determined' (Snakemake evaluates it again once the file exists), never a smaller number."""
    import inspect

    from snakemake.common.tbdstring import TBDString
    from snakemake.iocontainers import InputFiles

    def inputs(sizes_mib):
        files = []
        for n, size in enumerate(sizes_mib):
            path = tmp_path / f"{len(sizes_mib)}-{size}-{n}.bin"
            path.write_bytes(b"\0" * int(size * 1024**2))
            files.append(str(path))
        return InputFiles(files)

    small, large = inputs([1, 1]), inputs([10, 10])  # ingest asks for at least 500 MB
    rules = parsed_rules(tmp_path / "work", {})
    input_mb = rules[0].workflow.globals["input_mb"]
    assert input_mb(small) == 2 and input_mb(large) == 20  # MiB, as Snakemake's input.size_mb counts them
    sized = []
    for rule in rules:
        memory = rule.resources.get("mem_mb")
        if memory is None or not memory.is_evaluable():
            continue
        if "input" not in inspect.signature(inspect.unwrap(memory._evaluator)).parameters:
            continue
        sized.append(rule.name)
        mem = {
            name: memory.evaluate({}, input=files, attempt=1).value
            for name, files in (("small", small), ("large", large))
        }
        assert mem["large"] > mem["small"] > 0, (rule.name, mem)
        missing = InputFiles([str(tmp_path / "not-yet-written.nii.gz")])
        assert isinstance(memory.evaluate({}, input=missing, attempt=1).value, TBDString), rule.name
    assert {"brain_mask", "coregister_pet", "mni_register", "train_fold", "evaluation_tables"} <= set(sized)
