"""Benchmark: where a finished workflow run spent its time, per rule: each job's wall time against
the time its body took (what the job did, after its imports and Snakemake's own start-up).

    snakemake --cores 2 2> run.err            # the demo, or any run
    python tests/benchmarks/bench_demo_jobs.py run.err --out results

A job's wall time is read from Snakemake's log (its start and its "Finished jobid" line, one-second
stamps); its body from the "done in X s" line that ``synthpet.logs.job_log`` writes into the job's
own log under ``<out>/logs/<rule>``. The difference is the job's overhead: process start, imports,
Snakemake's script preamble.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
STARTED = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
BODY = re.compile(r"done in ([0-9.]+) s$")


def job_walls(snakemake_log: Path) -> tuple[dict[str, list[float]], float]:
    """Rule -> each job's wall seconds, and the run's total wall seconds (first to last stamp)."""
    stamp = first = None
    rule = None
    started: dict[str, tuple[str, datetime]] = {}
    walls: dict[str, list[float]] = defaultdict(list)
    for line in snakemake_log.read_text().splitlines():
        if match := STAMP.match(line):
            stamp = datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
            first = first or stamp
        elif match := STARTED.match(line):
            rule = match.group(1)
        elif (match := JOBID.match(line)) and rule:
            started[match.group(1)] = (rule, stamp)
            rule = None
        elif match := FINISHED.match(line):
            name, began = started.pop(match.group(1))
            walls[name].append((stamp - began).total_seconds())
    return walls, (stamp - first).total_seconds() if first else 0.0


def job_bodies(logs: Path) -> dict[str, list[float]]:
    """Rule -> each job's body seconds, from the jobs' own logs."""
    bodies: dict[str, list[float]] = defaultdict(list)
    for log in logs.rglob("*.log"):
        rule = log.parent.name if log.parent != logs else log.stem
        for line in reversed(log.read_text(errors="replace").splitlines()):
            if match := BODY.search(line):
                bodies[rule].append(float(match.group(1)))
                break
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snakemake_log", type=Path, help="Snakemake's console output (stderr) of the run")
    parser.add_argument("--out", type=Path, default=Path("results"), help="the run's output_dir")
    args = parser.parse_args()
    walls, total = job_walls(args.snakemake_log)
    bodies = job_bodies(args.out / "logs")
    rows = sorted(walls.items(), key=lambda item: -sum(item[1]))
    print(f"{'rule':24} {'jobs':>5} {'wall s':>8} {'body s':>8} {'overhead s':>10}")
    for rule, seconds in rows:
        body = sum(bodies.get(rule, []))
        print(f"{rule:24} {len(seconds):5d} {sum(seconds):8.0f} {body:8.0f} {sum(seconds) - body:10.0f}")
    wall = sum(sum(s) for s in walls.values())
    body = sum(sum(bodies.get(rule, [])) for rule in walls)
    jobs = sum(len(s) for s in walls.values())
    print(f"{'all':24} {jobs:5d} {wall:8.0f} {body:8.0f} {wall - body:10.0f}")
    print(
        f"run: {total:.0f} s from first to last stamp; overhead {100 * (wall - body) / max(wall, 1):.0f} % of job time"
    )


if __name__ == "__main__":
    main()
