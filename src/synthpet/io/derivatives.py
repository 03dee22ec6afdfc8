"""BIDS-derivatives metadata: each derivatives folder's dataset_description.json and .bidsignore, and
the JSON sidecar of every image, read off its BIDS name (space, desc, suffix).

The three folders ``preproc/``, ``mni/`` and ``predictions/`` of the output are each a BIDS
derivatives dataset. Sidecars point at their sources and spatial references with BIDS URIs:
``bids:raw:...`` (the input dataset), ``bids:preproc:...`` and ``bids::...`` (the same dataset).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from synthpet import __version__
from synthpet.io.imageio import write_json, write_text
from synthpet.io.paths import json_sidecar

ROOTS = ("preproc", "mni", "predictions")
BIDS_VERSION = "1.10.0"
TITLES = {
    "preproc": "synthpet preprocessing: ingested T1w and SUV PET, brain mask, PET-to-T1w coregistration, model grid",
    "mni": "synthpet: images and transforms in MNI152NLin6Asym space",
    "predictions": "synthpet: synthetic TSPO PET predicted from the T1w by the cross-validated U-Net",
}
# BIDS has no transform files yet (BEP014): their names follow it (from-/to-/mode-, _xfm) and the
# validator is told to leave them alone
BIDSIGNORE = "*_xfm.*\n"

_MIN_MAX = "per-scan min-max of the SUV inside the brain mask, scaled to [0, 1]"
# how the model's target was scaled (preprocess.pet_scale), as the sidecars of target-scale images say it
TARGET_SCALE = {
    "minmax": _MIN_MAX,
    "mean": "the SUV divided by its whole-brain mean (SUVR) and by preprocess.pet_suvr_max, clipped to [0, 1]",
}
TARGET_SCALED = ("norm", "synthetic", "true")  # the descs whose meaning names the target's scale
PET_MEANING = {
    "suv": ("SUV of the post-injection window, from the input PET", "g/mL"),
    "brain": ("SUV resampled to the T1w and masked to the brain", "g/mL"),
    None: ("SUV resampled to the T1w, not masked", "g/mL"),
    "norm": ("the training target: {scale}", "arbitrary"),
    "synthetic": (
        "synthetic PET from the T1w by the fold model that did not see this participant ({scale})",
        "arbitrary",
    ),
    "true": ("the measured PET, genotype-corrected as the fold model was trained ({scale})", "arbitrary"),
    "smoothed": ("the measured PET of desc-true smoothed with the evaluation's Gaussian kernel", "arbitrary"),
    "noisefree": ("the synthetic cohort's noise-free PET (ground truth), normalized as desc-true", "arbitrary"),
    "anatomical": ("the part of the ground truth that the anatomy explains, normalized as desc-true", "arbitrary"),
    "anatomicalSUV": (
        "the part of the ground truth that the anatomy explains, in SUV (on no scan's own scale): Table 4 "
        "fits its honest ceiling from it",
        "g/mL",
    ),
    "syntheticSUVR": ("the synthetic PET of desc-synthetic divided by its mean in the reference region", "ratio"),
    "trueSUVR": ("the measured PET of desc-true divided by its mean in the reference region", "ratio"),
    "expectederror": (
        "where this scan's synthetic PET is expected to be wrong: at each voxel, the mean absolute error "
        "of the out-of-fold synthetic PET (desc-synthetic vs desc-true) of the scans in the other folds",
        "arbitrary",
    ),
}
T1W_MEANING = {
    "ingested": "the input T1w in canonical form (RAS+, float32), with skull",
    "brain": "the T1w masked to the brain",
    "norm": "the T1w scaled to [0, 1] between its 1st and 99th brain percentiles",
}


def entities(image: str | Path) -> tuple[dict[str, str], str]:
    """``sub-01_space-T1w_desc-brain_pet.nii.gz`` -> ({'sub': '01', 'space': 'T1w', 'desc': 'brain'}, 'pet')."""
    *pairs, suffix = Path(image).name.split(".")[0].split("_")
    return dict(pair.split("-", 1) for pair in pairs), suffix


def dataset_relative(path: str | Path, root: str | Path) -> str:
    """``path`` relative to the dataset ``root``, as the dataset names it: symlinks are not followed
    first (a DataLad dataset's images are links into .git/annex, or to another disk)."""
    absolute, base = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    if absolute.is_relative_to(base):
        return absolute.relative_to(base).as_posix()
    # the folders resolved, not the file (a link to elsewhere)
    resolved, base_resolved = Path(path).parent.resolve() / Path(path).name, Path(root).resolve()
    if resolved.is_relative_to(base_resolved):
        return resolved.relative_to(base_resolved).as_posix()
    return Path(os.path.relpath(absolute, base)).as_posix()


def dataset_description(root: str, raw_dir: str | Path, out_dir: str | Path, workflow: dict) -> dict:
    raw = Path(raw_dir).resolve().as_uri()
    commit = workflow.get("commit")
    generated = {"Name": "synthpet", "Version": __version__}
    if commit:
        generated["Description"] = f"workflow commit {commit}" + (" (modified)" if workflow.get("modified") else "")
    return {
        "Name": TITLES[root],
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [generated],
        "SourceDatasets": [{"URL": raw}],
        "DatasetLinks": {"raw": raw, "preproc": (Path(out_dir).resolve() / "preproc").as_uri()},
    }


def _write_if_changed(text: str, path: Path) -> None:
    """A file that already says the same is left untouched, so that runs at once do not race."""
    if not (path.exists() and path.read_text() == text):
        write_text(text, path)


def write_dataset_descriptions(out_dir: str | Path, raw_dir: str | Path, workflow: dict, group_level: bool) -> None:
    """dataset_description.json and .bidsignore of every derivatives folder that the run's level
    fills (predictions/ only at the group level: no empty folder), and the output folder's README."""
    for root in ROOTS if group_level else tuple(r for r in ROOTS if r != "predictions"):
        folder = Path(out_dir) / root
        folder.mkdir(parents=True, exist_ok=True)
        description = json.dumps(dataset_description(root, raw_dir, out_dir, workflow), indent=2, sort_keys=False)
        _write_if_changed(description + "\n", folder / "dataset_description.json")
        _write_if_changed(BIDSIGNORE, folder / ".bidsignore")
    _write_if_changed(output_readme(group_level), Path(out_dir) / "README.md")


# what each entry of the output folder holds, and at which level it is written
OUTPUT_LAYOUT = (
    (
        "sub-<label>.html",
        "participant",
        "one page per participant: each scan's QC figures with what a failure looks like, the dataset "
        "check's warnings, the methods; open these first",
    ),
    (
        "preproc/",
        "participant",
        "BIDS derivatives: per scan the ingested T1w and SUV PET, brain mask, PET-to-T1w transform, the "
        "PET in T1w space (whole, and brain-masked), the normalized model-grid images",
    ),
    (
        "mni/",
        "participant",
        "BIDS derivatives: T1w and brain mask in MNI152NLin6Asym space with the transforms; after the group "
        "level also the measured, smoothed and synthetic PET, SUVR and the expected-error map",
    ),
    (
        "qc/",
        "participant",
        "the QC figures (coregistration/, mni/; prediction/ after the group level); failed/ holds the "
        "figure of a scan that stopped a job",
    ),
    ("logs/", "participant", "each job's log (logs/<rule>/), the settings of each call (logs/app/), sidecar manifests"),
    ("benchmarks/", "participant", "each job's time and memory (benchmarks/<rule>/), as Snakemake measures them"),
    ("folds/", "group", "the cross-validation folds, each fold's genotype model and genotype-corrected PET"),
    ("models/", "group", "each fold's weights, losses and summary.json: what synthpet predict needs"),
    (
        "predictions/",
        "group",
        "BIDS derivatives: every scan's out-of-fold synthetic PET, on the model grid and in T1w space",
    ),
    (
        "evaluation/",
        "group",
        "headline.tsv first (the model and its baselines), Tables 2-5 of the paper and the other tables "
        "(TSV), figures/ (300 dpi PNG and SVG)",
    ),
    (
        "validation/",
        "group",
        "the synthetic cohort only: the outputs scored against its ground truth (the headline and Table 4 "
        "with the ceiling of a perfect T1w-only predictor, errors against the noise-free PET, planted effects)",
    ),
    (
        "methods.md, provenance.json",
        "group",
        "a methods paragraph written from the settings that ran; the config, package versions and workflow commit",
    ),
)


def output_readme(group_level: bool) -> str:
    """The output folder's README.md: what each entry holds, for what the run's level writes."""
    level = "group" if group_level else "participant"
    rows = [f"| `{name}` | {what} |" for name, at, what in OUTPUT_LAYOUT if group_level or at == "participant"]
    next_step = (
        "The HTML report of every table and figure: `synthpet BIDS_DIR OUTPUT_DIR group --report` "
        "(or `snakemake --report` from a checkout)."
        if group_level
        else "Next, when every participant is done: `synthpet BIDS_DIR OUTPUT_DIR group` (folds, training, "
        "predictions, statistics)."
    )
    return (
        "# synthpet outputs\n\n"
        f"Written by synthpet, last at the {level} level. Every image has a JSON sidecar (units, sources,\n"
        "space, fold); `preproc/`, `mni/` and `predictions/` are BIDS derivatives datasets.\n\n"
        "| entry | what it holds |\n|---|---|\n" + "\n".join(rows) + f"\n\n{next_step}\n"
    )


def dataset_root(image: str | Path) -> Path:
    """The derivatives folder an image lies in: the one that holds its ``sub-<label>`` folder."""
    image = Path(image).resolve()
    return next(parent.parent for parent in image.parents if parent.name.startswith("sub-"))


def sidecar(
    image: str | Path,
    raw: dict[str, str],
    grid_mask: str | Path,
    fold: int | None = None,
    suvr_reference=(),
    pet_scale: str = "minmax",
) -> dict:
    """The JSON sidecar of one derivative image. ``raw``: the scan's input T1w and PET, relative to
    the input dataset; ``grid_mask``: the scan's grid mask in preproc/, the reference of space-grid;
    ``fold``: the cross-validation fold whose model predicted the scan; ``suvr_reference``: the atlas
    regions of the SUVR reference (none: the whole brain); ``pet_scale``: preprocess.pet_scale."""
    image = Path(image)
    found, suffix = entities(image)
    desc, space = found.get("desc"), found.get("space")
    folder = dataset_root(image)
    root = folder.name
    meta: dict = {}
    sources = [f"bids:raw:{raw['t1w']}"] if suffix in ("T1w", "mask") else [f"bids:raw:{raw['pet']}"]
    if suffix == "T1w":
        meta["Description"] = T1W_MEANING.get(desc, "the T1w")
    elif suffix == "mask":
        meta["Description"] = "brain mask of the scan (1 inside the brain), from its skull stripping"
        meta["Type"] = "Brain"
    else:
        meaning, units = PET_MEANING[desc]
        meta["Description"] = meaning.format(scale=TARGET_SCALE[pet_scale])
        if desc in TARGET_SCALED:
            meta["TargetScale"] = pet_scale
        meta["Units"] = units
        if desc and desc.endswith("SUVR"):
            meta["ReferenceRegion"] = " + ".join(suvr_reference) or "whole brain (the scan's brain mask)"
        if desc in ("synthetic", "syntheticSUVR"):
            sources = [f"bids:raw:{raw['t1w']}"]
    if suffix != "mask":
        meta["SkullStripped"] = desc not in ("ingested", "suv", None)
    if fold is not None and root in ("predictions", "mni") and suffix == "pet" and desc != "suv":
        meta["CrossValidationFold"] = fold
        if desc in ("synthetic", "syntheticSUVR"):
            meta["Model"] = f"models/fold-{fold}/model.pt"
    if space == "T1w":
        meta["SpatialReference"] = f"bids:raw:{raw['t1w']}"
    elif space == "grid":
        relative = Path(grid_mask).resolve().relative_to(dataset_root(grid_mask)).as_posix()
        meta["SpatialReference"] = f"bids::{relative}" if root == "preproc" else f"bids:preproc:{relative}"
    meta["Sources"] = sources
    return meta


def write_sidecars(images: list[dict], manifest: str | Path, suvr_reference=(), pet_scale: str = "minmax") -> None:
    """The sidecar beside each image of ``images`` (dicts of image, raw, grid_mask and fold), then
    ``manifest``: one line per sidecar, its path and its content's SHA-256, written last.

    The manifest is the job's only declared output: declared one by one, the sidecars of the
    204-scan cohort were 4,500 outputs that Snakemake searched for every file of its DAG. An image
    that is missing stops the job before it writes anything: the workflow orders this job after the
    last image of each scan's chain, not after each image.
    """
    missing = [str(job["image"]) for job in images if not Path(job["image"]).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images have no file to describe, for example {missing[0]}")
    rows = ["sidecar\tsha256"]
    for job in images:
        meta = sidecar(job["image"], job["raw"], job["grid_mask"], job["fold"], suvr_reference, pet_scale)
        path = write_json(meta, json_sidecar(job["image"]))
        rows.append(f"{path}\t{hashlib.sha256(path.read_bytes()).hexdigest()}")
    write_text("\n".join(rows) + "\n", manifest)
