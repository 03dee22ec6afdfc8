"""Benchmark: how fast Snakemake plans the DAG (dry runs) and finds nothing to do after a run.

    python tests/benchmarks/bench_dag.py [--repeats 3] [--done-workdir DIR]

Dry runs of the demo config (16 scans, the baseline) and the full-scale synthetic config (204
scans, 5 folds) from an empty working directory; with --done-workdir (a folder where the demo has
completed, e.g. the repository after `make demo`), a no-op run there. Medians of the repeats.
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


if __name__ == "__main__":
    main()
