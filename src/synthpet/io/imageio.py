"""NIfTI and sidecar I/O: checked reads that name the file, and atomic writes.

Writes go to a temporary file beside the target and are renamed into place, so an interrupted
job never leaves a half-written output that looks complete.
"""

from __future__ import annotations

import glob
import json
import math
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


_TMP_MARK = ".synthpet-tmp-"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds.

    A job killed mid-write leaves its temporary file behind; the next write of the same output
    (its rerun: Snakemake never runs two jobs for one output) removes it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}{_TMP_MARK}*"):
        stale.unlink(missing_ok=True)
    # keep the full suffix (".nii.gz") so that writers choose the right format from the name
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TMP_MARK}", suffix="".join(path.suffixes), dir=path.parent)
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


def read_text(path: str | Path, what: str) -> str:
    """A UTF-8 text file (a byte-order mark is allowed, as BIDS files often carry one)."""
    try:
        return Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{path}: {what} is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8"
        ) from None


def read_json(path: str | Path, what: str = "sidecar") -> dict:
    """A JSON object from a UTF-8 file (a byte-order mark is allowed).

    NaN and Infinity are read as Python reads them; the fields that are used check finiteness, so
    that the message can name the field.
    """
    try:
        content = json.loads(read_text(path, what))
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


# voxel sizes (mm) outside these bounds mean a broken header (or units other than mm), not a scan
ABSURD_VOXEL_MM = (0.1, 20.0)


# each side of a field of view that can hold a whole brain is longer than this: an adult's brain
# measures about 140 x 170 x 120 mm (left-right, front-back, up-down), a child's from age 2 not
# much less; a slab, a cropped or a partial acquisition is shorter
MIN_BRAIN_FOV_MM = 100.0


def field_of_view_problems(img: nib.Nifti1Image, path: str | Path, what: str) -> list[str]:
    """Refused: a field of view with a side shorter than MIN_BRAIN_FOV_MM, which cannot hold a brain
    (skull stripping and registration to MNI would fail late, or give a partial brain). The image's
    geometry must have passed ``geometry_problems``."""
    voxel = nib.affines.voxel_sizes(np.asarray(img.affine, dtype=float))
    sides = np.asarray(img.shape[:3], dtype=float) * voxel
    if sides.min() >= MIN_BRAIN_FOV_MM:
        return []
    shown = " x ".join(f"{side:.0f}" for side in sides)
    return [
        f"{path}: the {what}'s field of view is {shown} mm ({'x'.join(map(str, img.shape[:3]))} voxels of "
        f"{'x'.join(f'{v:.3g}' for v in voxel)} mm), too small to hold a whole brain (each side must be at "
        f"least {MIN_BRAIN_FOV_MM:.0f} mm); a slab or cropped image cannot be skull-stripped or registered to MNI"
    ]


def geometry_problems(
    img: nib.Nifti1Image, path: str | Path, what: str, coarse_mm: float
) -> tuple[list[str], list[str]]:
    """Problems (refused) and warnings of an image's geometry, from its header alone.

    Refused: a non-finite or singular affine, no orientation at all (qform and sform codes 0),
    spatial units other than mm, absurd voxel sizes.
    Warned: voxels coarser than ``coarse_mm``, and a qform and sform that place the image more than
    1 mm apart (the sform is used, as nibabel and FSL do; ingest writes both set to it).
    """
    affine = np.asarray(img.affine, dtype=float)
    if not np.isfinite(affine).all():
        return [f"{path}: the {what} header's affine has non-finite values; the image has no usable geometry"], []
    linear = affine[:3, :3]
    voxel = nib.affines.voxel_sizes(affine)
    # singular: an axis of zero length, or axes that (nearly) coincide, whatever the voxel size
    if voxel.min() == 0 or abs(np.linalg.det(linear)) / voxel.prod() < 1e-6:
        return [f"{path}: the {what} header's affine is singular (determinant 0); the image has no usable geometry"], []
    problems, warnings = [], []
    units = img.header.get_xyzt_units()[0] if hasattr(img.header, "get_xyzt_units") else "mm"
    if units in ("meter", "micron"):
        problems.append(f"{path}: the {what} header gives voxel sizes in {units}s; synthpet expects mm")
    sizes = "x".join(f"{v:.3g}" for v in voxel)
    low, high = ABSURD_VOXEL_MM
    if voxel.min() < low or voxel.max() > high:
        problems.append(f"{path}: {what} voxel size {sizes} mm is implausible (each must be {low}-{high} mm)")
    elif voxel.max() > coarse_mm:
        warnings.append(f"{path}: {what} voxels are coarse ({sizes} mm; at most {coarse_mm:g} mm expected)")
    header = img.header
    if isinstance(header, nib.Nifti1Header):
        qform, qcode = header.get_qform(coded=True)
        sform, scode = header.get_sform(coded=True)
        if qcode == 0 and scode == 0:
            # nibabel then makes up an affine from the voxel sizes alone: left and right are a guess
            problems.append(
                f"{path}: the {what} header has no orientation (qform_code and sform_code are both 0), so "
                "which way is left, front or up is unknown; convert the image again with its orientation kept"
            )
        if qform is not None and sform is not None and qcode > 0 and scode > 0:
            corners = np.array(
                [[i, j, k, 1] for i in (0, img.shape[0]) for j in (0, img.shape[1]) for k in (0, img.shape[2])]
            )
            moved = np.abs((corners @ qform.T - corners @ sform.T)[:, :3]).max()
            if not math.isfinite(moved) or moved > 1.0:
                warnings.append(
                    f"{path}: the {what} header's qform and sform disagree by up to {moved:.1f} mm; "
                    "the sform is used (as nibabel and FSL do), check that it is the right one"
                )
    return problems, warnings


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
    try:
        ornt = nib.orientations.io_orientation(img.affine)
    except Exception as err:  # a degenerate affine that the DAG-build check did not see (the file changed since)
        name = img.get_filename() or "image"
        raise InputError(f"{name}: its affine gives no voxel orientation ({err})") from None
    target = nib.orientations.axcodes2ornt(("R", "A", "S"))
    transform = nib.orientations.ornt_transform(ornt, target)
    spatial = data.shape[:3]
    out = nib.orientations.apply_orientation(data, transform)
    affine = img.affine @ nib.orientations.inv_ornt_aff(transform, spatial)
    return np.ascontiguousarray(out), affine


def from_canonical(data: np.ndarray, img: nib.Nifti1Image) -> np.ndarray:
    """Undo ``to_canonical``: a RAS+ volume back in the voxel order of ``img``, so that it fits ``img.affine``."""
    transform = nib.orientations.ornt_transform(
        nib.orientations.axcodes2ornt(("R", "A", "S")), nib.orientations.io_orientation(img.affine)
    )
    return np.ascontiguousarray(nib.orientations.apply_orientation(data, transform))
