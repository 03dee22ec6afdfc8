"""The BIDS input contract: discover every (T1w, PET) scan and report every unusable one at once.

A scan is one session of one participant (or the participant, in a dataset without sessions).
Discovery uses pybids; it reads only headers and sidecars, so it is cheap enough to run when
Snakemake builds the DAG, before any job starts.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from synthpet.errors import InputError
from synthpet.io.imageio import field_of_view_problems, geometry_problems, load_header, read_json, read_text
from synthpet.io.paths import LABEL, scan_id, source_entities
from synthpet.io.suv import recipe_from_sidecar, window_weights

GENOTYPES = ("HAB", "MAB", "LAB")
_NIFTI = (".nii", ".nii.gz")


@dataclass(frozen=True)
class Scan:
    subject: str
    session: str | None
    t1w: str
    pet: str
    group: str
    genotype: str
    # JSON sidecars that apply to the PET image, outermost first (BIDS inheritance)
    pet_sidecars: tuple[str, ...] = ()
    # body weight (kg) from sessions.tsv or participants.tsv (BIDS 'weight'); None: the sidecar's BodyWeight
    weight_kg: float | None = None

    @property
    def id(self) -> str:
        return scan_id(self.subject, self.session)

    @property
    def wildcards(self) -> dict[str, str]:
        """The values of the workflow's per-scan wildcards: derivatives of the T1w keep its entities
        (``acq-``, ``run-``, ...), those of the PET the PET's (``trc-``, ``rec-``, ...)."""
        values = {
            "subject": self.subject,
            "anat_entities": source_entities(self.t1w),
            "pet_entities": source_entities(self.pet),
        }
        if self.session:
            values["session"] = self.session
        return values


@dataclass
class Cohort:
    scans: list[Scan]
    excluded: dict[str, str] = field(default_factory=dict)  # scan id -> reason
    warnings: list[str] = field(default_factory=list)  # usable, but the user should look

    @property
    def has_sessions(self) -> bool:
        return any(scan.session for scan in self.scans)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "scan": s.id,
                    "subject": s.subject,
                    "session": s.session or "n/a",
                    "group": s.group,
                    "genotype": s.genotype,
                }
                for s in self.scans
            ]
        )


def select_participants(available, input_config: dict, where: str) -> list[str]:
    """The participants a run covers: ``input.participant_label`` (every one when empty) less
    ``input.exclude_participant_label``; a label that ``where`` lacks is an error naming the key."""
    available = sorted(available)
    problems, chosen = [], available
    for key in ("participant_label", "exclude_participant_label"):
        labels = [label.removeprefix("sub-") for label in input_config[key]]
        missing = sorted(set(labels) - set(available))
        if missing:
            problems.append(
                f"config key 'input.{key}': {', '.join('sub-' + m for m in missing)} not in {where} "
                f"(it has {', '.join('sub-' + a for a in available[:8])}{', ...' if len(available) > 8 else ''})"
            )
        if key == "participant_label" and labels:
            chosen = [s for s in chosen if s in labels]
        elif key == "exclude_participant_label":
            chosen = [s for s in chosen if s not in labels]
    if problems:
        raise InputError(problems, header="participant selection")
    if not chosen:
        raise InputError(f"{where}: the participant selection leaves no participant (input.exclude_participant_label)")
    return chosen


def _entities(name: str) -> tuple[dict[str, str], str]:
    """Entities and suffix of a BIDS file name (``sub-01_ses-1_T1w.nii.gz`` -> ({sub: 01, ses: 1}, T1w))."""
    stem = name.split(".", 1)[0]
    *pairs, suffix = stem.split("_")
    return dict(pair.split("-", 1) for pair in pairs if "-" in pair), suffix


def sidecar_chain(image: str | Path, root: str | Path) -> list[str]:
    """JSON sidecars that apply to ``image`` under the BIDS inheritance principle, outermost first.

    At each folder from the dataset root down to the image's own, a JSON file applies when its
    suffix matches and each of its entities is in the image's name with the same value.
    """
    image, root = Path(image), Path(root)
    entities, suffix = _entities(image.name)
    chain = []
    parts = image.parent.relative_to(root).parts
    for folder in [root / Path(*parts[:depth]) for depth in range(len(parts) + 1)]:
        candidates = []
        for candidate in sorted(folder.glob(f"*{suffix}.json")):
            found, found_suffix = _entities(candidate.name)
            if found_suffix == suffix and all(entities.get(k) == v for k, v in found.items()):
                candidates.append((len(found), str(candidate)))
        chain.extend(path for _, path in sorted(candidates))
    return chain


def merged_metadata(sidecars: list[str] | tuple[str, ...]) -> dict:
    metadata: dict = {}
    for path in sidecars:
        metadata.update(read_json(path))
    return metadata


def _read_tsv(path: Path) -> tuple[pd.DataFrame | None, str | None]:
    """A BIDS TSV as strings (UTF-8, a byte-order mark allowed), or None and what is wrong with it."""
    try:
        text = read_text(path, "participants table")
    except InputError as err:
        return None, str(err.problems[0])
    if not text.strip():
        return None, f"{path}: the file is empty; it must list participant_id, group and genotype for every participant"
    try:
        table = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as err:
        return None, f"{path}: not a readable tab-separated table ({err})"
    table.columns = [str(c).strip() for c in table.columns]
    if len(table.columns) == 1:
        header = text.lstrip("\ufeff").splitlines()[0]
        for separator, name in ((",", "commas"), (";", "semicolons"), (" ", "spaces")):
            if separator in header.strip():
                return None, f"{path}: its columns are separated by {name}; BIDS tables separate them by tabs"
    return table, None


def read_participants(root: Path, groups: list[str]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """participants.tsv as {label: (group, genotype)}, and the problems found in it."""
    path = root / "participants.tsv"
    if not path.exists():
        return {}, [f"{path}: missing; it must list participant_id, group and genotype for every participant"]
    table, problem = _read_tsv(path)
    if problem:
        return {}, [problem]
    missing = [c for c in ("participant_id", "group", "genotype") if c not in table.columns]
    if missing:
        return {}, [f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(table.columns)})"]
    problems, rows = [], {}
    for line, row in enumerate(table.itertuples(index=False), start=2):
        pid, group, genotype = row.participant_id.strip(), row.group.strip(), row.genotype.strip()
        where = f"{path}, line {line} ({pid or 'no participant_id'})"
        label = pid.removeprefix("sub-")
        if not pid.startswith("sub-") or not LABEL.match(label):
            problems.append(f"{where}: participant_id must be 'sub-' followed by letters and digits only")
            continue
        if label in rows:
            problems.append(f"{where}: {pid} is listed twice")
            continue
        if group in ("", "n/a"):
            problems.append(f"{where}: no group (expected one of {', '.join(groups)})")
        elif group not in groups:
            problems.append(f"{where}: unknown group '{group}' (expected one of {', '.join(groups)}; see input.groups)")
        if genotype in ("", "n/a"):
            problems.append(f"{where}: no genotype (expected one of {', '.join(GENOTYPES)})")
        elif genotype not in GENOTYPES:
            problems.append(f"{where}: unknown genotype '{genotype}' (expected one of {', '.join(GENOTYPES)})")
        rows[label] = (group, genotype)
    return rows, problems


# what a weight in kg can be; outside it, grams or pounds are more likely
WEIGHT_RANGE_KG = (10.0, 400.0)


def _weight_column(table: pd.DataFrame, path: Path, key: str) -> tuple[dict[str, float], list[str]]:
    """{id in column ``key``: weight in kg} of a BIDS table's optional ``weight`` column, and its problems."""
    if "weight" not in table.columns:
        return {}, []
    weights, problems = {}, []
    for line, (label, value) in enumerate(zip(table[key], table["weight"], strict=True), start=2):
        value = str(value).strip()
        if value in ("", "n/a"):
            continue
        try:
            kg = float(value)
        except ValueError:
            problems.append(f"{path}, line {line} ({label}): weight {value!r} is not a number (kg)")
            continue
        if not WEIGHT_RANGE_KG[0] <= kg <= WEIGHT_RANGE_KG[1]:
            problems.append(f"{path}, line {line} ({label}): weight {kg:g} is not a plausible weight in kg (10-400)")
            continue
        weights[str(label).strip()] = kg
    return weights, problems


def read_weights(root: Path, subjects) -> tuple[dict[tuple[str, str | None], float], list[str]]:
    """Body weights from the BIDS tables: {(subject, session): kg}, with a session's ``weight`` in
    sub-<label>_sessions.tsv over the participant's in participants.tsv (key (subject, None))."""
    weights, problems = {}, []
    table, _ = _read_tsv(root / "participants.tsv") if (root / "participants.tsv").exists() else (None, None)
    if table is not None and "participant_id" in table.columns:
        found, problems = _weight_column(table, root / "participants.tsv", "participant_id")
        weights.update({(pid.removeprefix("sub-"), None): kg for pid, kg in found.items()})
    for subject in subjects:
        path = root / f"sub-{subject}" / f"sub-{subject}_sessions.tsv"
        if not path.exists():
            continue
        table, problem = _read_tsv(path)
        if problem or "session_id" not in table.columns:
            problems.append(problem or f"{path}: no session_id column")
            continue
        found, more = _weight_column(table, path, "session_id")
        problems += more
        weights.update({(subject, sid.removeprefix("ses-")): kg for sid, kg in found.items()})
    return weights, problems


def scan_weight(weights: dict, subject: str, session: str | None) -> float | None:
    return weights.get((subject, session), weights.get((subject, None)))


def with_table_weight(metadata: dict, weight_kg: float | None, pet: str) -> tuple[dict, list[str]]:
    """The PET metadata with the BIDS tables' body weight as BodyWeight; a problem when the sidecar
    gives another weight (more than 0.5 kg apart): SUV scales with it, so one of them is wrong."""
    if weight_kg is None:
        return metadata, []
    given = metadata.get("BodyWeight")
    if isinstance(given, (int, float)) and not isinstance(given, bool) and abs(given - weight_kg) > 0.5:
        return metadata, [
            f"{pet}: the sidecar's BodyWeight ({given:g} kg) disagrees with the weight in sessions.tsv or "
            f"participants.tsv ({weight_kg:g} kg); SUV scales with it, so correct the one that is wrong"
        ]
    return {**metadata, "BodyWeight": weight_kg}, []


def bidsignore(root: Path) -> Callable[[str], bool]:
    """Whether a dataset-relative path is listed in the dataset's ``.bidsignore`` (gitignore-style
    globs: a pattern with a slash matches from the root, one without matches any file or folder name)."""
    file = root / ".bidsignore"
    lines = read_text(file, ".bidsignore").splitlines() if file.is_file() else []
    patterns = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]

    def ignored(relative: str) -> bool:
        parts = Path(relative).parts
        for pattern in patterns:
            glob = pattern.strip("/").replace("**/", "*").replace("/**", "/*")
            if "/" in pattern.strip("/"):
                if fnmatch.fnmatchcase(relative, glob) or fnmatch.fnmatchcase(relative, glob + "/*"):
                    return True
            elif any(fnmatch.fnmatchcase(part, glob) for part in parts):
                return True
        return False

    return ignored


def _images_by_scan(
    layout, root: Path, ignored: Callable[[str], bool], **query
) -> dict[tuple[str, str | None], list[str]]:
    """The NIfTI files (any letter case) that match ``query``, by (subject, session), less the
    ``ignored`` ones (.bidsignore): one pybids query for the whole dataset (a query per session took
    16 of the 17 s of discovery at 204 scans)."""
    absolute = Path(layout.root)  # pybids answers absolute paths; keep them under the root as the user wrote it
    found: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for path in layout.get(return_type="filename", **query):
        relative = os.path.relpath(path, absolute)
        if path.lower().endswith(_NIFTI) and not ignored(relative):
            entities, _ = _entities(Path(path).name)
            found[(entities.get("sub"), entities.get("ses"))].append(str(root / relative))
    return found


def _pick(images: list[str], where: str, kind: str, filter_key: str) -> tuple[str | None, str | None]:
    """The one image of its kind in a session, or why there is none."""
    images = sorted(images)
    found = [f for f in images if f.endswith(_NIFTI)]
    if not found:
        shouting = [Path(f).name for f in images if f not in found]
        if shouting:
            return (
                None,
                f"{where}: no {kind} image ({', '.join(shouting)}: BIDS extensions are lowercase, .nii or .nii.gz)",
            )
        return None, f"{where}: no {kind} image"
    if len(found) > 1:
        names = ", ".join(Path(f).name for f in found)
        return None, (
            f"{where}: {len(found)} {kind} images compete ({names}); choose one with input.{filter_key} "
            "(for every session) or list the others in the dataset's .bidsignore"
        )
    return found[0], None


def _filter_problems(layout, input_config: dict) -> list[str]:
    """Entity names in input.t1w_filters / pet_filters that pybids would not understand."""
    known = sorted(layout.get_entities())
    problems = []
    for key in ("t1w_filters", "pet_filters"):
        for entity in input_config[key]:
            if entity not in known:
                problems.append(
                    f"config key 'input.{key}.{entity}': not a BIDS entity name; use one of {', '.join(known)} "
                    "(full names: 'acquisition', not 'acq')"
                )
    return problems


# voxels coarser than these get a warning: the model grid is 2 mm, and PET scanners resolve 2-5 mm
COARSE_T1W_MM = 2.5
COARSE_PET_MM = 5.0


def check_pet(
    pet: str, sidecars: list[str] | tuple[str, ...], window_min, weight_kg: float | None = None
) -> tuple[list[str], list[str]]:
    """Problems and warnings of one PET image and its sidecars (and the tables' body weight), from the
    header and metadata only."""
    if not sidecars:
        return [f"{pet}: no JSON sidecar (PET-BIDS needs Units, and for Bq/mL images the timing and dose fields)"], []
    try:
        header = load_header(pet)
    except InputError as err:
        return err.problems, []
    if len(header.shape) not in (3, 4):
        return [f"{pet}: PET must be a 3D or 4D image, but it has shape {header.shape}"], []
    problems, warnings = geometry_problems(header, pet, "PET", COARSE_PET_MM)
    frames = header.shape[3] if len(header.shape) == 4 else 1
    metadata, weight_problems = with_table_weight(merged_metadata(sidecars), weight_kg, pet)
    problems += weight_problems
    try:
        recipe = recipe_from_sidecar(metadata, frames, pet)
        if not recipe.already_suv:
            window_weights(recipe.frame_starts_s, recipe.frame_durations_s, window_min, pet)
    except InputError as err:
        problems += err.problems
    return problems, warnings


def check_t1w(t1w: str) -> tuple[list[str], list[str]]:
    """Problems and warnings of one T1w image, from its header only."""
    try:
        header = load_header(t1w)
    except InputError as err:
        return err.problems, []
    shape = header.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        return [f"{t1w}: T1w must be a 3D image, but it has shape {header.shape}"], []
    problems, warnings = geometry_problems(header, t1w, "T1w", COARSE_T1W_MM)
    return problems or field_of_view_problems(header, t1w, "T1w"), warnings


def _check_scan(
    t1w: str, pet: str, sidecars: tuple[str, ...], window, weight_kg: float | None = None
) -> tuple[list[str], list[str]]:
    """Every problem and warning of one scan; whatever a file holds, the answer names it instead of raising."""
    problems, warnings = [], []
    for check, path, args in ((check_t1w, t1w, ()), (check_pet, pet, (sidecars, window, weight_kg))):
        try:
            found, warned = check(path, *args)
        except Exception as err:  # a header or sidecar no check foresaw: name it rather than crash the DAG build
            found, warned = [f"{path}: cannot be read ({type(err).__name__}: {err})"], []
        problems += found
        warnings += warned
    return problems, warnings


def discover(bids_dir: str | Path, input_config: dict) -> Cohort:
    """Every usable scan of a BIDS dataset; raises InputError listing every problem found."""
    from bids import BIDSLayout, BIDSLayoutIndexer  # pybids: slow to import, so only when needed

    root = Path(bids_dir)
    if not root.is_dir():
        raise InputError(f"{root}: the BIDS dataset folder does not exist (input.bids_dir)")
    problems = []
    description = root / "dataset_description.json"
    if not description.exists():
        problems.append(f"{root}: no dataset_description.json; is this the root of a BIDS dataset?")
    else:  # the derivatives cite it (SourceDatasets) and provenance records it: read it now, not there
        try:
            read_json(description, "the dataset description")
        except InputError as err:
            problems += err.problems
    participants, found = read_participants(root, input_config["groups"])
    problems += found
    for folder in sorted(p.name for p in root.glob("sub-*") if p.is_dir()):
        if not LABEL.match(folder.removeprefix("sub-")):
            copy = re.fullmatch(r"sub-[0-9A-Za-z]+(\s*(copy|kopie|copie|\(\d+\))\s*\d*|\s+\d+|-\d+)", folder, re.I)
            problems.append(
                f"{root / folder}: invalid participant folder name (BIDS labels hold letters and digits only)"
                + ("; it looks like a copy that a file manager made: move it out of the dataset" if copy else "")
            )
    if problems and not participants:
        raise InputError(problems)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # metadata is merged by sidecar_chain; pybids only finds the images (and skips derivatives/)
        try:
            layout = BIDSLayout(str(root), validate=False, indexer=BIDSLayoutIndexer(index_metadata=False))
        except Exception as err:  # pybids' own complaint, e.g. about dataset_description.json
            raise InputError([*problems, f"{root}: pybids cannot index the dataset ({err})"]) from None
    filter_problems = _filter_problems(layout, input_config)
    if filter_problems:
        raise InputError(filter_problems, header="input filters cannot be applied")
    window = input_config["suv_window_min"]
    scans, excluded, cautions = [], {}, []
    subjects = select_participants(layout.get_subjects(), input_config, str(root))
    if input_config["participant_label"] or input_config["exclude_participant_label"]:
        participants = {label: row for label, row in participants.items() if label in subjects}
    weights, weight_problems = read_weights(root, subjects)
    problems += weight_problems
    # the dataset's files, read once: each subject's sessions, and its T1w and PET images by session
    sessions_of: dict[str, set[str]] = defaultdict(set)
    for path in layout.get(return_type="filename", subject=subjects):
        entities, _ = _entities(Path(path).name)
        if entities.get("ses"):
            sessions_of[entities.get("sub")].add(entities["ses"])
    ignored = bidsignore(root)
    t1w_images = _images_by_scan(layout, root, ignored, suffix="T1w", datatype="anat", **input_config["t1w_filters"])
    pet_images = _images_by_scan(layout, root, ignored, suffix="pet", datatype="pet", **input_config["pet_filters"])
    for subject in subjects:
        if subject not in participants:
            if not any(f"sub-{subject}" in p for p in problems):
                problems.append(f"{root / ('sub-' + subject)}: participant sub-{subject} is not in participants.tsv")
            continue
        group, genotype = participants[subject]
        for session in sorted(sessions_of.get(subject) or [None], key=lambda s: (s is None, s)):
            where = f"{root / ('sub-' + subject)}" + (f"/ses-{session}" if session else "")
            t1w, t1_problem = _pick(t1w_images.get((subject, session), []), where, "T1w", "t1w_filters")
            pet, pet_problem = _pick(pet_images.get((subject, session), []), where, "PET", "pet_filters")
            if t1_problem or pet_problem:
                # "it has a PET image" helps where the T1w is missing, and misleads where two compete
                missing = any(p and "compete" not in p for p in (t1_problem, pet_problem))
                other = "PET" if t1_problem and not pet_problem else "T1w" if pet_problem and not t1_problem else None
                suffix = f" (it has a {other} image; every session needs both)" if other and missing else ""
                problems += [p + suffix for p in (t1_problem, pet_problem) if p]
                continue
            sidecars = tuple(sidecar_chain(pet, root))
            weight = scan_weight(weights, subject, session)
            scan_problems, scan_warnings = _check_scan(t1w, pet, sidecars, window, weight)
            cautions += scan_warnings
            if scan_problems:
                problems += scan_problems
                continue
            scan = Scan(subject, session, t1w, pet, group, genotype, sidecars, weight)
            if genotype == "LAB" and not input_config["keep_lab"]:
                excluded[scan.id] = "LAB genotype excluded (set input.keep_lab to keep it)"
                continue
            scans.append(scan)
    for label in sorted(set(participants) - set(subjects)):
        cautions.append(f"{root / 'participants.tsv'} lists sub-{label}, but the dataset has no images for it")
    with_sessions = {s.subject for s in scans if s.session}
    without = {s.subject for s in scans if not s.session}
    if with_sessions and without:
        problems.append(
            f"{root}: some participants have session folders ({', '.join(sorted(with_sessions)[:3])}…) and others do "
            f"not ({', '.join(sorted(without)[:3])}…); put every participant's scans in ses-<label> folders"
        )
    if problems:
        raise InputError(problems, header=f"{len(problems)} problem(s) in the BIDS dataset {root}")
    if not scans:
        raise InputError(f"{root}: no usable scans (excluded: {excluded or 'none'})")
    return Cohort(scans, excluded, cautions)
