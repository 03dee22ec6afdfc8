"""The positive control, read lesion by lesion: how much of each white-matter lesion's raised TSPO
signal (anatomy that the T1w shows, see phantom.lesion_field) the synthetic PET of a held-out scan
recovers, beside the population mean of its fold's training scans, which cannot know the lesion.

A lesion's contrast is the mean inside it (within 0.7 of its radius, so that the blurred edge does
not count) over the mean of a shell around it (4 to 10 mm beyond its radius), each inside the scan's
own brain, in MNI space. The lesion centres are the phantom's reference space, which is MNI space.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from synthpet.validation.phantom import grid_world

# where a lesion is read (mm): its core, and the shell around it
CORE_FRACTION = 0.7
SHELL_MM = (4.0, 10.0)
MIN_VOXELS = {"core": 2, "shell": 10}  # fewer: the lesion is not read (too small for the voxel size)
IMAGES = ("truth", "measured", "model", "popmean")
FIGURE_IMAGES = ("t1w", "pet", "pet_smoothed", "synthetic", "noisefree")  # the example's own, in the figure


def lesion_regions(centre_mm, radius_mm: float, world: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """(core, shell) of one lesion, as boolean volumes of ``shape``, whose voxels lie at ``world``
    ((3, voxels), phantom.grid_world)."""
    distance = np.linalg.norm(world - np.asarray(centre_mm, np.float32)[:, None], axis=0).reshape(shape)
    core = distance < CORE_FRACTION * radius_mm
    shell = (distance > radius_mm + SHELL_MM[0]) & (distance < radius_mm + SHELL_MM[1])
    return core, shell


def contrast(volume: np.ndarray, core: np.ndarray, shell: np.ndarray) -> float:
    return float(np.nanmean(volume[core]) / np.nanmean(volume[shell]))


def fold_population_means(pet_paths, masks, folds) -> dict:
    """Per fold, the mean measured PET of its training scans (every scan of the other folds), each
    inside its own brain: the population-mean baseline, as a volume."""
    from synthpet.evaluate.statistics import scans_mean

    folds = np.asarray(folds)
    pet = np.stack([np.asarray(nib.load(path).dataobj, np.float32) for path in pet_paths])
    pet[~np.stack([np.asarray(nib.load(path).dataobj) > 0 for path in masks])] = np.nan
    return {fold: scans_mean(pet[folds != fold]) for fold in np.unique(folds)}


def lesion_contrasts(
    scans: pd.DataFrame, truths, images: dict[str, list[str]], masks, popmeans: dict, affine: np.ndarray
) -> pd.DataFrame:
    """One row per readable lesion of every scan: its contrast in the noise-free truth, the measured
    PET, the synthetic PET and the population mean of the fold's training scans (measured PET, each
    inside its own brain), and ``recovered``: the share of the truth's contrast over the mean's that
    the model reproduces, (model - popmean) / (truth - popmean); 0 for a model that learned nothing of
    the lesion, 1 for one that learned all of it.

    ``scans``: scan, subject, fold; ``truths``: each scan's ground-truth JSON (lesion centres and
    radii); ``images``: per scan, its ``noisefree``, ``pet`` and ``synthetic`` MNI images; ``masks``:
    its brain mask there; ``popmeans``: each fold's population mean (``fold_population_means``).
    """
    folds = scans["fold"].to_numpy()
    world = None
    rows = []
    for i, scan in enumerate(scans.itertuples()):
        truth = json.loads(Path(truths[i]).read_text())
        if not truth.get("lesion_radii_mm") or folds[i] not in popmeans:
            continue
        brain = np.asarray(nib.load(masks[i]).dataobj) > 0
        world = grid_world(affine, brain.shape) if world is None else world
        volumes = {
            "truth": np.asarray(nib.load(images["noisefree"][i]).dataobj, np.float32),
            "measured": np.asarray(nib.load(images["pet"][i]).dataobj, np.float32),
            "model": np.asarray(nib.load(images["synthetic"][i]).dataobj, np.float32),
            "popmean": popmeans[folds[i]],
        }
        for number, (centre, radius) in enumerate(
            zip(truth["lesion_centres_reference_mm"], truth["lesion_radii_mm"], strict=True)
        ):
            core, shell = lesion_regions(centre, radius, world, brain.shape)
            core, shell = core & brain, shell & brain
            if core.sum() < MIN_VOXELS["core"] or shell.sum() < MIN_VOXELS["shell"]:
                continue
            row = {"scan": scan.scan, "subject": scan.subject, "fold": scan.fold, "lesion": number}
            row |= {"radius_mm": radius, "core_voxels": int(core.sum())}
            row |= {f"contrast_{key}": contrast(volume, core, shell) for key, volume in volumes.items()}
            excess = row["contrast_truth"] - row["contrast_popmean"]
            row["recovered"] = (row["contrast_model"] - row["contrast_popmean"]) / excess if excess > 0 else np.nan
            rows.append(row)
    columns = ["scan", "subject", "fold", "lesion", "radius_mm", "core_voxels"]
    return pd.DataFrame(rows, columns=[*columns, *(f"contrast_{key}" for key in IMAGES), "recovered"])


def lesion_summary(lesions: pd.DataFrame) -> pd.DataFrame:
    """Over every read lesion: the median contrast of each image, the median share recovered, and the
    one-sided Wilcoxon test over participants (their lesions averaged) that the model's contrast
    exceeds the population mean's: does the model show the lesions at all?"""
    import pingouin as pg

    from synthpet.evaluate.statistics import pvalue

    row = {"lesions": len(lesions), "scans": lesions["scan"].nunique(), "participants": lesions["subject"].nunique()}
    for key in IMAGES:
        row[f"median_contrast_{key}"] = lesions[f"contrast_{key}"].median()
    row["median_recovered"] = lesions["recovered"].median()
    participants = lesions.groupby("subject")[["contrast_model", "contrast_popmean"]].mean()
    model, popmean = participants["contrast_model"], participants["contrast_popmean"]
    row["p_model_over_popmean"] = (
        pvalue(pg.wilcoxon(model, popmean, alternative="greater")) if len(participants) >= 2 else np.nan
    )
    return pd.DataFrame([row])


def write_lesion_control(inputs: dict, outputs: dict, scans: list[str], example: str) -> None:
    """The lesions of every held-out scan read (``lesion_contrasts``, ``lesion_summary``), and Figure 2
    of the ``example`` scan through its largest lesion that could be read, with the noise-free truth
    and the population mean beside the measured and synthetic PET.

    ``inputs``: the ``folds`` table, and per scan of ``scans``, in their order, ``truth`` (its
    ground-truth JSON) and its MNI ``t1w``, ``pet``, ``pet_smoothed``, ``synthetic``, ``noisefree``
    and ``mask``.
    """
    from synthpet.evaluate.figures import example_slices
    from synthpet.evaluate.statistics import write_tsv
    from synthpet.learn.folds import read_folds

    folds = read_folds(inputs["folds"]).set_index("scan")
    scans = folds.loc[scans, ["subject", "fold"]].reset_index()
    affine = nib.load(inputs["mask"][0]).affine
    popmeans = fold_population_means(inputs["pet"], inputs["mask"], scans["fold"])
    lesions = lesion_contrasts(scans, inputs["truth"], inputs, inputs["mask"], popmeans, affine)
    write_tsv(lesions, outputs["lesions"])
    write_tsv(lesion_summary(lesions), outputs["summary"])

    i = list(scans["scan"]).index(example)
    shown = lesions[lesions["scan"] == example].sort_values("radius_mm").tail(1)
    volumes = {key: np.asarray(nib.load(inputs[key][i]).dataobj, np.float32) for key in FIGURE_IMAGES}
    volumes["popmean"] = np.nan_to_num(popmeans[scans["fold"][i]])
    brain = np.asarray(nib.load(inputs["mask"][i]).dataobj) > 0
    title = f"{example}: no lesion could be read"
    centre, circle = None, None
    if len(shown):
        lesion = shown.iloc[0]
        truth = json.loads(Path(inputs["truth"][i]).read_text())
        centre_mm = np.asarray(truth["lesion_centres_reference_mm"][int(lesion["lesion"])])
        centre = np.round(nib.affines.apply_affine(np.linalg.inv(affine), centre_mm)).astype(int)
        circle = float(lesion["radius_mm"]) / float(nib.affines.voxel_sizes(affine).mean())
        title = (
            f"{example}, held out: its largest lesion ({lesion['radius_mm']:.1f} mm, ringed); contrast in the truth "
            f"{lesion['contrast_truth']:.3f}, synthetic {lesion['contrast_model']:.3f}, "
            f"population mean {lesion['contrast_popmean']:.3f}"
        )
    example_slices(
        volumes,
        brain,
        title,
        outputs["figure"],
        affine=affine,
        centre=centre,
        extra=(("noisefree", "noise-free truth"), ("popmean", "population mean\n(training scans)")),
        circle_voxels=circle,
    )
