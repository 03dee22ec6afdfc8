"""Benchmark: MNI registration (antspyx, affine then SyN) per scan, at 1 mm and at 2 mm.

    python tests/benchmarks/bench_mni.py PHANTOM_ROOT [--scans N]

PHANTOM_ROOT is a synthetic dataset with ground truth (e.g. `synthpet phantom` with 1 mm T1w).
Each scan's T1w is skull-stripped with its true brain mask (so only the registration is timed),
then registered to the MNI152NLin6Asym template at 1 mm (what a 1 mm study pays) and, as the
baseline in the same run, at 2 mm (the workflow's default output grid), with one ITK thread (the
workflow's setting, for bit-reproducible results) and with two. Quality: Dice of the warped true
brain mask with the template's brain mask. The synthetic cohort's anatomy is the MNI152 2009
template, not this one, so the figure is not circular. Medians over scans are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from synthpet.io.bids import discover
from synthpet.io.config import validate_config
from synthpet.io.imageio import save_nifti, to_canonical
from synthpet.preprocess.brain_extraction import TEMPLATE_SPACE as SPACE
from synthpet.preprocess.brain_extraction import dice, extract_ants
from synthpet.preprocess.ingest import ingest_t1w
from synthpet.preprocess.registration import save_matrix
from synthpet.validation.phantom import truth_path


def register_once(brain: Path, mask: Path, voxel_mm: int, work: Path, threads: int) -> tuple[float, float]:
    """One registration in a fresh process: ITK reads its thread count once, when it loads."""
    code = (
        "import sys, json; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import bench_mni; "
        "print(json.dumps(bench_mni.timed_registration(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), "
        "Path(sys.argv[5]))))"
    )
    env = {**os.environ, "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(brain), str(mask), str(voxel_mm), str(work)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    seconds, overlap = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, overlap


def timed_registration(brain: Path, mask: Path, voxel_mm: int, work: Path) -> tuple[float, float]:
    import ants  # noqa: F401 (import outside the timing)

    from synthpet.evaluate import mni

    start = time.perf_counter()
    mni.register(
        brain, voxel_mm, work / "warp.nii.gz", work / "affine.mat", work / "t1w.nii.gz", 42, 0, work / "start.txt"
    )
    seconds = time.perf_counter() - start
    warped = mni.to_mni(mask, work / "warp.nii.gz", work / "affine.mat", voxel_mm)
    _, template_mask = mni.template(voxel_mm)
    return seconds, dice(np.asarray(warped.dataobj) > 0.5, template_mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--scans", type=int, default=3)
    parser.add_argument("--templates", type=int, nargs="+", default=[1, 2], help="template voxel sizes (mm)")
    args = parser.parse_args()
    scans = discover(args.root, validate_config({})["input"]).scans[: args.scans]
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for scan in scans:
            ingest_t1w(scan.t1w, work / "t1.nii.gz")
            t1 = nib.load(work / "t1.nii.gz")
            mask_img = nib.load(truth_path(args.root, scan.subject, scan.session, "mask"))
            mask, _ = to_canonical(np.asarray(mask_img.dataobj) > 0, mask_img)  # onto the ingested T1w's grid
            save_nifti(t1.get_fdata(dtype=np.float32) * mask, t1.affine, work / "brain.nii.gz")
            save_nifti(mask.astype(np.float32), t1.affine, work / "mask.nii.gz")
            # the workflow starts the registration from brain extraction's affine (untimed here)
            _, to_template = extract_ants(work / "t1.nii.gz", "Affine", 3.0)
            save_matrix(to_template, work / "start.txt", "T1w", SPACE)
            voxel = float(abs(t1.affine[0, 0]))
            for voxel_mm, threads in [(v, t) for v, t in ((1, 1), (1, 2), (2, 1)) if v in args.templates]:
                seconds, overlap = register_once(work / "brain.nii.gz", work / "mask.nii.gz", voxel_mm, work, threads)
                results.setdefault(f"{voxel_mm} mm template, {threads} thread(s)", []).append((seconds, overlap))
                print(
                    f"{scan.id} (T1w {voxel:g} mm) -> {voxel_mm} mm, {threads} thread(s): {seconds:.1f} s, "
                    f"Dice {overlap:.3f}",
                    flush=True,
                )
    print(f"\nmedians over {len(scans)} scans")
    for label, values in results.items():
        print(
            f"{label}: {statistics.median(v[0] for v in values):.1f} s, "
            f"Dice {statistics.median(v[1] for v in values):.3f}"
        )


if __name__ == "__main__":
    main()
