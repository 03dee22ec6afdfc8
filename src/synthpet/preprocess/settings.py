"""Typed settings of the per-scan preprocessing steps, each built once from the validated
``preprocess`` block of the config (whose schema holds the defaults).

Each class holds exactly the keys its step reads, so a rule's params are ``Class.params(config)``:
a change to any other key leaves the step's outputs current, and the list of keys a step depends
on is written once, here. ``preprocess.backend`` (ANTs or FSL) is not among them: it is the tool,
passed on its own, and the settings of both tools are kept whichever runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np

from synthpet.preprocess.normalize import pet_scaling, scale_pet


class _FromConfig:
    @classmethod
    def params(cls, preprocess: Mapping[str, Any]) -> dict[str, Any]:
        """The step's keys of a ``preprocess`` block, values as the config gives them: a rule's params."""
        return {f.name: preprocess[f.name] for f in fields(cls) if f.name in preprocess}

    @classmethod
    def from_config(cls, preprocess: Mapping[str, Any]) -> Self:
        """The step's settings from a ``preprocess`` block (or a rule's params; other keys are ignored)."""
        return cls(**cls.params(preprocess))


@dataclass(frozen=True)
class MaskSettings(_FromConfig):
    """Brain extraction (``brain_extraction.extract``): ANTs' template registration, FSL's BET."""

    # the order of the keys in a rule's params (changing it would make finished jobs stale)
    coreg_voxel_mm: float
    template_transform: str
    bet_frac: float
    bet_robust: bool


@dataclass(frozen=True)
class CoregSettings(_FromConfig):
    """PET-to-T1w coregistration (``registration.coregister``): ANTs' working grid, FLIRT's options."""

    coreg_voxel_mm: float
    flirt_dof: int
    flirt_cost: str


@dataclass(frozen=True)
class GridSettings(_FromConfig):
    """The model grid and the T1w's intensity scaling (``steps.grid_t1w``)."""

    grid_shape: tuple[int, int, int]
    grid_voxel_mm: float
    grid_frame: str
    mri_percentiles: tuple[float, float]
    mri_clip: bool

    def __post_init__(self) -> None:  # YAML and JSON give lists
        object.__setattr__(self, "grid_shape", tuple(int(n) for n in self.grid_shape))
        object.__setattr__(self, "mri_percentiles", tuple(float(q) for q in self.mri_percentiles))


@dataclass(frozen=True)
class PetScale(_FromConfig):
    """How a PET becomes the model's target (``normalize.scale_pet``): its own settings, so that the
    T1w's grid does not go stale when only the PET's scale changes. A model trained before these keys
    existed was trained on the paper's per-scan min-max, the default here."""

    pet_scale: str = "minmax"
    pet_suvr_max: float = 2.5

    def __post_init__(self) -> None:  # YAML may give an integer
        object.__setattr__(self, "pet_suvr_max", float(self.pet_suvr_max))

    def scaling(self, values: np.ndarray) -> tuple[float, float, bool]:
        """The map of a scan's brain SUV onto the target (``normalize.pet_scaling``)."""
        return pet_scaling(values, self.pet_scale, self.pet_suvr_max)

    def apply(self, suv: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """A scan's SUV as the model's target, inside ``mask`` (``normalize.scale_pet``)."""
        return scale_pet(suv, mask, self.pet_scale, self.pet_suvr_max)


PAPER_TARGET = PetScale()  # the paper's per-scan min-max
