"""A synthetic TSPO PET cohort with ground truth, written as a BIDS dataset.

Anatomy comes from the MNI152 template and tissue maps bundled with nilearn, wrapped in synthetic
CSF, skull and scalp layers, and made individual by a random affine plus a smooth deformation per
participant (each session adds a head pose, up to ``max_head_rotation_deg`` and ``max_head_offset_mm``,
and a small deformation of its own). The T1w is stored in one of several voxel axis orders, some on
oblique voxel grids, so that nothing downstream can assume a scan lies on the template's axes. PET is SUV built
from tissue composition and Harvard-Oxford regional patterns with planted group and genotype
effects, blurred to PET resolution, resampled on its own grid through a known rigid misalignment,
and made noisy. Ground truth (brain mask, noise-free PET, the transform, the effects) is written
under ``sourcedata/groundtruth`` where the BIDS validator does not look.

Every random draw comes from a generator seeded by (seed, participant, session, purpose), so a
scan can be generated alone, in any order, and is byte-identical for the same settings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from synthpet import __version__
from synthpet.errors import ConfigError
from synthpet.io.bids import Cohort, Scan
from synthpet.io.imageio import save_nifti, write_json, write_text
from synthpet.io.paths import bids_path, json_sidecar, scan_id
from synthpet.io.templates import harvard_oxford_labels, harvard_oxford_maxprob
from synthpet.plan import selected_scans
from synthpet.validation.tissue import mni_tissue_maps

TRACER = "PBR28"
GROUNDTRUTH = "sourcedata/groundtruth"

# T1w contrast (arbitrary units, white matter = 750) and relative TSPO uptake of each tissue class
T1_INTENSITY = {"gm": 450.0, "wm": 750.0, "csf": 120.0, "meninges": 150.0, "skull": 60.0, "scalp": 850.0}
UPTAKE = {"gm": 1.0, "wm": 0.6, "csf": 0.15, "meninges": 0.35, "skull": 0.45, "scalp": 0.2}
BASELINE_SUV = 1.2  # grey-matter SUV of a HAB control at 60-90 min
# outer edges (mm from the brain surface) of the layers that wrap the brain
LAYERS_MM = {"meninges": 2.5, "skull": 8.0, "scalp": 14.0}
PAD_MM = 20.0
# fixed regional TSPO pattern (subcortical); cortical regions get a seeded random pattern
SUBCORTICAL_PATTERN = {
    "Thalamus": 1.25,
    "Brain-Stem": 1.15,
    "Putamen": 1.10,
    "Pallidum": 1.05,
    "Caudate": 0.95,
    "Hippocampus": 1.00,
    "Amygdala": 1.00,
    "Accumbens": 1.00,
    "Lateral_Ventrical": 0.60,
    "Lateral_Ventricle": 0.60,
}
FRAME_STARTS_MIN = (0, 1, 2, 3, 5, 10, 20, 30, 45, 60, 75)
FRAME_DURATIONS_MIN = (1, 1, 1, 2, 5, 10, 10, 15, 15, 15, 15)


@dataclass(frozen=True)
class PhantomParticipant:
    subject: str
    index: int
    group: str
    genotype: str
    sessions: tuple[str, ...]


def cohort_layout(phantom: dict, seed: int) -> list[PhantomParticipant]:
    """Participants, groups, genotypes and sessions of the synthetic cohort (cheap, no images).

    HAB/MAB are assigned within each group so that every group holds both genotypes in the
    configured proportion; ``lab_participants`` of them are then turned into LAB.
    """
    rng = np.random.default_rng([seed, 0, 0])
    rows = [(row["group"], row["sessions"]) for row in phantom["cohort"] for _ in range(row["participants"])]
    width = max(3, len(str(len(rows))))
    genotypes = [""] * len(rows)
    for group in dict.fromkeys(g for g, _ in rows):
        members = [i for i, (g, _) in enumerate(rows) if g == group]
        n_hab = int(round(phantom["hab_fraction"] * len(members)))
        for i, genotype in zip(
            members, rng.permutation(["HAB"] * n_hab + ["MAB"] * (len(members) - n_hab)), strict=True
        ):
            genotypes[i] = str(genotype)
    n_lab = min(phantom["lab_participants"], len(rows))
    for i in rng.choice(len(rows), size=n_lab, replace=False):
        genotypes[i] = "LAB"
    return [
        PhantomParticipant(
            subject=f"{i + 1:0{width}d}",
            index=i,
            group=group,
            genotype=genotypes[i],
            sessions=tuple(f"{s + 1:02d}" for s in range(n_sessions)),
        )
        for i, (group, n_sessions) in enumerate(rows)
    ]


def t1w_path(root: str | Path, subject: str, session: str) -> str:
    return bids_path(root, "anat", "T1w", subject, session)


def pet_path(root: str | Path, subject: str, session: str) -> str:
    return bids_path(root, "pet", "pet", subject, session, trc=TRACER)


def truth_path(root: str | Path, subject: str, session: str, what: str) -> str:
    """Ground-truth files of one scan: ``mask``, ``noisefree`` (PET SUV in T1w space), ``anatomical``
    (its part that the anatomy explains, see ``make_scan``) or ``json``."""
    base = Path(root) / GROUNDTRUTH
    if what == "mask":
        return bids_path(base, "anat", "mask", subject, session, space="T1w", desc="brain")
    if what in ("noisefree", "anatomical"):
        return bids_path(base, "pet", "pet", subject, session, trc=TRACER, space="T1w", desc=what)
    if what == "json":
        return bids_path(base, "pet", "truth", subject, session, ext=".json", trc=TRACER)
    raise ValueError(f"unknown ground-truth file {what!r}")


def planned_cohort(config: dict) -> Cohort:
    """The scans the phantom will write, known before any file exists (so a dry run plans them all)."""
    root = phantom_dir(config)
    scans, excluded = [], {}
    for p in cohort_layout(config["phantom"], config["seed"]):
        for session in p.sessions:
            pet = pet_path(root, p.subject, session)
            scan = Scan(
                p.subject, session, t1w_path(root, p.subject, session), pet, p.group, p.genotype, (json_sidecar(pet),)
            )
            if p.genotype == "LAB" and not config["input"]["keep_lab"]:
                excluded[scan.id] = "LAB genotype excluded (set input.keep_lab to keep it)"
            else:
                scans.append(scan)
    return Cohort(scans, excluded)


def phantom_dir(config: dict) -> str:
    return str(Path(config["output_dir"]) / "phantom")


def load_pattern_image(path: str) -> nib.Nifti1Image:
    """``phantom.pattern_image``, checked: a 3D image (MNI space) with no negative values."""
    key = "config key 'phantom.pattern_image'"
    if not Path(path).is_file():
        raise ConfigError(f"{key}: {path} does not exist")
    try:
        img = nib.load(path)
        data = np.asarray(img.dataobj, np.float32)
    except Exception as err:  # nibabel raises several kinds for a file that is not an image
        raise ConfigError(f"{key}: {path} is not a NIfTI image ({err})") from err
    data = np.squeeze(data)
    if data.ndim != 3:
        raise ConfigError(f"{key}: {path} has shape {data.shape}; a 3D pattern is needed")
    if not np.isfinite(data).all() or data.min() < 0:
        raise ConfigError(f"{key}: {path} has negative or non-finite values; a TSPO pattern is >= 0")
    return nib.Nifti1Image(data, img.affine)


def check_settings(config: dict) -> None:
    """The synthetic cohort's settings against each other and the run's groups, before it is planned;
    one ConfigError lists every problem, each naming its key."""
    phantom, groups = config["phantom"], config["input"]["groups"]
    problems = []
    for i, row in enumerate(phantom["cohort"]):
        if row["group"] not in groups:
            problems.append(
                f"config key 'phantom.cohort.{i}.group': '{row['group']}' is not one of input.groups {groups}"
            )
    if sum(row["participants"] for row in phantom["cohort"]) == 0:
        problems.append("config key 'phantom.cohort': the synthetic cohort has no participants")
    if phantom["nondisplaceable_fraction"] >= 1.0 / phantom["hab_over_mab"]:
        problems.append(
            f"config key 'phantom.nondisplaceable_fraction': {phantom['nondisplaceable_fraction']} must be below "
            f"1 / phantom.hab_over_mab = {1.0 / phantom['hab_over_mab']:.3f}, "
            "or MAB would need negative specific binding"
        )
    names = set(harvard_oxford_labels()["name"])
    for group, effect in phantom["group_effects"].items():
        if group not in groups:
            problems.append(f"config key 'phantom.group_effects.{group}': not one of input.groups {groups}")
        unknown = [r for r in effect["regions"] if r not in names]
        if unknown:
            problems.append(
                f"config key 'phantom.group_effects.{group}.regions': unknown Harvard-Oxford regions {unknown}; "
                f"names look like Left_Thalamus, Brain-Stem, Right_Frontal_Pole"
            )
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))


# ----------------------------------------------------------------------------------------------
# the MNI-space reference shared by every scan of a cohort


@dataclass(frozen=True)
class Reference:
    """Cohort-wide maps on a padded MNI grid: T1w contrast, tissue uptake, atlas labels, brain mask."""

    affine: np.ndarray
    t1: np.ndarray
    uptake: np.ndarray
    labels: np.ndarray
    mask: np.ndarray

    def save(self, path: str | Path) -> None:
        from synthpet.io.imageio import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, affine=self.affine, t1=self.t1, uptake=self.uptake, labels=self.labels, mask=self.mask)

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        with np.load(path) as npz:
            return cls(**{key: npz[key] for key in ("affine", "t1", "uptake", "labels", "mask")})


def build_reference(resolution: int) -> Reference:
    """Pad the MNI grid and wrap the brain in meninges/CSF, skull and scalp layers."""
    maps = mni_tissue_maps(resolution)
    pad = int(round(PAD_MM / resolution))

    def padded(volume: np.ndarray) -> np.ndarray:
        return np.pad(volume, pad)

    affine = maps.affine.copy()
    affine[:3, 3] -= affine[:3, :3] @ np.full(3, pad)
    mask = padded(maps.mask)
    distance = ndimage.distance_transform_edt(~mask, sampling=resolution)
    classes = {"gm": padded(maps.gm), "wm": padded(maps.wm), "csf": padded(maps.csf)}
    inner = 0.0
    for name, outer in LAYERS_MM.items():
        layer = ((distance > inner) & (distance <= outer)).astype(np.float32)
        # soften the layer edges to a partial-volume transition of about 1 mm
        classes[name] = ndimage.gaussian_filter(layer, sigma=1.0 / resolution) * (~mask)
        inner = outer
    t1 = sum(T1_INTENSITY[name] * prob for name, prob in classes.items())
    uptake = sum(UPTAKE[name] * prob for name, prob in classes.items())
    labels = harvard_oxford_maxprob(affine, mask.shape)
    labels[~mask] = 0
    return Reference(affine, t1.astype(np.float32), uptake.astype(np.float32), labels, mask.astype(np.uint8))


# ----------------------------------------------------------------------------------------------
# cohort- and participant-level effects


def regional_pattern(seed: int) -> np.ndarray:
    """Cohort TSPO multiplier per Harvard-Oxford label (index 0 = outside every region)."""
    names = harvard_oxford_labels()["name"].tolist()
    rng = np.random.default_rng([seed, 0, 1])
    cortical = np.exp(rng.normal(0.0, 0.06, size=len(names)))
    pattern = np.ones(len(names) + 1)
    for i, name in enumerate(names):
        base = name.removeprefix("Left_").removeprefix("Right_")
        pattern[i + 1] = SUBCORTICAL_PATTERN.get(base, cortical[i])
    return pattern


def cohort_density(reference: Reference, phantom: dict, seed: int) -> np.ndarray:
    """The cohort's TSPO density on the reference grid: the built-in pattern per Harvard-Oxford label,
    or the user's ``phantom.pattern_image`` (an MNI-space map, e.g. another tracer's group average),
    resampled by world coordinates and scaled to mean 1 inside the brain. 1 outside the brain and
    where the image has no value."""
    if not phantom.get("pattern_image"):
        return regional_pattern(seed).astype(np.float32)[reference.labels]
    from nibabel.processing import resample_from_to

    img = load_pattern_image(phantom["pattern_image"])
    data = np.asarray(resample_from_to(img, (reference.uptake.shape, reference.affine), order=1).dataobj, np.float32)
    brain = reference.mask > 0
    covered = brain & (data > 0)
    if covered.sum() < 0.5 * brain.sum():
        raise ConfigError(
            f"config key 'phantom.pattern_image': {phantom['pattern_image']} is positive in only "
            f"{covered.sum() / brain.sum():.0%} of the template brain; is it an MNI-space map?"
        )
    density = np.ones_like(data)
    density[covered] = data[covered] / data[covered].mean()
    return density


def specific_binding(genotype: str, phantom: dict) -> float:
    """TSPO-specific binding relative to HAB: MAB carry one low-affinity allele, LAB bind almost nothing.

    Only the specific part of the uptake depends on the genotype; MAB's is set so that where the
    regional pattern is 1, HAB uptake is ``phantom.hab_over_mab`` times MAB uptake.
    """
    nondisplaceable = phantom["nondisplaceable_fraction"]
    mab = (1.0 / phantom["hab_over_mab"] - nondisplaceable) / (1.0 - nondisplaceable)
    return {"HAB": 1.0, "MAB": mab, "LAB": 0.0}[genotype]


def bound_uptake(pattern, specific: float, phantom: dict):
    """Uptake relative to a HAB's at regional pattern 1: the nondisplaceable share, plus the TSPO-bound
    rest of ``pattern`` scaled by the genotype's ``specific`` binding."""
    nondisplaceable = phantom["nondisplaceable_fraction"]
    return nondisplaceable + specific * (pattern - nondisplaceable)


def genotype_factor(genotype: str, phantom: dict) -> float:
    """Uptake relative to HAB where the regional pattern is 1 (larger where TSPO is denser)."""
    return bound_uptake(1.0, specific_binding(genotype, phantom), phantom)


def participant_effects(participant: PhantomParticipant, phantom: dict, seed: int) -> dict:
    """Scalar and regional factors of one participant (their own random stream, cheap to redraw)."""
    rng = np.random.default_rng([seed, 1000 + participant.index, 0, 0])
    factor = float(np.exp(rng.normal(0.0, phantom["individual"]["global_sd"])))
    regional_jitter = np.exp(rng.normal(0.0, 0.03, size=len(harvard_oxford_labels()) + 1))
    group_effect = phantom["group_effects"].get(participant.group)
    return {
        "participant_factor": factor,
        "specific_binding": specific_binding(participant.genotype, phantom),
        "genotype_factor": genotype_factor(participant.genotype, phantom),
        "group_factor": group_effect["factor"] if group_effect else 1.0,
        "group_regions": list(group_effect["regions"]) if group_effect else [],
        "regional_jitter": regional_jitter,
    }


def individual_pattern(reference: Reference, participant: PhantomParticipant, phantom: dict, seed: int):
    """What of a participant's TSPO density the anatomy does not show, on the reference grid: a smooth
    random field (log-normal, varying over ``field_spacing_mm``) times focal hotspots centred in grey
    matter (Gaussian, ``hotspot_gain`` at the centre). 1 means none. The same in every session.

    Returns (multiplier volume, hotspot centres in reference world mm).
    """
    settings = phantom["individual"]
    rng = np.random.default_rng([seed, 1000 + participant.index, 0, 3])  # a stream of its own
    resolution = float(abs(reference.affine[0, 0]))
    shape = reference.uptake.shape
    pattern = np.ones(shape, np.float32)
    if settings["field_sd"] > 0:
        field = smooth_field(rng, shape, resolution, settings["field_spacing_mm"], settings["field_sd"], components=1)
        pattern *= np.exp(field[0])
    centres = np.zeros((0, 3))
    if settings["hotspots"] > 0:
        grey = np.argwhere((reference.uptake > 0.9) & (reference.mask > 0))  # grey-matter-dominated voxels
        chosen = grey[rng.choice(len(grey), size=settings["hotspots"], replace=False)]
        sigma = settings["hotspot_fwhm_mm"] / (2.0 * math.sqrt(2.0 * math.log(2.0))) / resolution
        spikes = np.zeros(shape, np.float32)
        spikes[tuple(chosen.T)] = 1.0
        # a unit spike blurred by sigma peaks at (2 pi)^-1.5 sigma^-3: scale so each blob peaks at gain - 1
        blobs = ndimage.gaussian_filter(spikes, sigma) * np.float32((2 * math.pi) ** 1.5 * sigma**3)
        pattern *= 1.0 + np.float32(settings["hotspot_gain"] - 1.0) * blobs
        centres = (reference.affine[:3, :3] @ chosen.T + reference.affine[:3, 3:4]).T
    return pattern, centres


def lesion_field(reference: Reference, participant: PhantomParticipant, phantom: dict, seed: int):
    """A participant's white-matter lesions on the reference grid (``phantom.lesions``): 1 inside each
    lesion, 0 outside, with a one-voxel soft edge. Centred where the surroundings (4 mm) are white
    matter. The same in every session.

    Returns (field, centres in reference world mm, radii in mm).
    """
    settings = phantom["lesions"]
    shape = reference.t1.shape
    field = np.zeros(shape, np.float32)
    if settings["count"] == 0:
        return field, np.zeros((0, 3)), np.zeros(0)
    rng = np.random.default_rng([seed, 1000 + participant.index, 0, 4])  # a stream of its own
    resolution = float(abs(reference.affine[0, 0]))
    white = (reference.t1 > 0.95 * T1_INTENSITY["wm"]) & (reference.mask > 0)
    deep = ndimage.gaussian_filter(white.astype(np.float32), 4.0 / resolution) > 0.9
    candidates = np.argwhere(deep & white)
    chosen = candidates[rng.choice(len(candidates), size=settings["count"], replace=False)]
    radii = rng.uniform(*settings["radius_mm"], size=settings["count"])
    for centre, radius in zip(chosen, radii, strict=True):
        reach = int(np.ceil(radius / resolution)) + 1
        low, high = np.maximum(centre - reach, 0), np.minimum(centre + reach + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
        offsets = np.indices(high - low).reshape(3, -1).T + low - centre
        distance = np.linalg.norm(offsets * resolution, axis=1).reshape(high - low)
        inside = np.clip((radius - distance) / resolution + 0.5, 0.0, 1.0).astype(np.float32)
        field[box] = np.maximum(field[box], inside)
    centres = (reference.affine[:3, :3] @ chosen.T + reference.affine[:3, 3:4]).T
    return field, centres, radii


def cohort_truth(phantom: dict, seed: int) -> dict:
    """The planted effects, for ``effects.json`` beside the dataset."""
    names = harvard_oxford_labels()["name"].tolist()
    pattern = regional_pattern(seed)
    return {
        "baseline_suv_gm_hab_control": BASELINE_SUV,
        "tissue_uptake_relative_to_gm": UPTAKE,
        "hab_over_mab": phantom["hab_over_mab"],
        "nondisplaceable_fraction": phantom["nondisplaceable_fraction"],
        "specific_binding": {g: specific_binding(g, phantom) for g in ("HAB", "MAB", "LAB")},
        "genotype_factor": {g: genotype_factor(g, phantom) for g in ("HAB", "MAB", "LAB")},
        "group_effects": phantom["group_effects"],
        "regional_pattern": {name: float(pattern[i + 1]) for i, name in enumerate(names)},
        "pet_fwhm_mm": phantom["pet_fwhm_mm"],
        "individual": phantom["individual"],
        "lesions": phantom["lesions"],
        "note": "SUV = baseline x participant factor x session factor x tissue uptake x (nondisplaceable fraction "
        "+ specific binding x (regional pattern x lesions (tspo_gain inside, 1 outside) x participant regional "
        "jitter x group factor (in its regions) x individual pattern (smooth field x hotspots) - nondisplaceable "
        "fraction)), then blurred. The T1w is darker in the lesions (t1_contrast of white matter). The "
        "anatomical part (desc-anatomical) keeps the lesions and leaves out the jitter, the group factor and the "
        "individual pattern",
    }


# ----------------------------------------------------------------------------------------------
# geometry


# voxel axis orders the T1w images are stored in (the same anatomy whichever)
STORAGE_ORDERS = (("R", "A", "S"), ("L", "P", "S"), ("P", "I", "R"), ("L", "A", "S"))


def stored(data: np.ndarray, affine: np.ndarray, axes) -> tuple[np.ndarray, np.ndarray]:
    """An image (data, affine) with its voxel axes reordered to ``axes`` (e.g. L, P, S); same world image."""
    orientations = nib.orientations
    transform = orientations.ornt_transform(orientations.io_orientation(affine), orientations.axcodes2ornt(axes))
    reoriented = nib.Nifti1Image(np.asarray(data), affine).as_reoriented(transform)
    return np.asarray(reoriented.dataobj), reoriented.affine


def rotation_matrix(angles_deg: np.ndarray) -> np.ndarray:
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def about_centre(linear: np.ndarray, translation_mm, centre) -> np.ndarray:
    """4x4 world transform: ``linear`` applied about ``centre``, then a translation (mm)."""
    matrix = np.eye(4)
    matrix[:3, :3] = linear
    matrix[:3, 3] = np.asarray(centre) - linear @ np.asarray(centre) + np.asarray(translation_mm)
    return matrix


def rigid(angles_deg, translation_mm, centre) -> np.ndarray:
    return about_centre(rotation_matrix(np.asarray(angles_deg, dtype=float)), translation_mm, centre)


def smooth_field(
    rng: np.random.Generator, shape, voxel_mm: float, spacing_mm: float, sd_mm: float, components: int = 3
):
    """A smooth random field: normal draws on a coarse control grid, interpolated to ``shape``.

    Cubic interpolation runs onto a 4 mm grid and linear interpolation does the rest: the field
    varies over ``spacing_mm`` (tens of mm), and cubic splines on the full 1 mm grid cost 10x more.
    """
    coarse = tuple(max(4, int(math.ceil(n * voxel_mm / spacing_mm)) + 1) for n in shape)
    middle = tuple(min(n, max(c, int(math.ceil(n * voxel_mm / 4.0)))) for n, c in zip(shape, coarse, strict=True))
    draws = rng.normal(0.0, sd_mm, size=(components, *coarse)).astype(np.float32)
    out = np.empty((components, *shape), dtype=np.float32)
    for k in range(components):
        field = _resize(draws[k], middle, order=3)
        out[k] = field if middle == tuple(shape) else _resize(field, shape, order=1)
    return out


def _resize(volume: np.ndarray, shape, order: int) -> np.ndarray:
    zoom = [n / c for n, c in zip(shape, volume.shape, strict=True)]
    return ndimage.zoom(volume, zoom, order=order, mode="nearest", grid_mode=True)[tuple(slice(0, n) for n in shape)]


def grid_world(affine: np.ndarray, shape) -> np.ndarray:
    """(3, voxels): the world coordinates (mm) of every voxel of the grid ``affine``, ``shape``, in C order."""
    ijk = np.indices(shape, dtype=np.float32).reshape(3, -1)
    return (affine[:3, :3] @ ijk + affine[:3, 3:4]).astype(np.float32)


def _sample(volume: np.ndarray, affine: np.ndarray, world: np.ndarray, shape, order: int = 1) -> np.ndarray:
    """Values of ``volume`` (voxel-to-world ``affine``) at world points (3, N), reshaped to ``shape``."""
    inverse = np.linalg.inv(affine)
    ijk = inverse[:3, :3] @ world + inverse[:3, 3:4]
    return ndimage.map_coordinates(volume, ijk, order=order, mode="constant", cval=0.0).reshape(shape)


# ----------------------------------------------------------------------------------------------
# one scan


def _sessions_index(participant: PhantomParticipant, session: str) -> int:
    return participant.sessions.index(session) + 1


def make_scan(
    reference: Reference,
    participant: PhantomParticipant,
    session: str,
    phantom: dict,
    seed: int,
    suv_window_min: tuple[float, float],
    root: str | Path,
) -> dict:
    """Generate and write one scan (T1w, PET and their sidecars) and its ground truth.

    Returns the scan's truth record (also written as JSON).
    """
    resolution = float(abs(reference.affine[0, 0]))
    shape = reference.t1.shape
    anatomy_rng = np.random.default_rng([seed, 1000 + participant.index, 0, 1])
    session_rng = np.random.default_rng([seed, 1000 + participant.index, _sessions_index(participant, session), 0])
    centre = reference.affine[:3, :3] @ (np.array(shape) / 2.0) + reference.affine[:3, 3]

    # participant: head size/shape and a smooth deformation; session: head pose and a small change
    head_shape = rotation_matrix(anatomy_rng.uniform(-4, 4, 3)) @ np.diag(anatomy_rng.uniform(0.93, 1.07, 3))
    participant_affine = about_centre(head_shape, anatomy_rng.uniform(-3, 3, 3), centre)
    deformation = smooth_field(anatomy_rng, shape, resolution, spacing_mm=24.0, sd_mm=2.5)
    bias = smooth_field(anatomy_rng, shape, resolution, spacing_mm=60.0, sd_mm=0.08, components=1)[0]
    # the head as it lies in the scanner: tilted and off-centre, as real heads are
    pose = rigid(
        session_rng.uniform(-phantom["max_head_rotation_deg"], phantom["max_head_rotation_deg"], 3),
        session_rng.uniform(-phantom["max_head_offset_mm"], phantom["max_head_offset_mm"], 3),
        centre,
    )
    deformation += smooth_field(session_rng, shape, resolution, spacing_mm=24.0, sd_mm=0.4)
    # how the T1w is stored: an oblique voxel grid (slices tilted to the head) and an axis order
    storage_rng = np.random.default_rng([seed, 1000 + participant.index, _sessions_index(participant, session), 2])
    oblique = bool(storage_rng.random() < phantom["oblique_fraction"])
    t1_affine = reference.affine
    if oblique:
        t1_affine = rigid(storage_rng.uniform(-15, 15, 3), np.zeros(3), centre) @ reference.affine
    storage = STORAGE_ORDERS[int(storage_rng.integers(len(STORAGE_ORDERS)))]

    # world point x of the subject's T1w samples the reference at A_p (pose x) + u(x)
    world = grid_world(t1_affine, shape)
    mapping = participant_affine @ pose
    sample_at = mapping[:3, :3].astype(np.float32) @ world + mapping[:3, 3:4].astype(np.float32)
    sample_at += deformation.reshape(3, -1)
    del world, deformation

    # PET in reference space for this participant and session, then warped with the anatomy
    effects = participant_effects(participant, phantom, seed)
    session_factor = float(np.exp(session_rng.normal(0.0, 0.05)))
    # per label: the cohort's pattern (unless an image gives it voxel by voxel), the participant's
    # jitter and the group effect
    own_image = bool(phantom.get("pattern_image"))
    multiplier = (1.0 if own_image else regional_pattern(seed)) * effects["regional_jitter"]
    names = harvard_oxford_labels()["name"].tolist()
    for region in effects["group_regions"]:
        multiplier[names.index(region) + 1] *= effects["group_factor"]
    pattern = cohort_density(reference, phantom, seed)
    # the genotype scales the TSPO-bound part only, so MAB scans have less regional contrast than HAB
    # scans and the effect survives per-scan min-max normalization, as it does in real [11C]PBR28 data
    individual, hotspot_centres = individual_pattern(reference, participant, phantom, seed)
    lesions, lesion_centres, lesion_radii = lesion_field(reference, participant, phantom, seed)
    # a lesion raises TSPO density (it is anatomy: the T1w shows it, so the anatomical part has it too)
    lesion_density = 1.0 + np.float32(phantom["lesions"]["tspo_gain"] - 1.0) * lesions
    density = multiplier.astype(np.float32)[reference.labels] * individual * lesion_density
    if own_image:
        density *= pattern
    pattern = pattern * lesion_density
    scalar = np.float32(BASELINE_SUV * effects["participant_factor"] * session_factor)
    suv_reference = reference.uptake * bound_uptake(density, effects["specific_binding"], phantom) * scalar
    # the anatomical part: what the T1w can explain, the cohort's regional pattern in this anatomy, its
    # lesions included (the genotype, which the workflow regresses out, and the scan's scale kept)
    anatomical_density = bound_uptake(pattern, effects["specific_binding"], phantom)
    anatomical_reference = reference.uptake * anatomical_density * scalar
    del density, pattern, anatomical_density, individual, lesion_density
    # lesions darken the T1w: white matter there takes t1_contrast of its intensity
    lesion_t1 = np.float32(phantom["lesions"]["t1_contrast"] * T1_INTENSITY["wm"])
    t1_reference = reference.t1 + lesions * (lesion_t1 - reference.t1)
    del lesions

    t1_clean = _sample(t1_reference, reference.affine, sample_at, shape)
    suv_t1 = _sample(suv_reference, reference.affine, sample_at, shape)
    anatomical_t1 = _sample(anatomical_reference, reference.affine, sample_at, shape)
    mask = _sample(reference.mask.astype(np.float32), reference.affine, sample_at, shape) >= 0.5
    del sample_at, suv_reference, anatomical_reference

    # T1w: bias field and Rician noise, stored as integers like a scanner would
    noise_sd = phantom["t1_noise"] * T1_INTENSITY["wm"]
    t1_biased = t1_clean * np.exp(bias)
    real = t1_biased + anatomy_rng.normal(0.0, noise_sd, shape).astype(np.float32)
    imag = anatomy_rng.normal(0.0, noise_sd, shape).astype(np.float32)
    t1 = np.sqrt(real**2 + imag**2)

    # PET: blur to scanner resolution (noise-free truth), then onto the PET grid through the misalignment
    sigma_vox = phantom["pet_fwhm_mm"] / (2.0 * math.sqrt(2.0 * math.log(2.0))) / resolution
    suv_blurred = ndimage.gaussian_filter(suv_t1, sigma_vox) if sigma_vox > 0 else suv_t1
    anatomical = ndimage.gaussian_filter(anatomical_t1, sigma_vox) if sigma_vox > 0 else anatomical_t1
    pet_voxel = float(phantom["pet_voxel_mm"])
    pet_shape = tuple(int(round(f / pet_voxel)) for f in phantom["pet_fov_mm"])
    pet_affine = np.diag([pet_voxel, pet_voxel, pet_voxel, 1.0])
    head_centre = np.linalg.inv(pose)[:3, :3] @ centre + np.linalg.inv(pose)[:3, 3]
    pet_centre = head_centre + session_rng.uniform(-10, 10, 3)
    pet_affine[:3, 3] = pet_centre - pet_voxel * (np.array(pet_shape) - 1) / 2.0
    t1_to_pet = rigid(
        session_rng.uniform(-phantom["max_rotation_deg"], phantom["max_rotation_deg"], 3),
        session_rng.uniform(-phantom["max_translation_mm"], phantom["max_translation_mm"], 3),
        centre,
    )
    pet_world = grid_world(pet_affine, pet_shape)
    back = np.linalg.inv(t1_to_pet).astype(np.float32)
    pet_clean = _sample(suv_blurred, t1_affine, back[:3, :3] @ pet_world + back[:3, 3:4], pet_shape)
    del pet_world

    dynamic = bool(session_rng.random() < phantom["dynamic_fraction"])
    dose_mbq = float(session_rng.uniform(9.0, 15.0) * 37.0)  # 9-15 mCi
    weight_kg = float(np.round(session_rng.uniform(55.0, 100.0), 1))
    noise_scale = phantom["pet_noise"]

    def pet_noise(sd_factor: float) -> np.ndarray:
        # reconstruction correlates noise over about a voxel; its SD grows with the square root of uptake
        white = ndimage.gaussian_filter(session_rng.normal(0.0, 1.0, pet_shape).astype(np.float32), 0.8)
        white /= white.std()
        return white * np.float32(noise_scale * sd_factor) * np.sqrt(np.clip(pet_clean, 0, None))

    sidecar = pet_sidecar(dose_mbq, weight_kg, phantom["pet_fwhm_mm"])
    if dynamic:
        starts, durations = frame_schedule(suv_window_min)
        shape_curve = time_activity_shape(starts, durations, suv_window_min)
        to_bq_per_ml = dose_mbq * 1e6 / (weight_kg * 1000.0)
        window = suv_window_min[1] - suv_window_min[0]
        frames = [
            (pet_clean * np.float32(g) + pet_noise(math.sqrt(window / d) * math.sqrt(g))) * np.float32(to_bq_per_ml)
            for g, d in zip(shape_curve, durations, strict=True)
        ]
        pet = np.stack(frames, axis=-1)
        sidecar.update(
            Units="Bq/mL", FrameTimesStart=[s * 60.0 for s in starts], FrameDuration=[d * 60.0 for d in durations]
        )
    else:
        pet = pet_clean + pet_noise(1.0)
        sidecar.update(
            Units="g/mL",
            FrameTimesStart=[suv_window_min[0] * 60.0],
            FrameDuration=[(suv_window_min[1] - suv_window_min[0]) * 60.0],
        )

    subject = participant.subject

    def save_t1w_space(data: np.ndarray, path: str, dtype=np.float32) -> None:
        save_nifti(*stored(np.asarray(data, dtype), t1_affine, storage), path, dtype=dtype)

    save_t1w_space(np.rint(t1).clip(0, 32767), t1w_path(root, subject, session), dtype=np.int16)
    write_json(T1W_SIDECAR, json_sidecar(t1w_path(root, subject, session)))
    save_nifti(pet, pet_affine, pet_path(root, subject, session))
    write_json(sidecar, json_sidecar(pet_path(root, subject, session)))
    save_t1w_space(mask, truth_path(root, subject, session, "mask"), dtype=np.uint8)
    save_t1w_space(suv_blurred, truth_path(root, subject, session, "noisefree"))
    save_t1w_space(anatomical, truth_path(root, subject, session, "anatomical"))
    truth = {
        "scan": scan_id(subject, session),
        "group": participant.group,
        "genotype": participant.genotype,
        "dynamic": dynamic,
        "t1w_to_pet_world": t1_to_pet.round(9).tolist(),
        "t1w_to_pet_convention": "4x4 RAS mm: the anatomy at T1w world point x lies at PET world point M @ x",
        "head_pose_world": pose.round(9).tolist(),
        "head_pose_convention": "4x4 RAS mm: the head's point at reference world x lies at T1w world point M^-1 @ x",
        "t1w_oblique": oblique,
        "t1w_axis_order": "".join(storage),
        "participant_factor": effects["participant_factor"],
        "session_factor": session_factor,
        "genotype_factor": effects["genotype_factor"],
        "specific_binding": effects["specific_binding"],
        "group_factor": effects["group_factor"],
        "group_regions": effects["group_regions"],
        "hotspot_centres_reference_mm": hotspot_centres.round(3).tolist(),
        "lesion_centres_reference_mm": lesion_centres.round(3).tolist(),
        "lesion_radii_mm": lesion_radii.round(3).tolist(),
        "lesion_tspo_gain": phantom["lesions"]["tspo_gain"],
        "injected_mbq": dose_mbq,
        "body_weight_kg": weight_kg,
        "suv_window_min": list(suv_window_min),
    }
    write_json(truth, truth_path(root, subject, session, "json"))
    return truth


def noisefree_as(
    reference: Reference, participant: PhantomParticipant, session: str, phantom: dict, seed: int, genotype: str
) -> nib.Nifti1Image:
    """A scan's noise-free PET (SUV, on its stored T1w grid) had its participant had ``genotype``.

    Every random draw is the same as for the scan itself (the genotype enters no draw), so the
    difference from the scan's own noise-free PET is the true genotype effect in that scan.
    """
    import dataclasses
    import tempfile

    other = dataclasses.replace(participant, genotype=genotype)
    with tempfile.TemporaryDirectory() as tmp:
        make_scan(reference, other, session, phantom, seed, (60.0, 90.0), tmp)
        img = nib.load(truth_path(tmp, participant.subject, session, "noisefree"))
        return nib.Nifti1Image(img.get_fdata(dtype=np.float32), img.affine)


def frame_schedule(window_min) -> tuple[list[float], list[float]]:
    """A 90-minute-style dynamic framing, extended by 15-min frames to cover the SUV window."""
    starts, durations = list(FRAME_STARTS_MIN), list(FRAME_DURATIONS_MIN)
    while starts[-1] + durations[-1] < window_min[1]:
        starts.append(starts[-1] + durations[-1])
        durations.append(15)
    return [float(s) for s in starts], [float(d) for d in durations]


def time_activity_shape(starts, durations, window_min) -> np.ndarray:
    """Relative activity per frame (fast uptake, slow washout), scaled so the window average is 1."""
    mid = np.asarray(starts) + np.asarray(durations) / 2.0
    curve = -np.expm1(-mid / 2.0) * (0.4 + 0.6 * np.exp(-mid / 60.0))
    lo, hi = window_min
    overlap = np.clip(np.minimum(np.asarray(starts) + durations, hi) - np.maximum(starts, lo), 0, None)
    return curve / (np.dot(overlap, curve) / overlap.sum())


T1W_SIDECAR = {
    "Manufacturer": "synthpet",
    "ManufacturersModelName": "synthetic MR-PET (Biograph mMR-like)",
    "MagneticFieldStrength": 3,
    "PulseSequenceType": "MPRAGE (simulated)",
}


def pet_sidecar(dose_mbq: float, weight_kg: float, fwhm_mm: float) -> dict:
    return {
        "Manufacturer": "synthpet",
        "ManufacturersModelName": "synthetic MR-PET (Biograph mMR-like)",
        "TracerName": TRACER,
        "TracerRadionuclide": "C11",
        "InjectedRadioactivity": round(dose_mbq, 3),
        "InjectedRadioactivityUnits": "MBq",
        "InjectedMass": "n/a",
        "InjectedMassUnits": "n/a",
        "SpecificRadioactivity": "n/a",
        "SpecificRadioactivityUnits": "n/a",
        "ModeOfAdministration": "bolus",
        "BodyWeight": weight_kg,
        "TimeZero": "10:00:00",
        "ScanStart": 0,
        "InjectionStart": 0,
        "AcquisitionMode": "list mode",
        "ImageDecayCorrected": True,
        "ImageDecayCorrectionTime": 0,
        "ReconMethodName": "3D-OSEM (simulated)",
        "ReconMethodParameterLabels": ["subsets", "iterations"],
        "ReconMethodParameterUnits": ["none", "none"],
        "ReconMethodParameterValues": [21, 3],
        "ReconFilterType": "Gaussian",
        "ReconFilterSize": fwhm_mm,
        "AttenuationCorrection": "MR-based (simulated)",
    }


# ----------------------------------------------------------------------------------------------
# dataset-level files


def write_dataset_files(root: str | Path, participants: list[PhantomParticipant], phantom: dict, seed: int) -> None:
    """dataset_description.json, README, participants.tsv/json and the cohort's ground truth."""
    root = Path(root)
    write_json(
        {
            "Name": "synthpet synthetic TSPO PET cohort",
            "BIDSVersion": "1.10.0",
            "DatasetType": "raw",
            "License": "CC0",
            "Authors": ["synthpet"],
            "GeneratedBy": [
                {"Name": "synthpet", "Version": __version__, "Description": f"synthpet phantom, seed {seed}"}
            ],
        },
        root / "dataset_description.json",
    )
    write_text(
        "Synthetic [11C]PBR28 TSPO PET and T1w MRI generated by synthpet (seed "
        f"{seed}). Ground truth is under {GROUNDTRUTH}/.\n",
        root / "README",
    )
    table = pd.DataFrame(
        {
            "participant_id": [f"sub-{p.subject}" for p in participants],
            "group": [p.group for p in participants],
            "genotype": [p.genotype for p in participants],
        }
    )
    write_text(table.to_csv(sep="\t", index=False, lineterminator="\n"), root / "participants.tsv")
    write_json(
        {
            "group": {"Description": "diagnostic group", "Levels": {g: g for g in sorted(set(table["group"]))}},
            "genotype": {
                "Description": "TSPO rs6971 genotype (binding affinity)",
                "Levels": {"HAB": "high-affinity binder", "MAB": "mixed-affinity binder", "LAB": "low-affinity binder"},
            },
        },
        root / "participants.json",
    )
    truth = cohort_truth(phantom, seed)
    truth["participants"] = {
        f"sub-{p.subject}": {
            key: value for key, value in participant_effects(p, phantom, seed).items() if key != "regional_jitter"
        }
        for p in participants
    }
    write_json(truth, root / GROUNDTRUTH / "effects.json")


def generate(root: str | Path, config: dict, progress=None) -> list[PhantomParticipant]:
    """Write the whole synthetic dataset in one process (the ``synthpet phantom`` command)."""
    phantom, seed = config["phantom"], config["seed"]
    check_settings(config)
    participants = cohort_layout(phantom, seed)
    reference = build_reference(phantom["t1_voxel_mm"])
    write_dataset_files(root, participants, phantom, seed)
    window = tuple(config["input"]["suv_window_min"])
    for participant in participants:
        for session in participant.sessions:
            make_scan(reference, participant, session, phantom, seed, window, root)
            if progress:
                progress(scan_id(participant.subject, session))
    return participants


def planned_dataset(config: dict) -> tuple[Cohort, str]:
    """The synthetic cohort as a run plans it (``synthpet.plan.plan_run``): its settings checked, the
    scans of the selected participants, and the folder it will be written to."""
    check_settings(config)
    if config["phantom"]["pattern_image"]:
        load_pattern_image(config["phantom"]["pattern_image"])
    return selected_scans(planned_cohort(config), config["input"]), phantom_dir(config)


# the input sources this harness plans, for plan_run(..., datasets=DATASETS)
DATASETS = {"phantom": planned_dataset}
