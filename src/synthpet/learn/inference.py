"""Inference: synthetic PET on the model grid, and back in the scan's native T1w space.

Within the workflow every scan is predicted by the one fold model that never saw it. New scans
(``synthpet predict``) are in ``synthpet.predict``.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import torch

from synthpet.io.imageio import save_nifti
from synthpet.learn.model import ModelConfig
from synthpet.learn.training import load_model, resolve_device
from synthpet.preprocess.model_grid import from_grid


def predict_volume(model: torch.nn.Module, t1_grid: np.ndarray, mask: np.ndarray, device: torch.device) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(np.asarray(t1_grid, np.float32))[None, None].to(device)
        return model(x)[0, 0].float().cpu().numpy() * (np.asarray(mask) > 0)


def predict_held_out(
    weights: str,
    model_config: dict,
    scans: list[dict[str, str]],
    device: str = "auto",
) -> None:
    """Synthetic PET of a fold's held-out scans with its model, loaded once: for each scan (a dict of
    paths: ``t1w`` and ``mask`` on the grid, ``native`` its T1w), ``out_grid`` on the grid and
    ``out_native`` in the native T1w space."""
    target = resolve_device(device)
    model = load_model(weights, ModelConfig.from_dict(model_config), target)
    for scan in scans:
        grid_img = nib.load(scan["t1w"])
        volume = grid_img.get_fdata(dtype=np.float32)
        prediction = predict_volume(model, volume, nib.load(scan["mask"]).dataobj, target)
        save_nifti(prediction, grid_img.affine, scan["out_grid"])
        native = from_grid(prediction, grid_img.affine, nib.load(scan["native"]))
        save_nifti(np.asarray(native.dataobj), native.affine, scan["out_native"])
