"""Inference: synthetic PET on the model grid, and back in the scan's native T1w space.

Within the workflow every scan is predicted by the one fold model that never saw it. For new data
(``synthpet predict``), all fold models are averaged and their voxelwise standard deviation is
written as an uncertainty map.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from synthpet.imageio import save_nifti
from synthpet.model import ModelConfig
from synthpet.model_grid import from_grid
from synthpet.training import load_model, resolve_device


def predict_volume(model: torch.nn.Module, t1_grid: np.ndarray, mask: np.ndarray, device: torch.device) -> np.ndarray:
    with torch.no_grad():
        x = torch.from_numpy(np.asarray(t1_grid, np.float32))[None, None].to(device)
        return model(x)[0, 0].float().cpu().numpy() * (np.asarray(mask) > 0)


def predict_scan(
    weights: str,
    model_config: dict,
    t1_grid: str,
    mask_grid: str,
    native_t1: str,
    out_grid: str,
    out_native: str,
    device: str = "auto",
) -> None:
    """Synthetic PET of one scan with one fold's model, on the grid and in native T1w space."""
    target = resolve_device(device)
    model = load_model(weights, ModelConfig.from_dict(model_config), target)
    grid_img = nib.load(t1_grid)
    prediction = predict_volume(model, grid_img.get_fdata(dtype=np.float32), nib.load(mask_grid).dataobj, target)
    save_nifti(prediction, grid_img.affine, out_grid)
    native = from_grid(prediction, grid_img.affine, nib.load(native_t1))
    save_nifti(np.asarray(native.dataobj), native.affine, out_native)


def predict_new(t1w: str | Path, model_dir: str | Path, out_dir: str | Path, device: str = "auto") -> dict[str, Path]:
    """A new T1w through the workflow's preprocessing and every fold model of ``model_dir``.

    Writes, in the T1w's own space: the mean synthetic PET (normalized SUV scale, [0, 1]) and its
    voxelwise standard deviation across folds, plus the brain mask. Returns their paths.
    """
    from synthpet import preprocess
    from synthpet.ingest import ingest_t1w

    summaries = sorted(Path(model_dir).glob("fold-*/summary.json"))
    if not summaries:
        raise FileNotFoundError(f"{model_dir}: no fold-*/summary.json; train the models with the workflow first")
    first = json.loads(summaries[0].read_text())
    settings, seed = first["preprocess"], first["settings"]["seed"]
    out_dir = Path(out_dir)
    name = Path(t1w).name.split(".")[0].removesuffix("_T1w")
    target = resolve_device(device)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ingest_t1w(t1w, work / "t1.nii.gz")
        preprocess.brain_mask(
            work / "t1.nii.gz",
            work / "mask.nii.gz",
            work / "brain.nii.gz",
            settings["backend"],
            settings,
            seed,
            name,
            str(out_dir / f"{name}_desc-brainmask_qc.png"),
        )
        grid, mask = preprocess.grid_t1w(
            work / "brain.nii.gz", work / "mask.nii.gz", work / "t1g.nii.gz", work / "maskg.nii.gz", settings, name
        )
        predictions = []
        for summary_path in summaries:
            summary = json.loads(summary_path.read_text())
            model = load_model(
                summary_path.parent / "model.pt", ModelConfig.from_dict(summary["settings"]["model"]), target
            )
            predictions.append(predict_volume(model, grid.get_fdata(dtype=np.float32), mask, target))
        stack = np.stack(predictions)
        native_t1 = nib.load(work / "t1.nii.gz")
        outputs = {
            "mean": out_dir / f"{name}_desc-synthetic_pet.nii.gz",
            "std": out_dir / f"{name}_desc-synthetic_stat-std_pet.nii.gz",
            "mask": out_dir / f"{name}_desc-brain_mask.nii.gz",
        }
        for key, volume in (("mean", stack.mean(axis=0)), ("std", stack.std(axis=0))):
            native = from_grid(volume, grid.affine, native_t1)
            save_nifti(np.asarray(native.dataobj), native.affine, outputs[key])
        save_nifti(
            np.asarray(nib.load(work / "mask.nii.gz").dataobj), native_t1.affine, outputs["mask"], dtype=np.uint8
        )
    return outputs
