"""Benchmark: how fast Snakemake plans the DAG (dry runs) and finds nothing to do after a run.

    python tests/benchmarks/bench_dag.py [--repeats 3] [--done-workdir DIR]

Dry runs of the demo config (16 scans, the baseline) and the full-scale synthetic config (204
scans, 5 folds) from an empty working directory; with --done-workdir (a folder where the demo has
completed, e.g. the repository after `make demo`), a no-op run there. Medians of the repeats.

The full-scale dry run's cost is split: Snakemake's start (its import and the run of a Snakefile
with one rule), Snakemake's DAG of as many jobs and input files with empty rules (the floor that
no change to synthpet's code can go under), synthpet.plan.plan_run on the same config (settings,
the planned cohort, folds), and the rest, Snakemake's parsing of the rules and its DAG. Discovery
of a BIDS dataset of the same size (204 scans of 8^3 images of 16 mm voxels, pybids) is timed
on its own, in this process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def timed_run(workdir: Path, configfile: str, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [
            SNAKEMAKE,
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "--configfile",
            str(REPO / configfile),
            "--cores",
            "2",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start, done.stdout + done.stderr


def timed(function, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def snakemake_start(repeats: int) -> float:
    """Snakemake's own start: a Snakefile of one rule, dry run."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Snakefile").write_text('rule one:\n    output: "x"\n    script: "x.py"\n')
        (Path(tmp) / "x.py").write_text("")  # a dry run reads the script's source
        command = [SNAKEMAKE, "-s", f"{tmp}/Snakefile", "-d", tmp, "-n", "--quiet"]
        return timed(lambda: subprocess.run(command, capture_output=True, check=True), repeats)


# the full-scale DAG's shape, measured from its dry run: 13 rules per scan, and jobs that gather
# every scan (5 trainings of 3 files per scan, 5 genotype fits of 2, and 8 files per scan read by
# the tables, the expected-error maps, the sidecars and the final target together)
FLOOR_SNAKEFILE = """
SCANS = [f"{i:03d}" for i in range(204)]
STEPS = 13

def step(k, name):
    return f"out/s{k}/sub-{{scan}}/{name}.nii.gz"

rule all:
    input:
        expand("out/fold-{fold}/model.pt", fold=range(5)),
        expand("out/gather-{g}.tsv", g=range(4)),

for k in range(STEPS):
    rule:
        name: f"step{k}"
        # each per-scan job reads 3 files of the jobs before it, as ours do on average
        input: [step(max(k - 1, 0), "a"), step(max(k - 1, 0), "b"), step(max(k - 2, 0), "a")] if k else []
        output: a=step(k, "a"), b=step(k, "b")
        log: f"logs/s{k}/{{scan}}.log"
        script: "x.py"

rule genotype:
    input: expand(step(4, "a"), scan=SCANS), expand(step(4, "b"), scan=SCANS)
    output: "out/genotype-{fold}.npz"
    script: "x.py"

rule train:
    input:
        rules.genotype.output,
        [expand(step(5, name), scan=SCANS) for name in "ab"],
        expand(step(6, "a"), scan=SCANS),
    output: "out/fold-{fold}/model.pt"
    script: "x.py"

rule gather:
    input: [expand(step(STEPS - 1 - j, name), scan=SCANS) for j in range(4) for name in "ab"]
    output: "out/gather-{g}.tsv"
    script: "x.py"
"""


def floor_seconds(repeats: int) -> tuple[float, str]:
    """A dry run of empty rules in the full-scale DAG's shape (FLOOR_SNAKEFILE): what Snakemake's DAG
    of this many jobs and files costs by itself, with no synthpet code in it."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Snakefile").write_text(FLOOR_SNAKEFILE)
        (Path(tmp) / "x.py").write_text("")
        command = [SNAKEMAKE, "-s", f"{tmp}/Snakefile", "-d", tmp, "-n", "--cores", "2"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        jobs = output.split("total", 1)[1].split()[0]
        return timed(lambda: subprocess.run(command, capture_output=True, check=True), repeats), jobs


def plan_seconds(configfile: str, repeats: int) -> float:
    from synthpet.io.config import load_config, load_schema
    from synthpet.plan import plan_run
    from synthpet.validation.phantom import DATASETS

    config = load_config(REPO / configfile)
    schema = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    return timed(lambda: plan_run(config, schema, DATASETS), repeats)


def discovery_seconds(scans: int, repeats: int) -> float:
    """synthpet.io.bids.discover on a generated dataset of ``scans`` participants (T1w and static PET)."""
    import json

    import nibabel as nib
    import numpy as np

    from synthpet.io.bids import discover
    from synthpet.io.config import validate_config

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "dataset_description.json").write_text(json.dumps({"Name": "bench", "BIDSVersion": "1.10.0"}))
        rows = ["participant_id\tgroup\tgenotype"]
        # 8^3 voxels of 16 mm: tiny files, and a field of view (128 mm) that discovery's check accepts
        image = nib.Nifti1Image(np.ones((8, 8, 8), np.float32), np.diag([16.0, 16.0, 16.0, 1.0]))
        for i in range(scans):
            label = f"{i:03d}"
            rows.append(f"sub-{label}\t{('HC', 'CLBP', 'KOA')[i % 3]}\t{('HAB', 'MAB')[i % 2]}")
            for datatype, name in (("anat", f"sub-{label}_T1w"), ("pet", f"sub-{label}_trc-PBR28_pet")):
                (root / f"sub-{label}" / datatype).mkdir(parents=True, exist_ok=True)
                nib.save(image, root / f"sub-{label}" / datatype / f"{name}.nii.gz")
            sidecar = {"Units": "g/mL", "TracerName": "PBR28", "TracerRadionuclide": "C11"}
            (root / f"sub-{label}" / "pet" / f"sub-{label}_trc-PBR28_pet.json").write_text(json.dumps(sidecar))
        (root / "participants.tsv").write_text("\n".join(rows) + "\n")
        config = validate_config({"input": {"source": "bids", "bids_dir": str(root)}})["input"]
        return timed(lambda: discover(root, config), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--done-workdir", type=Path)
    args = parser.parse_args()
    cases = [
        ("dry run, demo (16 scans)", "config/config.yaml", None, ("-n",)),
        ("dry run, full scale (204 scans, 5 folds)", "config/phantom-paper.yaml", None, ("-n",)),
    ]
    if args.done_workdir:
        cases.append(("no-op run after the demo completed", "config/config.yaml", args.done_workdir, ()))
    for label, configfile, workdir, extra in cases:
        seconds = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                elapsed, output = timed_run(workdir or Path(tmp), configfile, *extra)
            seconds.append(elapsed)
        jobs = output.split("total", 1)[1].split()[0] if "total" in output else "0"
        nothing = "Nothing to be done" in output
        print(
            f"{label}: median {statistics.median(seconds):.1f} s over {args.repeats} "
            f"({'nothing to do' if nothing else f'{jobs} jobs planned'})",
            flush=True,
        )
    print(f"  Snakemake's start (a one-rule Snakefile): {snakemake_start(args.repeats):.1f} s")
    floor, jobs = floor_seconds(args.repeats)
    print(f"  the same DAG shape of empty rules ({jobs} jobs, about 24,000 input files): {floor:.1f} s")
    planned = plan_seconds("config/phantom-paper.yaml", args.repeats)
    print(f"  plan_run on config/phantom-paper.yaml (in this process): {planned:.1f} s")
    print(f"  BIDS discovery of 204 scans (pybids, in this process): {discovery_seconds(204, args.repeats):.1f} s")


if __name__ == "__main__":
    main()
