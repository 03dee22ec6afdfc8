"""Benchmark: what a job pays to import antspyx, whole (`import ants`) and lean (`synthpet.preprocess.antspy`).

    python tests/benchmarks/bench_imports.py [--repeats 7]

Each import runs in a fresh interpreter (as a Snakemake job's script does), alternating the two,
and the medians are printed with an empty interpreter's start as the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "python start (baseline)": "pass",
    "import ants": "import ants",
    "from synthpet.preprocess.antspy import ants": "from synthpet.preprocess.antspy import ants",
}


def seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    for code in CASES.values():  # warm the file cache
        seconds(code)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, code in CASES.items():
            times[name].append(seconds(code))
    print(f"medians of {args.repeats} fresh interpreters, alternated:")
    for name, values in times.items():
        print(f"  {name:36s} {statistics.median(values):6.2f} s")


if __name__ == "__main__":
    main()
