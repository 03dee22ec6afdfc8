"""NIfTI and sidecar I/O: checked reads that name the file, and atomic writes.

Writes go to a temporary file beside the target and are renamed into place, so an interrupted
job never leaves a half-written output that looks complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from synthpet.errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the full suffix (".nii.gz") so that writers choose the right format from the name
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix="".join(path.suffixes), dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs should be readable like any file
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_nifti(
    data: np.ndarray,
    affine: np.ndarray,
    path: str | Path,
    dtype: Any = np.float32,
    header: nib.Nifti1Header | None = None,
) -> Path:
    """Save ``data`` atomically as NIfTI-1 with both qform and sform set to ``affine``."""
    img = nib.Nifti1Image(np.asarray(data).astype(dtype, copy=False), affine, header=header)
    img.set_data_dtype(dtype)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def write_json(obj: Any, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_json(path: str | Path, what: str = "sidecar") -> dict:
    try:
        with open(path) as handle:
            content = json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: {what} JSON file is missing") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: {what} is not valid JSON ({err})") from None
    if not isinstance(content, dict):
        raise InputError(f"{path}: {what} must hold a JSON object")
    return content


def load_header(path: str | Path) -> nib.Nifti1Image:
    """Open a NIfTI image without reading its voxels (cheap enough for DAG build)."""
    try:
        return nib.load(str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as err:  # nibabel raises several types for a broken header
        raise InputError(f"{path}: not a readable NIfTI image ({err})") from None


def load_volume(path: str | Path, what: str, ndim: int | tuple[int, ...] = 3) -> tuple[np.ndarray, nib.Nifti1Image]:
    """Read every voxel of an image and check that it is usable.

    Returns the data as float32 and the image (for its affine and header). Raises InputError that
    names the file when it is truncated or corrupt, has the wrong number of dimensions, holds
    NaN or infinite voxels, or is constant (e.g. all zero).
    """
    img = load_header(path)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    shape = img.shape
    # a trailing singleton dimension (x, y, z, 1) is a 3D image in practice
    if len(shape) == 4 and shape[3] == 1 and 3 in allowed:
        shape = shape[:3]
    if len(shape) not in allowed:
        dims = " or ".join(f"{n}D" for n in allowed)
        raise InputError(f"{path}: {what} must be a {dims} image, but it has shape {img.shape}")
    try:
        data = np.asarray(img.dataobj, dtype=np.float32).reshape(shape)
    except Exception as err:
        raise InputError(f"{path}: {what} is truncated or corrupt, its voxels cannot be read ({err})") from None
    finite = np.isfinite(data)
    if not finite.all():
        bad = int((~finite).sum())
        raise InputError(f"{path}: {what} has {bad} NaN or infinite voxels; fix or mask them before running")
    if data.size == 0 or float(data.max()) == float(data.min()):
        raise InputError(
            f"{path}: {what} is constant (every voxel is {float(data.flat[0]) if data.size else 'absent'})"
        )
    return data, img


def to_canonical(data: np.ndarray, img: nib.Nifti1Image) -> tuple[np.ndarray, np.ndarray]:
    """Reorder the voxel axes to RAS+ (a lossless flip/permutation) and return data and affine.

    Works for 3D and 4D data; every later step can then assume one orientation.
    """
    ornt = nib.orientations.io_orientation(img.affine)
    target = nib.orientations.axcodes2ornt(("R", "A", "S"))
    transform = nib.orientations.ornt_transform(ornt, target)
    spatial = data.shape[:3]
    out = nib.orientations.apply_orientation(data, transform)
    affine = img.affine @ nib.orientations.inv_ornt_aff(transform, spatial)
    return np.ascontiguousarray(out), affine
