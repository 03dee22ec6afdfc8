"""BIDS(-derivatives) file names: the one place that builds them."""

from __future__ import annotations

import re
from pathlib import Path

LABEL = re.compile(r"^[0-9A-Za-z]+$")

# BIDS entity order for the names this project writes
_ENTITY_ORDER = ("sub", "ses", "trc", "space", "res", "from", "to", "mode", "desc", "fold")


def scan_id(subject: str, session: str | None) -> str:
    """The file-name prefix that identifies one scan, e.g. ``sub-01_ses-2``."""
    return f"sub-{subject}" + (f"_ses-{session}" if session else "")


def scan_dir(subject: str, session: str | None) -> str:
    return f"sub-{subject}" + (f"/ses-{session}" if session else "")


def json_sidecar(image: str | Path) -> str:
    """The JSON sidecar beside a ``.nii.gz`` image (``x_pet.nii.gz`` -> ``x_pet.json``)."""
    return str(image).removesuffix(".nii.gz") + ".json"


def bids_name(suffix: str, ext: str = ".nii.gz", **entities: str | int | None) -> str:
    """A BIDS file name from entities in canonical order, e.g. ``sub-01_space-T1w_desc-suv_pet.nii.gz``."""
    unknown = set(entities) - set(_ENTITY_ORDER)
    if unknown:
        raise ValueError(f"unknown BIDS entities {sorted(unknown)}")
    parts = [f"{key}-{entities[key]}" for key in _ENTITY_ORDER if entities.get(key) not in (None, "")]
    return "_".join([*parts, suffix]) + ext


def bids_path(
    root: str | Path,
    datatype: str,
    suffix: str,
    subject: str,
    session: str | None = None,
    ext: str = ".nii.gz",
    **entities: str | int | None,
) -> str:
    """Path of a per-scan file: ``root/sub-X[/ses-Y]/datatype/sub-X[_ses-Y]_..._suffix.ext``.

    Wildcard strings such as ``{subject}`` pass through untouched, so Snakemake rules build their
    patterns with the same function that the library uses for concrete files.
    """
    name = bids_name(suffix, ext, sub=subject, ses=session, **entities)
    return str(Path(root) / scan_dir(subject, session) / datatype / name)
