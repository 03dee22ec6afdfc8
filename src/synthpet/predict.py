"""``synthpet predict``: synthetic PET for new T1w scans, with every fold model of a finished run.

Each T1w goes through the workflow's own ingest, brain extraction and model grid. Every fold model
predicts it; the mean and the SD across folds come back on the input's own voxel grid (same shape,
same affine), masked by the brain mask at native resolution, each with a JSON sidecar, plus a QC
figure. Registrations run on one ITK thread, as in the workflow, so the same input gives the same
bytes. Output names keep the input's name (its BIDS entities included) and never overwrite the
outputs of another input.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from synthpet.errors import InputError, SynthpetError
from synthpet.evaluate.suvr import to_suvr
from synthpet.io.paths import json_sidecar

NIFTI_SUFFIXES = (".nii.gz", ".nii")
IMAGES = ("mean", "std", "mask")  # the outputs that are images, each with a JSON sidecar
# the prediction's units, by how the models' training targets were scaled (preprocess.pet_scale)
UNITS = {
    "minmax": "normalized SUV: each training scan's SUV min-max scaled to [0, 1] (unitless)",
    "mean": "normalized SUV: each training scan's SUVR to its whole-brain mean, divided by pet_suvr_max (unitless)",
}


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES) and not path.name.startswith(".")


def _extension(path: Path) -> str:
    return next((path.name[-len(s) :] for s in NIFTI_SUFFIXES if path.name.lower().endswith(s)), "")


def output_stem(t1w: str | Path) -> str:
    """The input's name without its NIfTI extension and T1w suffix (``sub-01_acq-1.0mm``; dots are kept)."""
    name = Path(t1w).name
    return name[: len(name) - len(_extension(Path(name)))].removesuffix("_T1w")


# BIDS suffixes of images that are not a T1w (any letter case): a file so named is never taken for one
OTHER_SUFFIXES = frozenset(
    s.lower() for s in ("pet", "T2w", "FLAIR", "PD", "T2starw", "bold", "dwi", "asl", "ct", "mask", "dseg", "probseg")
)


def _suffix(path: Path) -> str:
    return path.name[: -len(_extension(path))].rsplit("_", 1)[-1] if "_" in path.name else ""


def not_a_t1w(path: Path) -> str | None:
    """Why ``path`` is not a T1w image (its name, JSON sidecar, header and voxels); None if it may be one."""
    from synthpet.io.bids import COARSE_T1W_MM
    from synthpet.io.contrast import contrast_problems
    from synthpet.io.imageio import field_of_view_problems, geometry_problems, load_header

    suffix = _suffix(path)
    if suffix.lower() in OTHER_SUFFIXES:
        return f"{path}: named as a {suffix} image (_{suffix}); synthpet predict takes T1w images"
    sidecar = path.with_name(path.name[: -len(_extension(path))] + ".json")
    if sidecar.is_file():
        try:
            metadata = json.loads(sidecar.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            metadata = {}
        modality = str(metadata.get("Modality", "")).upper() if isinstance(metadata, dict) else ""
        if modality in ("PT", "CT", "NM") or (isinstance(metadata, dict) and "TracerName" in metadata):
            return f"{path}: its sidecar {sidecar.name} describes a {modality or 'PET'} image, not a T1w"
    try:
        header = load_header(path)
    except InputError as err:
        return "; ".join(err.problems)
    shape = header.shape[:3] if len(header.shape) == 4 and header.shape[3] == 1 else header.shape
    if len(shape) != 3:
        return f"{path}: a T1w is a 3D image, but this one has shape {header.shape}"
    problems, _ = geometry_problems(header, path, "T1w", COARSE_T1W_MM)
    problems = problems or field_of_view_problems(header, path, "T1w")
    # last, as it reads every voxel: a PET or a CT that its name and sidecar do not give away
    return "; ".join(problems or contrast_problems(header, path)) or None


def find_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """The T1w images named, folders expanded, all checked before any work.

    A folder gives its ``*_T1w.nii[.gz]`` files; when none is so named, its NIfTI images that carry
    no other BIDS suffix. Refused, all at once: missing files, files that are not NIfTI, images named
    or described (JSON sidecar) as another modality, images that are not 3D or have no usable
    geometry, and two inputs with one output name.
    """
    found, problems = [], []
    for given in map(Path, paths):
        if given.is_dir():
            images = sorted(p for p in given.rglob("*") if p.is_file() and _is_nifti(p))
            named = [p for p in images if _suffix(p) == "T1w"]
            unnamed = [p for p in images if _suffix(p).lower() not in OTHER_SUFFIXES]
            chosen = named or unnamed
            if not images:
                problems.append(f"{given}: the folder holds no NIfTI image (.nii or .nii.gz)")
            elif not chosen:
                problems.append(
                    f"{given}: the folder holds no T1w image (only {', '.join(p.name for p in images[:3])})"
                )
            found += chosen
        elif not given.exists():
            problems.append(f"{given}: no such file or folder")
        elif not _is_nifti(given):
            problems.append(f"{given}: not a NIfTI image (expected .nii or .nii.gz)")
        else:
            found.append(given)
    problems += [problem for problem in map(not_a_t1w, found) if problem]
    stems: dict[str, Path] = {}
    for path in found:
        other = stems.setdefault(output_stem(path), path)
        if other != path:
            problems.append(f"{path} and {other} would both be written as {output_stem(path)}_*; rename one")
    if problems:
        raise InputError(problems, header="synthpet predict cannot use these inputs")
    if not found:
        raise InputError("no T1w image given")
    return found


@dataclass(frozen=True)
class FoldModels:
    folder: Path
    weights: tuple[Path, ...]
    model_settings: tuple[dict, ...]
    preprocess: dict
    seed: int
    trained_on: str  # 'phantom', 'bids' or 'unknown' (models trained before this was recorded)
    # the run's scans that no fold here held out: a fold of the run is missing from the folder
    unheld: tuple[str, ...] = ()


def load_fold_models(model_dir: str | Path) -> FoldModels:
    """The fold models of a finished run, checked: present, complete, prepared with one set of settings."""
    folder = Path(model_dir)
    if not folder.is_dir():
        raise SynthpetError(f"{folder}: no such models folder; give --models the models/ folder of a finished run")
    summaries = sorted(folder.glob("fold-*/summary.json"))
    if not summaries and (folder / "summary.json").is_file():
        raise SynthpetError(
            f"{folder}: one fold's folder; give --models the folder that holds the fold-* folders, {folder.parent}"
        )
    if not summaries:
        raise SynthpetError(f"{folder}: no fold-*/summary.json; train the models with the workflow first")
    weights, models, preprocess, seeds, sources = [], [], [], set(), set()
    cohort, held_out = set(), set()
    for path in summaries:
        try:
            summary = json.loads(path.read_text())
            models.append(summary["settings"]["model"])
            seeds.add(summary["settings"]["seed"])
            # models trained before the canonical frame existed saw scanner-aligned grids
            preprocess.append({"grid_frame": "scanner"} | summary["preprocess"])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise SynthpetError(f"{path}: not a fold summary written by synthpet ({err})") from None
        sources.add(summary.get("trained_on", "unknown"))
        scans = summary.get("scans") or {}
        cohort.update(scans.get("train", []), scans.get("held_out", []))
        held_out.update(scans.get("held_out", []))
        if not (path.parent / "model.pt").exists():
            raise SynthpetError(f"{path.parent / 'model.pt'}: missing; the fold's training did not finish")
        weights.append(path.parent / "model.pt")
    if any(p != preprocess[0] for p in preprocess) or len(seeds) > 1:
        raise SynthpetError(f"{folder}: the fold models were prepared with different settings; use one run's models")
    trained_on = sources.pop() if len(sources) == 1 else "mixed"
    unheld = tuple(sorted(cohort - held_out))
    return FoldModels(folder, tuple(weights), tuple(models), preprocess[0], seeds.pop(), trained_on, unheld)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refuse_foreign_outputs(outputs: dict[str, Path], source: Path, force: bool) -> None:
    """An existing output of another input (its sidecar names another source) is never overwritten."""
    for key in IMAGES:
        path, sidecar = outputs[key], Path(json_sidecar(outputs[key]))
        if force or not sidecar.exists():
            continue
        try:
            previous = json.loads(sidecar.read_text()).get("Sources", [None])[0]
        except (json.JSONDecodeError, AttributeError, IndexError):
            previous = None
        if previous != str(source.resolve()):
            raise SynthpetError(
                f"{path}: already written for {previous or 'another input'}; choose another --out "
                "(or --force to overwrite)"
            )


def predict_new(
    t1ws: Sequence[str | Path],
    model_dir: str | Path,
    out_dir: str | Path,
    device: str = "auto",
    force: bool = False,
    progress: Callable[[str], None] = lambda message: None,
    warn: Callable[[str], None] = lambda message: None,
) -> dict[str, dict[str, Path]]:
    """Synthetic PET of each T1w (a file or a folder of them) with every fold model of ``model_dir``.

    Returns the outputs per input stem; ``warn`` hears what the user should know before trusting
    them. Everything is checked before the first registration runs.
    """
    # ITK gives bit-identical registrations only on one thread, even seeded (as in the workflow);
    # read when ITK first starts its threads, so set before antspyx is imported
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = "1"
    from synthpet import __version__
    from synthpet.learn.training import resolve_device

    inputs = find_inputs(t1ws)
    models = load_fold_models(model_dir)
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise SynthpetError(f"{out}: --out names a file; give a folder")
    planned = {path: _outputs(out, output_stem(path)) for path in inputs}
    for path, outputs in planned.items():
        _refuse_foreign_outputs(outputs, path, force)
    try:
        target = resolve_device(device)
    except RuntimeError as err:
        raise SynthpetError(str(err)) from None
    if models.unheld:
        warn(
            f"{models.folder} lacks a fold of its run: {len(models.weights)} fold models, and no fold here held out "
            f"{len(models.unheld)} of the run's scans (e.g. {models.unheld[0]}); the prediction averages the folds "
            "that are present"
        )
    if models.trained_on != "bids":
        what = "the synthetic cohort" if models.trained_on == "phantom" else "data of unknown origin"
        warn(
            f"the models in {models.folder} were trained on {what}; on real scans their output shows what "
            "the method does, not a subject's [11C]PBR28 uptake"
        )
    from synthpet.learn.model import ModelConfig
    from synthpet.learn.training import load_model

    networks = [
        load_model(w, ModelConfig.from_dict(m), target)
        for w, m in zip(models.weights, models.model_settings, strict=True)
    ]
    facts = {
        "models": [{"path": str(p.resolve()), "sha256": _sha256(p)} for p in models.weights],
        "trained_on": models.trained_on,
        "device": str(target),
        "version": __version__,
    }
    results = {}
    for path, outputs in planned.items():
        progress(f"predicting {path}")
        _predict_one(path, models, networks, outputs, target, facts)
        # after a scan's outputs exist: a run that fails on its first scan leaves no folder of metadata alone
        write_description(out, models)
        results[output_stem(path)] = outputs
    return results


def output_folders(out: Path, stem: str) -> tuple[Path, Path]:
    """(images, figures) folders of an input's outputs: ``sub-<label>/[ses-<label>/]pet`` and
    ``sub-<label>/figures`` (fMRIPrep's place for QC) when its name starts with BIDS's subject
    entity (and session), else ``out`` itself: a name without ``sub-`` cannot be placed in BIDS."""
    subject, _, rest = stem.partition("_")
    if not subject.startswith("sub-") or len(subject) == len("sub-"):
        return out, out
    session = rest.split("_", 1)[0]
    base = out / subject
    return (base / session / "pet" if session.startswith("ses-") else base / "pet"), base / "figures"


def _outputs(out: Path, stem: str) -> dict[str, Path]:
    images, figures = output_folders(out, stem)
    return {
        "mean": images / f"{stem}_desc-synthetic_pet.nii.gz",
        "std": images / f"{stem}_desc-synthetic_stat-std_pet.nii.gz",
        "suvr": images / f"{stem}_desc-syntheticSUVR_pet.nii.gz",
        "mask": images / f"{stem}_desc-brain_mask.nii.gz",
        "qc": figures / f"{stem}_desc-synthetic_qc.png",
        "qc_std": figures / f"{stem}_desc-synthetic_stat-std_qc.png",
    }


def write_description(out: Path, models: FoldModels) -> None:
    """The output folder's dataset_description.json: a BIDS derivatives dataset made by synthpet."""
    from synthpet import __version__
    from synthpet.io.derivatives import BIDS_VERSION
    from synthpet.io.imageio import write_json

    write_json(
        {
            "Name": "synthpet: synthetic [11C]PBR28 PET from T1w images",
            "BIDSVersion": BIDS_VERSION,
            "DatasetType": "derivative",
            "GeneratedBy": [
                {
                    "Name": "synthpet",
                    "Version": __version__,
                    "Description": f"synthpet predict, models of {models.folder}",
                }
            ],
        },
        out / "dataset_description.json",
    )


def _predict_one(t1w: Path, models: FoldModels, networks: list, outputs: dict[str, Path], target, facts: dict) -> None:
    from synthpet.io.imageio import from_canonical, load_header, save_nifti, write_json
    from synthpet.learn.inference import predict_volume
    from synthpet.preprocess import steps
    from synthpet.preprocess.ingest import ingest_t1w
    from synthpet.preprocess.model_grid import from_grid
    from synthpet.preprocess.qc import overlay_figure
    from synthpet.preprocess.settings import GridSettings, MaskSettings, PetScale

    settings, stem = models.preprocess, output_stem(t1w)
    original = load_header(t1w)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ingest_t1w(t1w, work / "t1.nii.gz")
        steps.brain_mask(
            work / "t1.nii.gz",
            work / "mask.nii.gz",
            work / "brain.nii.gz",
            work / "xfm.txt",
            settings["backend"],
            MaskSettings.from_config(settings),
            models.seed,
            stem,
            str(outputs["qc"].with_name(f"{stem}_desc-brainmask_qc.png")),
        )
        grid, grid_mask = steps.grid_t1w(
            work / "brain.nii.gz",
            work / "mask.nii.gz",
            work / "xfm.txt",
            work / "t1g.nii.gz",
            work / "maskg.nii.gz",
            GridSettings.from_config(settings),
            stem,
        )
        native_t1 = nib.load(work / "t1.nii.gz")
        mask = np.asarray(nib.load(work / "mask.nii.gz").dataobj) > 0
        t1_data = np.asarray(native_t1.dataobj, np.float32)
    t1_grid = grid.get_fdata(dtype=np.float32)
    stack = np.stack([predict_volume(network, t1_grid, grid_mask, target) for network in networks])
    native = {
        key: np.asarray(from_grid(volume, grid.affine, native_t1).dataobj, np.float32) * mask
        for key, volume in (("mean", stack.mean(axis=0)), ("std", stack.std(axis=0)))
    }
    # a ratio to the whole brain's mean (the reference region of [11C]PBR28 ratio measures): unlike the
    # per-scan [0, 1] scale, it can be compared between participants and groups
    native["suvr"] = to_suvr(native["mean"], mask, str(t1w))
    source = {"Sources": [str(t1w.resolve())], "SourceSHA256": _sha256(t1w), "SynthpetVersion": facts["version"]}
    described = {
        "mean": f"synthetic [11C]PBR28 PET, mean of {len(models.weights)} fold models",
        "std": f"SD across {len(models.weights)} fold models (uncertainty of the synthetic PET)",
        "suvr": "the synthetic PET divided by its mean inside the brain mask (SUVR, whole-brain reference)",
    }
    scale = UNITS[PetScale.from_config(settings).pet_scale]
    units = {"mean": scale, "std": scale, "suvr": "ratio to the whole-brain mean (unitless)"}
    for key in ("mean", "std", "suvr"):
        save_nifti(from_canonical(native[key], original), original.affine, outputs[key])
        write_json(
            source
            | {
                "Description": described[key],
                "Units": units[key],
                "SpatialReference": "the input T1w's voxel grid (same shape and affine)",
                "MaskedBy": outputs["mask"].name,
                "Models": facts["models"],
                "TrainedOn": facts["trained_on"],
                "Device": facts["device"],
                "ModelGrid": {
                    "shape": settings["grid_shape"],
                    "voxel_mm": settings["grid_voxel_mm"],
                    "frame": settings["grid_frame"],
                },
            },
            json_sidecar(outputs[key]),
        )
    save_nifti(from_canonical(mask.astype(np.uint8), original), original.affine, outputs["mask"], dtype=np.uint8)
    write_json(
        source | {"Description": "brain mask of the input T1w", "Type": "Brain", "Backend": settings["backend"]},
        json_sidecar(outputs["mask"]),
    )
    # the mean, and where the folds disagree (the synthetic PET is least certain there)
    for key, qc, title, label in (
        ("mean", "qc", "synthetic PET (mean of folds) and brain mask (cyan outline)", "synthetic PET (model scale)"),
        (
            "std",
            "qc_std",
            f"SD of the synthetic PET across {len(models.weights)} fold models",
            "SD across folds (model scale)",
        ),
    ):
        overlay_figure(t1_data, outputs[qc], f"{stem}: {title}", mask=mask, pet=native[key], pet_label=label)
