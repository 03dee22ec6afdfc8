"""Benchmark: how well the model grid puts the same anatomy in the same voxel, per grid frame.

    python tests/benchmarks/bench_grid_frame.py RESULTS_DIR [--config config/config.yaml]

RESULTS_DIR is a workflow output folder after preprocessing (e.g. ``results`` after the demo). For
every frame of ``preprocess.grid_frame`` (rigid, affine, scanner) each scan's brain-extracted T1w
is put on the model grid from the workflow's own brain mask and template transform, and printed:

- between sessions: the correlation of grid T1w images of one participant's sessions (same
  anatomy, other head pose): 1 when the grid follows the head exactly;
- between participants: the mean correlation of every pair of participants' grid images, and the
  mean voxelwise SD across scans inside the union of the masks (how much the same grid voxel
  varies across people: lower is closer voxel correspondence, which the voxelwise genotype fit
  and the model rely on);
- the share of the brain that the grid holds (the smallest over scans).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from synthpet.io.config import load_config
from synthpet.preprocess import model_grid, steps
from synthpet.preprocess.registration import load_matrix
from synthpet.preprocess.settings import GridSettings

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    args = parser.parse_args()
    settings = load_config(args.config)["preprocess"]
    scans = pd.read_csv(args.results / "cohort" / "scans.tsv", sep="\t", dtype=str)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for frame in ("rigid", "affine", "scanner"):
            images, masks, fits = {}, {}, []
            for row in scans.itertuples():
                anat = args.results / "preproc" / f"sub-{row.subject}" / f"ses-{row.session}" / "anat"
                xfm = anat / f"{row.scan}_from-T1w_to-MNI152NLin6Asym_mode-image_xfm.txt"
                mask = anat / f"{row.scan}_desc-brain_mask.nii.gz"
                grid, grid_mask = steps.grid_t1w(
                    anat / f"{row.scan}_desc-brain_T1w.nii.gz",
                    mask,
                    xfm,
                    f"{tmp}/t1.nii.gz",
                    f"{tmp}/mask.nii.gz",
                    GridSettings.from_config(settings | {"grid_frame": frame}),
                    row.scan,
                )
                images[row.scan], masks[row.scan] = grid.get_fdata().ravel(), grid_mask.ravel()
                affine = model_grid.grid_affine(
                    nib.load(mask), settings["grid_shape"], settings["grid_voxel_mm"], load_matrix(xfm), frame
                )
                fits.append(model_grid.brain_fits(nib.load(mask), affine, settings["grid_shape"]))
            by_subject = scans.groupby("subject")["scan"].apply(sorted)
            sessions = [
                np.corrcoef(images[a], images[b])[0, 1]
                for group in by_subject
                for a, b in itertools.combinations(group, 2)
            ]
            firsts = [group[0] for group in by_subject]
            people = [np.corrcoef(images[a], images[b])[0, 1] for a, b in itertools.combinations(firsts, 2)]
            stack = np.stack([images[s] for s in firsts])
            union = np.any(np.stack([masks[s] for s in firsts]), axis=0)
            rows.append(
                {
                    "frame": frame,
                    "between_sessions_r_median": np.median(sessions),
                    "between_sessions_r_min": np.min(sessions),
                    "between_participants_r_mean": np.mean(people),
                    "voxel_sd_across_participants": stack[:, union].std(axis=0).mean(),
                    "brain_in_grid_min": np.min(fits),
                }
            )
    print(
        f"{len(scans)} scans, {scans['subject'].nunique()} participants, grid {settings['grid_shape']} "
        f"at {settings['grid_voxel_mm']} mm"
    )
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
