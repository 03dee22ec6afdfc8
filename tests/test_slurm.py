"""The workflow submitted through profiles/slurm to a real single-node SLURM cluster.

Where SLURM cannot be installed or started (not root, no apt-get), the tests are skipped and the
reason is printed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, SNAKEMAKE, parsed_rules, planned_jobs, small_run_command
from slurm_cluster import Cluster, Unavailable, install

# the scan whose per-scan chain goes through the cluster, and the fold whose genotype fit and training do
SCAN, FOLD = "sub-001", 0
# fast polling for a test; the profile keeps the plugin's defaults for real clusters
FAST_POLLING = ["--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1"]
# the test node has 2 CPUs: group jobs must not ask for more (the profile's SITE setting `cores`)
NODE = ["--cores", "2"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        install()
        running = Cluster(tmp_path_factory.mktemp("slurm")).start()
    except Unavailable as reason:
        print(f"SLURM tests skipped: {reason}")
        pytest.skip(str(reason))
    yield running
    running.stop()


def run(workdir: Path, env: dict, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    return subprocess.run(small_run_command(workdir, *args), capture_output=True, text=True, env=env, timeout=timeout)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.cluster
def test_training_through_slurm_matches_a_local_run(cluster, small_run, tmp_path):
    """The small cohort's local run, copied into a second working directory where one scan's
    preprocessing (one group job), fold 0's genotype fit and fold 0's training are deleted and then
    made again through SLURM: their bytes (and weights) must be the local run's."""
    shutil.copytree(small_run, tmp_path / "slurm", symlinks=True)  # outputs keep their times
    local_out, slurm_out = small_run / "results", tmp_path / "slurm" / "results"
    redone = [
        *sorted((slurm_out / "preproc" / SCAN).rglob("*.nii.gz")),
        *sorted((slurm_out / "folds" / f"fold-{FOLD}").rglob("*")),
        *sorted((slurm_out / "models" / f"fold-{FOLD}").iterdir()),
    ]
    kept = {path: path.stat().st_mtime_ns for path in (slurm_out / "models" / f"fold-{1 - FOLD}").iterdir()}
    for path in redone:
        if path.is_file():
            path.unlink()
    # the training rule asks SLURM for a GPU (the cluster's fake one): it must be scheduled and see it
    through_slurm = run(
        tmp_path / "slurm",
        cluster.env,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        *FAST_POLLING,
        *NODE,
        "--set-resources",
        "train_fold:gpu=1",
        "--slurm-keep-successful-logs",
        "--",
        f"results/models/fold-{FOLD}/summary.json",
    )
    assert through_slurm.returncode == 0, through_slurm.stderr[-5000:]
    # three cluster jobs, each with its SLURM log: the scan's group, the genotype fit, the training
    logs = tmp_path / "slurm" / ".snakemake" / "slurm_logs"
    submitted = sorted(p.relative_to(logs).parts[0] for p in logs.rglob("*.log"))
    assert len(submitted) == 3, submitted
    assert {"rule_genotype_correction", "rule_train_fold"} <= set(submitted) and any(
        name.startswith("group_") for name in submitted
    ), submitted
    assert planned_jobs(through_slurm)["ingest_t1w"] == 1  # one scan's chain, not the cohort's

    summary = json.loads((slurm_out / "models" / f"fold-{FOLD}" / "summary.json").read_text())
    assert summary["facts"]["cuda_visible_devices"] == "0"  # SLURM gave the job its (fake) GPU
    remade = [path for path in redone if path.suffix == ".gz" or path.name.endswith(".npz")]
    assert len([p for p in remade if p.is_relative_to(slurm_out / "folds")]) == 6 + 1  # 6 corrected PETs, the model
    for path in remade:
        assert digest(path) == digest(local_out / path.relative_to(slurm_out)), path.name
    weights = [
        torch.load(out / "models" / f"fold-{FOLD}" / "model.pt", weights_only=True) for out in (slurm_out, local_out)
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert {path: path.stat().st_mtime_ns for path in kept} == kept  # the other fold was left alone


def test_the_profile_groups_every_per_scan_rule(tmp_path):
    """A per-scan rule outside the profile's groups becomes one SLURM job per scan (thousands on a
    paper-sized cohort, each paying a Snakemake start): every rule with a subject wildcard is grouped."""
    import yaml

    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    grouped = {entry.split("=")[0] for entry in profile["groups"]}
    rules = parsed_rules(tmp_path, {})
    # a local rule (the participant's page) runs in Snakemake's own process, never as a SLURM job
    local = rules[0].workflow._localrules
    per_scan = {rule.name for rule in rules if "subject" in rule.wildcard_names and rule.name not in local}
    assert per_scan and per_scan <= grouped, sorted(per_scan - grouped)


@pytest.mark.cluster
def test_a_failing_job_is_reported_as_failed(cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule fails:\n    output: "never.txt"\n    shell: "echo about to fail >&2; exit 3"\n'
    )
    start = time.monotonic()
    done = subprocess.run(
        [
            SNAKEMAKE,
            "-s",
            str(tmp_path / "Snakefile"),
            "-d",
            str(tmp_path),
            "--profile",
            str(REPO / "profiles" / "slurm"),
            *FAST_POLLING,
            "--retries",
            "0",
        ],
        capture_output=True,
        text=True,
        env=cluster.env,
        timeout=600,
    )
    assert done.returncode != 0
    # the job ran on the cluster and failed there (not a failed submission)
    assert "SLURM status is: 'FAILED'" in done.stdout + done.stderr, done.stderr[-3000:]
    job_logs = list((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert any("about to fail" in log.read_text() for log in job_logs)
    assert not (tmp_path / "never.txt").exists()
    print(f"failed SLURM job reported in {time.monotonic() - start:.0f} s")
