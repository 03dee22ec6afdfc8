"""Benchmark: the smoothness ratio behind `synthpet predict`'s PET check (synthpet.io.contrast), on
T1w templates, noisy and blurred copies of them, and a synthetic PET, and the time it takes.

    python tests/benchmarks/bench_contrast.py PHANTOM_ROOT [--scan sub-003/ses-01]

PHANTOM_ROOT is a synthetic BIDS dataset (e.g. results/phantom after `make demo`). The templates
come with nimare (MNI152NLin6Asym with skull) and nilearn (MNI152 2009, skull-stripped). An image
is refused as a PET above synthpet.io.contrast.PET_LIKE_SMOOTHNESS.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from nilearn import datasets
from nilearn.image import resample_img, smooth_img

from synthpet.io.contrast import PET_LIKE_SMOOTHNESS, contrast_problems, smoothness


def ratio(img: nib.Nifti1Image, data: np.ndarray | None = None) -> float:
    data = img.get_fdata() if data is None else data
    return smoothness(data.reshape(*data.shape[:3], -1).mean(axis=3), nib.affines.voxel_sizes(img.affine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phantom_root", type=Path)
    parser.add_argument("--scan", default="sub-003/ses-01")
    args = parser.parse_args()
    templates = Path(importlib.util.find_spec("nimare").origin).parent / "resources" / "templates"
    head1, head2 = (nib.load(templates / f"tpl-MNI152NLin6Asym_res-0{r}_T1w.nii.gz") for r in (1, 2))
    rng = np.random.default_rng(1)
    data2 = head2.get_fdata()
    folder = args.phantom_root / args.scan
    t1w = nib.load(next((folder / "anat").glob("*_T1w.nii.gz")))
    pet = nib.load(next((folder / "pet").glob("*_pet.nii.gz")))
    uptake = pet.get_fdata().reshape(*pet.shape[:3], -1).mean(axis=3)
    noisy = uptake * (1 + 0.2 * rng.standard_normal(uptake.shape))
    rows = {
        "MNI152NLin6Asym T1 with skull, 1 mm": ratio(head1),
        "MNI152NLin6Asym T1 with skull, 2 mm": ratio(head2),
        "MNI152 2009 T1 skull-stripped, 1 mm": ratio(datasets.load_mni152_template(resolution=1)),
        "MNI152 2009 T1 skull-stripped, 2 mm": ratio(datasets.load_mni152_template(resolution=2)),
        "2 mm template, 50 % multiplicative noise": ratio(head2, data2 * (1 + 0.5 * rng.standard_normal(data2.shape))),
        "2 mm template, 20 % additive noise": ratio(
            head2, data2 + 0.2 * data2[data2 > 0].std() * rng.standard_normal(data2.shape)
        ),
        **{f"1 mm template blurred by {f} mm FWHM": ratio(smooth_img(head1, f)) for f in (5, 6, 8)},
        f"phantom T1w ({args.scan})": ratio(t1w),
        **{
            f"phantom PET, {k:.0%} voxel noise": ratio(pet, uptake * (1 + k * rng.standard_normal(uptake.shape)))
            for k in (0.0, 0.2, 0.5)
        },
        "phantom PET on its T1w grid": ratio(
            resample_img(
                nib.Nifti1Image(uptake, pet.affine),
                target_affine=t1w.affine,
                target_shape=t1w.shape,
                interpolation="continuous",
                force_resample=True,
                copy_header=True,
            )
        ),
        "phantom PET, 20 % noise, at 1.22 mm": ratio(
            resample_img(
                nib.Nifti1Image(noisy, pet.affine),
                target_affine=np.diag([1.22, 1.22, 1.22, 1]),
                interpolation="continuous",
                force_resample=True,
                copy_header=True,
            )
        ),
    }
    print(f"smoothness ratio (refused as a PET above {PET_LIKE_SMOOTHNESS})")
    for name, value in rows.items():
        print(f"  {name:45s} {value:.3f}{'  refused' if value > PET_LIKE_SMOOTHNESS else ''}")
    for name, img in (("1 mm template", head1), ("2 mm template", head2)):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            contrast_problems(img, name)
            times.append(time.perf_counter() - started)
        print(f"contrast_problems on the {name}: median {np.median(times):.2f} s of 3, reading the file included")


if __name__ == "__main__":
    main()
