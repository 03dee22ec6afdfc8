"""Standardized uptake value (SUV) from PET-BIDS images and sidecars.

SUV [g/mL] = activity concentration [Bq/mL] / (injected dose [Bq] / body weight [g]).
A dynamic (4D) series is first averaged over the configured post-injection window, each frame
weighted by how long it overlaps the window. Times follow PET-BIDS: seconds relative to TimeZero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthpet.errors import InputError

# Half-lives in seconds (NIST / DDEP), for images that are not decay corrected.
HALF_LIFE_S = {
    "11C": 1221.84,
    "18F": 6586.2,
    "15O": 122.24,
    "13N": 597.9,
    "68Ga": 4062.6,
    "89Zr": 282_276.0,
}

_ACTIVITY_TO_BQ = {
    "bq": 1.0,
    "kbq": 1e3,
    "mbq": 1e6,
    "gbq": 1e9,
    "ci": 3.7e10,
    "mci": 3.7e7,
    "uci": 3.7e4,
    "µci": 3.7e4,
}
_CONCENTRATION_TO_BQ_PER_ML = {
    "bq/ml": 1.0,
    "kbq/ml": 1e3,
    "mbq/ml": 1e6,
    "bq/cc": 1.0,
    "kbq/cc": 1e3,
    "mbq/cc": 1e6,
}
SUV_UNITS = {"g/ml", "suv", "suvbw"}

# sidecar fields needed to turn an activity-concentration image into SUV
REQUIRED_FOR_SUV = (
    "Units",
    "InjectedRadioactivity",
    "InjectedRadioactivityUnits",
    "BodyWeight",
    "FrameTimesStart",
    "FrameDuration",
)


def _norm_unit(unit: str) -> str:
    return str(unit).strip().replace(" ", "").lower()


def is_suv_unit(unit: str) -> bool:
    return _norm_unit(unit) in SUV_UNITS


def activity_to_bq(value: float, unit: str) -> float:
    try:
        return float(value) * _ACTIVITY_TO_BQ[_norm_unit(unit)]
    except KeyError:
        raise ValueError(f"unknown InjectedRadioactivityUnits {unit!r} (use Bq, kBq, MBq, GBq or mCi)") from None


def concentration_scale(unit: str) -> float:
    """Factor that converts image values in ``unit`` to Bq/mL."""
    try:
        return _CONCENTRATION_TO_BQ_PER_ML[_norm_unit(unit)]
    except KeyError:
        raise ValueError(f"unknown PET Units {unit!r} (use Bq/mL, kBq/mL or g/mL for SUV)") from None


@dataclass(frozen=True)
class SuvRecipe:
    """What a PET sidecar says about turning its image into SUV, checked once at discovery."""

    units: str
    frame_starts_s: tuple[float, ...]
    frame_durations_s: tuple[float, ...]
    dose_bq: float | None
    body_weight_kg: float | None
    decay_corrected: bool
    decay_correction_time_s: float
    injection_start_s: float
    half_life_s: float | None

    @property
    def already_suv(self) -> bool:
        return is_suv_unit(self.units)


def recipe_from_sidecar(sidecar: dict, n_frames: int, source: str) -> SuvRecipe:
    """Check a PET sidecar and return its SUV recipe; raise InputError listing every missing field.

    ``n_frames`` is the length of the image's 4th dimension (1 for a 3D image); ``source`` names the
    file in messages.
    """
    problems: list[str] = []
    units = sidecar.get("Units")
    if units is None:
        problems.append("sidecar has no 'Units' (e.g. 'Bq/mL', or 'g/mL' for an SUV image)")
        raise InputError([f"{source}: {p}" for p in problems])
    if is_suv_unit(units):
        if n_frames > 1:
            problems.append(f"a 4D image ({n_frames} frames) cannot be in SUV units ({units!r}); expected Bq/mL")
            raise InputError([f"{source}: {p}" for p in problems])
        return SuvRecipe(str(units), (), (), None, None, True, 0.0, 0.0, None)
    try:
        concentration_scale(units)
    except ValueError as err:
        problems.append(str(err))
    missing = [field for field in REQUIRED_FOR_SUV if sidecar.get(field) in (None, "", [])]
    if missing:
        problems.append(
            "cannot compute SUV: sidecar lacks "
            + ", ".join(missing)
            + " (PET-BIDS timing and dose fields; BodyWeight in kg)"
        )
    starts = _as_floats(sidecar.get("FrameTimesStart"), n_frames)
    durations = _as_floats(sidecar.get("FrameDuration"), n_frames)
    if "FrameTimesStart" not in missing and "FrameDuration" not in missing:
        if starts is None or durations is None:
            problems.append(
                f"FrameTimesStart and FrameDuration must each list {n_frames} numbers, one per frame of the image"
            )
        elif any(d <= 0 for d in durations):
            problems.append("FrameDuration values must be positive")
    dose = None
    if "InjectedRadioactivity" not in missing and "InjectedRadioactivityUnits" not in missing:
        try:
            dose = activity_to_bq(sidecar["InjectedRadioactivity"], sidecar["InjectedRadioactivityUnits"])
            if dose <= 0:
                problems.append("InjectedRadioactivity must be positive")
        except (ValueError, TypeError) as err:
            problems.append(str(err))
    weight = sidecar.get("BodyWeight")
    if weight is not None and (not isinstance(weight, int | float) or not 10 <= weight <= 400):
        problems.append(f"BodyWeight {weight!r} is not a plausible weight in kg")
    decay_corrected = sidecar.get("ImageDecayCorrected", True)
    correction_time = float(sidecar.get("ImageDecayCorrectionTime", 0.0) or 0.0)
    injection_start = float(sidecar.get("InjectionStart", 0.0) or 0.0)
    half_life = half_life_s(sidecar.get("TracerRadionuclide"))
    if half_life is None and (not decay_corrected or correction_time != injection_start):
        problems.append(
            "the frames must be decay corrected to the injection time, so TracerRadionuclide must name a "
            f"known radionuclide ({', '.join(HALF_LIFE_S)}), not {sidecar.get('TracerRadionuclide')!r}"
        )
    if problems:
        raise InputError([f"{source}: {p}" for p in problems])
    return SuvRecipe(
        units=str(units),
        frame_starts_s=tuple(starts),
        frame_durations_s=tuple(durations),
        dose_bq=dose,
        body_weight_kg=float(weight),
        decay_corrected=bool(decay_corrected),
        decay_correction_time_s=correction_time,
        injection_start_s=injection_start,
        half_life_s=half_life,
    )


def half_life_s(radionuclide: object) -> float | None:
    """Half-life of a radionuclide written as '11C', 'C11', 'C-11' or '[11C]'; None if unknown."""
    match = re.fullmatch(r"\[?(\d+)-?([A-Za-z]+)\]?|([A-Za-z]+)-?(\d+)", str(radionuclide or "").strip())
    if not match:
        return None
    mass, element = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
    return HALF_LIFE_S.get(f"{mass}{element.capitalize()}")


def _as_floats(values, n: int) -> list[float] | None:
    if isinstance(values, int | float):
        values = [values]
    if not isinstance(values, list) or len(values) != n:
        return None
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def window_weights(
    starts_s: Sequence[float], durations_s: Sequence[float], window_min: Sequence[float], source: str = "PET"
) -> np.ndarray:
    """Weight of each frame in the window average: its overlap with the window, normalized to 1.

    Raises InputError when the frames cover less than 99 % of the window.
    """
    lo, hi = (60.0 * w for w in window_min)
    starts = np.asarray(starts_s, dtype=float)
    ends = starts + np.asarray(durations_s, dtype=float)
    overlap = np.clip(np.minimum(ends, hi) - np.maximum(starts, lo), 0.0, None)
    covered = overlap.sum()
    if covered < 0.99 * (hi - lo):
        span = f"{starts.min() / 60:.1f}-{ends.max() / 60:.1f} min" if starts.size else "nothing"
        raise InputError(
            f"{source}: the frames cover only {covered / 60:.1f} of the {window_min[0]:g}-{window_min[1]:g} min "
            f"SUV window (frames span {span}); change input.suv_window_min or check FrameTimesStart/FrameDuration"
        )
    return overlap / covered


def decay_factors(recipe: SuvRecipe) -> np.ndarray:
    """Per-frame factors that refer each frame's activity to the injection time (as the dose is)."""
    starts = np.asarray(recipe.frame_starts_s, dtype=float)
    durations = np.asarray(recipe.frame_durations_s, dtype=float)
    if recipe.decay_corrected:
        # already corrected to ImageDecayCorrectionTime; shift the reference to the injection time
        if recipe.decay_correction_time_s == recipe.injection_start_s:
            return np.ones_like(starts)
        lam = math.log(2) / recipe.half_life_s
        return np.full_like(starts, math.exp(lam * (recipe.decay_correction_time_s - recipe.injection_start_s)))
    lam = math.log(2) / recipe.half_life_s
    # mean over the frame of exp(-lam t), inverted: lam*d*exp(lam*t0) / (1 - exp(-lam*d))
    t0 = starts - recipe.injection_start_s
    return lam * durations * np.exp(lam * t0) / -np.expm1(-lam * durations)


def compute_suv(data: np.ndarray, recipe: SuvRecipe, window_min: Sequence[float], source: str = "PET") -> np.ndarray:
    """SUV image (float32, g/mL) from a 3D or 4D PET image and its checked recipe."""
    if recipe.already_suv:
        return np.asarray(data, dtype=np.float32)
    frames = data if data.ndim == 4 else data[..., np.newaxis]
    weights = window_weights(recipe.frame_starts_s, recipe.frame_durations_s, window_min, source)
    weights = weights * decay_factors(recipe)
    mean_concentration = np.tensordot(frames.astype(np.float64), weights, axes=([3], [0]))
    mean_concentration *= concentration_scale(recipe.units)
    grams = recipe.body_weight_kg * 1000.0
    return (mean_concentration / (recipe.dose_bq / grams)).astype(np.float32)
