"""BIDS(-derivatives) file names: the one place that builds them."""

from __future__ import annotations

import re
from pathlib import Path

LABEL = re.compile(r"^[0-9A-Za-z]+$")

# BIDS entity order for the names this project writes
_ENTITY_ORDER = ("sub", "ses", "trc", "space", "res", "from", "to", "mode", "desc", "fold")
# entities of an input image that its derivatives keep (BIDS derivatives: a derivative carries its
# source's entities): those a raw T1w or PET name may hold, never those the workflow sets itself
SOURCE_ENTITIES = (
    "task",
    "acq",
    "ce",
    "trc",
    "stain",
    "rec",
    "dir",
    "run",
    "mod",
    "echo",
    "flip",
    "inv",
    "mt",
    "part",
    "chunk",
)
# a scan's source entities as they sit in a file name (``_trc-PBR28_run-1``; empty when none): the
# wildcard pattern of the rules that name derivatives after their source
SOURCE_PATTERN = "(_(" + "|".join(SOURCE_ENTITIES) + ")-[0-9A-Za-z]+)*"


def scan_id(subject: str, session: str | None) -> str:
    """The file-name prefix that identifies one scan, e.g. ``sub-01_ses-2``."""
    return f"sub-{subject}" + (f"_ses-{session}" if session else "")


def scan_dir(subject: str, session: str | None) -> str:
    return f"sub-{subject}" + (f"/ses-{session}" if session else "")


def source_entities(image: str | Path) -> str:
    """The entities a derivative of ``image`` keeps, in the source's order:
    ``sub-01_ses-1_trc-PBR28_rec-acdyn_pet.nii.gz`` -> ``_trc-PBR28_rec-acdyn``; empty for ``sub-01_T1w.nii``."""
    *pairs, _suffix = Path(image).name.split(".", 1)[0].split("_")
    kept = [pair for pair in pairs if pair.split("-", 1)[0] in SOURCE_ENTITIES and "-" in pair]
    return "".join(f"_{pair}" for pair in kept)


def json_sidecar(image: str | Path) -> str:
    """The JSON sidecar beside a ``.nii.gz`` image (``x_pet.nii.gz`` -> ``x_pet.json``)."""
    return str(image).removesuffix(".nii.gz") + ".json"


def bids_name(suffix: str, ext: str = ".nii.gz", source: str = "", **entities: str | int | None) -> str:
    """A BIDS file name from entities in canonical order, e.g. ``sub-01_space-T1w_desc-suv_pet.nii.gz``;
    ``source``: the source image's entities (see source_entities, or a wildcard), after sub and ses."""
    unknown = set(entities) - set(_ENTITY_ORDER)
    if unknown:
        raise ValueError(f"unknown BIDS entities {sorted(unknown)}")
    parts = [f"{key}-{entities[key]}" for key in _ENTITY_ORDER if entities.get(key) not in (None, "")]
    head = [part for part in parts if part.startswith(("sub-", "ses-"))]
    return "_".join(["_".join(head) + source, *parts[len(head) :], suffix]) + ext


def bids_path(
    root: str | Path,
    datatype: str,
    suffix: str,
    subject: str,
    session: str | None = None,
    ext: str = ".nii.gz",
    source: str = "",
    **entities: str | int | None,
) -> str:
    """Path of a per-scan file: ``root/sub-X[/ses-Y]/datatype/sub-X[_ses-Y]_..._suffix.ext``.

    Wildcard strings such as ``{subject}`` pass through untouched, so Snakemake rules build their
    patterns with the same function that the library uses for concrete files.
    """
    name = bids_name(suffix, ext, source, sub=subject, ses=session, **entities)
    return str(Path(root) / scan_dir(subject, session) / datatype / name)
