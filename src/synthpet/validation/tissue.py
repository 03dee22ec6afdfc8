"""The synthetic cohort's anatomy: the MNI152 2009 template, brain mask and GM/WM probability maps
that nilearn bundles (nothing downloaded). The method registers to another template
(MNI152NLin6Asym), so its accuracy on the phantom is not measured against its own template."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


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
