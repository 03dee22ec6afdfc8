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
# how each activity unit is written, for messages
_ACTIVITY_NAMES = {"bq": "Bq", "kbq": "kBq", "mbq": "MBq", "gbq": "GBq", "ci": "Ci", "mci": "mCi", "uci": "µCi"}

# Plausibility, for values whose unit a sidecar can mislabel (DICOM and converters disagree):
# - a human PET injection lies between about 0.5 and 80 mCi, whatever the tracer ([11C]PBR28: 300-700 MBq)
DOSE_RANGE_BQ = (20e6, 3e9)
# - no acquisition of a short-lived tracer lasts 12 hours: frame times beyond that are in milliseconds (DICOM's unit)
MAX_ACQUISITION_S = 12 * 3600.0
# - the hottest brain voxels of any tracer lie within these SUVs (g/mL): a 99.5th percentile outside
#   them is an activity mislabelled by a factor of 1000 or more, not uptake
SUV_RANGE = (0.05, 100.0)

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
    """Check a PET sidecar and return its SUV recipe; raise InputError listing every problem, each with its field.

    Every value is checked for type, finiteness and plausibility (JSON allows NaN, strings where
    numbers belong, and clock times where PET-BIDS wants seconds), and the frames for order and overlap.
    ``n_frames`` is the length of the image's 4th dimension (1 for a 3D image); ``source`` names the
    file in messages.
    """
    problems: list[str] = []
    units = sidecar.get("Units")
    if units is None:
        raise InputError(f"{source}: sidecar has no 'Units' (e.g. 'Bq/mL', or 'g/mL' for an SUV image)")
    if not isinstance(units, str):
        raise InputError(f"{source}: 'Units' must be a string such as 'Bq/mL' or 'g/mL', not {units!r}")
    if is_suv_unit(units):
        if n_frames > 1:
            raise InputError(
                f"{source}: a 4D image ({n_frames} frames) cannot be in SUV units ({units!r}); expected Bq/mL"
            )
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
    starts = _frame_values(sidecar, "FrameTimesStart", n_frames, problems)
    durations = _frame_values(sidecar, "FrameDuration", n_frames, problems)
    nuclide = sidecar.get("TracerRadionuclide")
    half_life = half_life_s(nuclide) if isinstance(nuclide, str) else None
    if starts is not None and durations is not None:
        problems += frame_timing_problems(starts, durations)
        problems += frame_unit_problems(starts, durations, half_life)
    dose = None
    amount = _number(sidecar, "InjectedRadioactivity", problems, positive=True)
    dose_unit = sidecar.get("InjectedRadioactivityUnits")
    if amount is not None and dose_unit not in (None, ""):
        try:
            dose = activity_to_bq(amount, dose_unit)
        except ValueError as err:
            problems.append(str(err))
        else:
            problem = dose_problem(amount, dose_unit, dose)
            if problem:
                problems.append(problem)
                dose = None
    weight = _number(sidecar, "BodyWeight", problems, positive=True)
    if weight is not None and not 10 <= weight <= 400:
        problems.append(f"'BodyWeight' {weight!r} is not a plausible weight in kg (10-400); grams or pounds?")
        weight = None
    decay_corrected = sidecar.get("ImageDecayCorrected", True)
    if not isinstance(decay_corrected, bool):
        problems.append(
            f"'ImageDecayCorrected' must be JSON true or false, not {decay_corrected!r}"
            + (" (a string; write it without quotes)" if isinstance(decay_corrected, str) else "")
        )
        decay_corrected = True
    correction_time = _number(sidecar, "ImageDecayCorrectionTime", problems, default=0.0)
    injection_start = _number(sidecar, "InjectionStart", problems, default=0.0)
    if (
        half_life is None
        and correction_time is not None
        and injection_start is not None
        and (not decay_corrected or correction_time != injection_start)
    ):
        problems.append(
            "the frames must be decay corrected to the injection time, so 'TracerRadionuclide' must name a "
            f"known radionuclide ({', '.join(HALF_LIFE_S)}), not {nuclide!r}"
        )
    if problems:
        raise InputError([f"{source}: {p}" for p in problems])
    return SuvRecipe(
        units=str(units),
        frame_starts_s=tuple(starts),
        frame_durations_s=tuple(durations),
        dose_bq=dose,
        body_weight_kg=weight,
        decay_corrected=decay_corrected,
        decay_correction_time_s=correction_time,
        injection_start_s=injection_start,
        half_life_s=half_life,
    )


_CLOCK_TIME = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")


def _not_a_number(field: str, value: object) -> str:
    if isinstance(value, str) and _CLOCK_TIME.fullmatch(value.strip()):
        return (
            f"'{field}' is a clock time ({value!r}); PET-BIDS gives it in seconds relative to TimeZero "
            "(e.g. 0 for the injection, or the seconds between TimeZero and this event)"
        )
    kind = "a string" if isinstance(value, str) else type(value).__name__
    return f"'{field}' must be a number, not {kind} {value!r}"


def _number(sidecar: dict, field: str, problems: list[str], positive: bool = False, default=None) -> float | None:
    """A finite number from the sidecar (``default`` when absent), or None with the problem appended."""
    value = sidecar.get(field)
    if value in (None, "", []):
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(_not_a_number(field, value))
        return None
    if not math.isfinite(value):
        problems.append(f"'{field}' is {value}, not a finite number")
        return None
    if positive and value <= 0:
        problems.append(f"'{field}' must be positive, not {value!r}")
        return None
    return float(value)


def _frame_values(sidecar: dict, field: str, n_frames: int, problems: list[str]) -> list[float] | None:
    """One finite number per frame of the image, or None with the problem appended (None too when absent)."""
    values = sidecar.get(field)
    if values in (None, "", []):
        return None
    if isinstance(values, int | float) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, list) or len(values) != n_frames:
        count = f"{len(values)} values" if isinstance(values, list) else repr(values)
        problems.append(f"'{field}' must list {n_frames} numbers, one per frame of the image (it has {count})")
        return None
    bad = [(i, v) for i, v in enumerate(values) if isinstance(v, bool) or not isinstance(v, int | float)]
    bad += [(i, v) for i, v in enumerate(values) if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        i, v = bad[0]
        problems.append(f"'{field}' must hold finite numbers of seconds; frame {i} is {v!r}")
        return None
    return [float(v) for v in values]


def frame_timing_problems(starts: Sequence[float], durations: Sequence[float], tolerance_s: float = 1.0) -> list[str]:
    """Frames must have positive durations, start in order and not overlap (beyond rounding, ``tolerance_s``)."""
    problems = []
    if any(d <= 0 for d in durations):
        problems.append("'FrameDuration' values must be positive")
        return problems
    for i in range(1, len(starts)):
        end = starts[i - 1] + durations[i - 1]
        if starts[i] < starts[i - 1]:
            problems.append(
                f"'FrameTimesStart' is not in order: frame {i} starts at {starts[i]:g} s, "
                f"before frame {i - 1} ({starts[i - 1]:g} s)"
            )
            break
        if starts[i] < end - tolerance_s:
            problems.append(
                f"frames {i - 1} and {i} overlap: frame {i - 1} ends at {end:g} s but frame {i} starts at "
                f"{starts[i]:g} s (are FrameTimesStart and FrameDuration swapped?)"
            )
            break
    return problems


def dose_problem(amount: float, unit: str, dose_bq: float) -> str | None:
    """Why an injected dose is not a human PET injection, and the unit it was likely given in; None if plausible."""
    low, high = DOSE_RANGE_BQ
    if low <= dose_bq <= high:
        return None
    problem = (
        f"'InjectedRadioactivity' {amount:g} {unit} is {dose_bq / 1e6:.4g} MBq, outside the range of a human PET "
        f"injection ({low / 1e6:g}-{high / 1e6:g} MBq)"
    )
    typical = math.sqrt(low * high)  # the unit that puts the value nearest the middle of the range
    fits = [name for key, name in _ACTIVITY_NAMES.items() if low <= amount * _ACTIVITY_TO_BQ[key] <= high]
    if fits:
        likely = min(fits, key=lambda name: abs(math.log(amount * _ACTIVITY_TO_BQ[name.lower()] / typical)))
        problem += (
            f"; it looks like {likely} labelled {unit} ({amount:g} {likely} = "
            f"{amount * _ACTIVITY_TO_BQ[likely.lower()] / 1e6:.4g} MBq): check 'InjectedRadioactivityUnits'"
        )
    return problem


def frame_unit_problems(starts: Sequence[float], durations: Sequence[float], half_life: float | None) -> list[str]:
    """Frame times that cannot be seconds: an acquisition of a short-lived tracer ending after 12 hours."""
    end = max(s + d for s, d in zip(starts, durations, strict=True))
    if end <= MAX_ACQUISITION_S or (half_life is not None and half_life > MAX_ACQUISITION_S / 4):
        return []
    problem = (
        f"'FrameTimesStart' and 'FrameDuration' put the end of the acquisition {end / 3600:.4g} h after TimeZero, "
        "longer than any acquisition of this tracer"
    )
    if end / 1000 <= MAX_ACQUISITION_S:
        problem += (
            f"; they look like milliseconds (in seconds the frames would end at {end / 1000 / 60:.4g} min): "
            "PET-BIDS gives them in seconds"
        )
    return [problem]


def suv_range_problem(suv: np.ndarray, units: str, source: str) -> str | None:
    """Why an SUV image cannot be uptake (its 99.5th percentile of positive voxels outside SUV_RANGE),
    and the likely mislabel; None if plausible."""
    positive = suv[np.isfinite(suv) & (suv > 0)]
    if positive.size == 0:
        return None
    hot = float(np.percentile(positive, 99.5))
    low, high = SUV_RANGE
    if low <= hot <= high:
        return None
    problem = (
        f"{source}: the SUV image's hottest voxels (99.5th percentile) are {hot:.4g} g/mL, outside the SUV of any "
        f"brain tissue ({low:g}-{high:g} g/mL)"
    )
    if is_suv_unit(units):
        if hot > high:
            problem += f"; 'Units' is {units!r}, but the values look like an activity concentration (Bq/mL)"
        return problem
    # a mislabelled dose is caught before (dose_problem): what is left is the image's unit
    for factor, likely in (
        (1e3, "Bq/mL labelled kBq/mL"),
        (1e6, "Bq/mL labelled MBq/mL"),
        (1e-3, "kBq/mL labelled Bq/mL"),
        (1e-6, "MBq/mL labelled Bq/mL"),
    ):
        if low <= hot / factor <= high:
            way = "high" if factor > 1 else "low"
            problem += (
                f"; it is {max(factor, 1 / factor):g} times too {way}: the image looks like {likely} "
                f"(check 'Units' {units!r})"
            )
            break
    return problem


def half_life_s(radionuclide: object) -> float | None:
    """Half-life of a radionuclide written as '11C', 'C11', 'C-11' or '[11C]'; None if unknown."""
    match = re.fullmatch(r"\[?(\d+)-?([A-Za-z]+)\]?|([A-Za-z]+)-?(\d+)", str(radionuclide or "").strip())
    if not match:
        return None
    mass, element = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
    return HALF_LIFE_S.get(f"{mass}{element.capitalize()}")


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
    suv = (mean_concentration / (recipe.dose_bq / grams)).astype(np.float32)
    if not np.isfinite(suv).all():  # recipes are checked; this guards what a check could not foresee
        raise InputError(f"{source}: the SUV image has non-finite voxels; check the sidecar's dose and timing")
    return suv
