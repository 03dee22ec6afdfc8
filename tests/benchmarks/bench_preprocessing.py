"""Benchmark: preprocessing accuracy and time per scan on a synthetic cohort with ground truth.

    python tests/benchmarks/bench_preprocessing.py PHANTOM_ROOT [--scans N]

PHANTOM_ROOT is a dataset written by the workflow or by `synthpet phantom` (e.g. from
config/phantom-paper.yaml: 1 mm T1w, 2 mm PET). For the first N scans it times each step and
measures, in the same run, the project's settings against baselines:
- coregistration: the 2 mm working grid (the default) vs the full-resolution T1w, and the error
  with no registration at all;
- brain extraction: template SyN (the default) vs affine only;
- the model grid (the default 96^3 at 2 mm), normalized T1w and PET.
Medians over scans are printed; every figure comes from this run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from synthpet.io.bids import discover
from synthpet.io.config import validate_config
from synthpet.io.imageio import save_nifti
from synthpet.preprocess import brain_extraction, registration
from synthpet.preprocess.geometry import mask_points
from synthpet.preprocess.ingest import ingest_pet, ingest_t1w
from synthpet.preprocess.settings import GridSettings, PetScale
from synthpet.preprocess.steps import to_model_grid
from synthpet.validation.phantom import truth_path


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--scans", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", str(os.cpu_count()))

    defaults = validate_config({})
    scans = discover(args.root, defaults["input"]).scans[: args.scans]
    grid_settings, scale = (
        GridSettings.from_config(defaults["preprocess"]),
        PetScale.from_config(defaults["preprocess"]),
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scan in scans:
            t1, suv = Path(tmp) / f"{scan.id}_T1w.nii.gz", Path(tmp) / f"{scan.id}_suv.nii.gz"
            _, t_ingest_t1 = timed(ingest_t1w, scan.t1w, t1)
            _, t_ingest_pet = timed(ingest_pet, scan.pet, scan.pet_sidecars, (60, 90), suv)
            truth = json.loads((args.root / truth_path("", scan.subject, scan.session, "json")).read_text())
            truth_mask_img = nib.load(args.root / truth_path("", scan.subject, scan.session, "mask"))
            truth_mask = np.asarray(truth_mask_img.dataobj) > 0
            points = mask_points(truth_mask_img)
            true_matrix = np.array(truth["t1w_to_pet_world"])

            def error(matrix, points=points, true_matrix=true_matrix):
                return float(registration.displacement_mm(matrix, true_matrix, points).mean())

            coarse, t_coarse = timed(registration.coregister_ants, t1, suv, work_voxel_mm=2.0)
            full, t_full = timed(registration.coregister_ants, t1, suv, work_voxel_mm=0)
            (syn, to_template), t_syn = timed(brain_extraction.extract_ants, t1, "SyN", 2.0)
            (affine, _), t_affine = timed(brain_extraction.extract_ants, t1, "Affine", 2.0)
            # the model grid (default 96^3 at 2 mm) from the SyN mask and the 2 mm-grid coregistration
            t1_img = nib.load(t1)
            brain, mask, pet_t1 = (Path(tmp) / f"{scan.id}_{name}.nii.gz" for name in ("brain", "mask", "pet_t1"))
            save_nifti(np.asarray(t1_img.dataobj, np.float32) * syn, t1_img.affine, brain)
            save_nifti(syn, t1_img.affine, mask, dtype=np.uint8)
            pet_in_t1 = registration.pet_in_t1_space(nib.load(suv), t1_img, coarse)
            save_nifti(np.asarray(pet_in_t1.dataobj, np.float32) * syn, t1_img.affine, pet_t1)
            outputs = [Path(tmp) / f"{scan.id}_grid_{name}.nii.gz" for name in ("t1w", "pet", "mask")]
            xfm = Path(tmp) / f"{scan.id}_xfm.txt"
            registration.save_matrix(to_template, xfm, "T1w", brain_extraction.TEMPLATE_SPACE)
            _, t_grid = timed(to_model_grid, brain, mask, xfm, pet_t1, *outputs, grid_settings, scale, scan.id)
            row = {
                "scan": scan.id,
                "ingest_t1w_s": t_ingest_t1,
                "ingest_pet_s": t_ingest_pet,
                "coreg_2mm_s": t_coarse,
                "coreg_full_s": t_full,
                "coreg_2mm_err_mm": error(coarse),
                "coreg_full_err_mm": error(full),
                "no_registration_err_mm": error(np.eye(4)),
                "mask_syn_s": t_syn,
                "mask_affine_s": t_affine,
                "model_grid_s": t_grid,
                "dice_syn": brain_extraction.dice(syn, truth_mask),
                "dice_affine": brain_extraction.dice(affine, truth_mask),
            }
            rows.append(row)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)

    voxel = abs(nib.load(scans[0].t1w).affine[0, 0])
    print(f"\nmedians over {len(rows)} scans (T1w voxel {voxel:g} mm, {os.cpu_count()} cores):")
    for key in rows[0]:
        if key != "scan":
            values = [r[key] for r in rows]
            worst = min(values) if "dice" in key else max(values)
            print(f"  {key:24s} median {statistics.median(values):8.3f}   worst {worst:8.3f}")


if __name__ == "__main__":
    main()
