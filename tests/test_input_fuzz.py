"""Fuzz suite of the input contract: each case breaks one thing in a small BIDS dataset that runs.

For every case, what the user runs must refuse it before any job: a Snakemake dry run of this
workflow (the DAG build) and ``synthpet check`` each stop with a message that names the file (or
the config key) and the field, with no traceback; no input byte changes and no output folder
appears. Problems that only the voxels show stop at the first job that reads them (ingest), run for
real, which names the file and leaves no output behind. The unbroken dataset is the control: it
passes both.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from conftest import STATIC_PET_SIDECAR, T1W_SHAPE, TinyBids, dynamic_sidecar, workflow_command, write_nifti, write_t1w

from synthpet.cli import main as synthpet_main

# sub-01 has the dynamic PET (its sidecar is the one the sidecar cases break); two groups, each with
# HAB and MAB participants, so that 2 folds can be stratified and each can fit the genotype effect
PARTICIPANTS = [
    ("01", "HC", "HAB"),
    ("02", "HC", "MAB"),
    ("03", "HC", "HAB"),
    ("04", "HC", "MAB"),
    ("05", "KOA", "HAB"),
    ("06", "KOA", "MAB"),
    ("07", "KOA", "HAB"),
    ("08", "KOA", "MAB"),
]


def build_dataset(root: Path) -> TinyBids:
    bids = TinyBids(root)
    for label, group, genotype in PARTICIPANTS:
        bids.participant(label, group, genotype).t1w(label)
        if label == "01":
            bids.pet(label, sidecar=dynamic_sidecar(3), frames=3)
        else:
            bids.pet(label, sidecar=STATIC_PET_SIDECAR)
    bids.write_participants()
    return bids


def sidecar_path(root: Path, label: str = "01") -> Path:
    return root / f"sub-{label}" / "pet" / f"sub-{label}_trc-PBR28_pet.json"


def t1w_path(root: Path, label: str = "01") -> Path:
    return root / f"sub-{label}" / "anat" / f"sub-{label}_T1w.nii.gz"


def pet_path(root: Path, label: str = "01") -> Path:
    return root / f"sub-{label}" / "pet" / f"sub-{label}_trc-PBR28_pet.nii.gz"


# --- ways to break a dataset; each takes (dataset root, config) -----------------------------------


def sidecar(**changes) -> Callable[[Path, dict], None]:
    """Change fields of sub-01's PET sidecar (None deletes one); written as Python's json writes NaN."""

    def apply(root: Path, config: dict) -> None:
        path = sidecar_path(root)
        content = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                content.pop(key, None)
            else:
                content[key] = value
        path.write_text(json.dumps(content))

    return apply


def sidecar_bytes(data: bytes) -> Callable[[Path, dict], None]:
    return lambda root, config: sidecar_path(root).write_bytes(data)


def participants_bytes(data: bytes) -> Callable[[Path, dict], None]:
    return lambda root, config: (root / "participants.tsv").write_bytes(data)


def participants_row(label: str, row: str) -> Callable[[Path, dict], None]:
    """Replace one participant's row of participants.tsv with ``row`` (tab-separated)."""

    def apply(root: Path, config: dict) -> None:
        path = root / "participants.tsv"
        lines = [row if line.startswith(f"sub-{label}\t") else line for line in path.read_text().splitlines()]
        path.write_text("\n".join(lines) + "\n")

    return apply


def header_field(image: Callable[[Path], Path], **fields) -> Callable[[Path, dict], None]:
    """Rewrite header fields of an image (sform rows, units) that nibabel would otherwise keep consistent."""

    def apply(root: Path, config: dict) -> None:
        path = image(root)
        img = nib.load(path)
        data = np.asarray(img.dataobj)
        header = img.header.copy()
        for key, value in fields.items():
            if key == "units":
                header.set_xyzt_units(value)
            else:
                header[key] = value
        nib.save(nib.Nifti1Image(data, None, header), path)

    return apply


def voxel_size(image: Callable[[Path], Path], mm: float) -> Callable[[Path, dict], None]:
    def apply(root: Path, config: dict) -> None:
        path = image(root)
        data = np.asarray(nib.load(path).dataobj)
        write_nifti(path, data=data, affine=np.diag([mm, mm, mm, 1.0]))

    return apply


def t1w_slab(root: Path, config: dict) -> None:
    """A partial acquisition: 20 slices of 2 mm, 40 mm from top to bottom."""
    write_t1w(t1w_path(root), shape=(T1W_SHAPE[0], T1W_SHAPE[1], 20))


def remove(*parts: str) -> Callable[[Path, dict], None]:
    return lambda root, config: root.joinpath(*parts).unlink()


def rename_t1w_upper(root: Path, config: dict) -> None:
    t1w_path(root).rename(t1w_path(root).with_name("sub-01_T1w.NII.GZ"))


def second_t1w(root: Path, config: dict) -> None:
    write_t1w(root / "sub-01" / "anat" / "sub-01_acq-fast_T1w.nii.gz")


def t1w_4d(root: Path, config: dict) -> None:
    write_t1w(t1w_path(root), shape=(*T1W_SHAPE, 2))


def pet_4d_in_suv(root: Path, config: dict) -> None:
    write_nifti(pet_path(root, "02"), shape=(8, 8, 8, 3))


def pet_garbage(root: Path, config: dict) -> None:
    pet_path(root, "02").write_bytes(b"not an image at all" * 20)


def unlisted_participant(root: Path, config: dict) -> None:
    TinyBids(root).t1w("09")
    TinyBids(root).pet("09", sidecar=STATIC_PET_SIDECAR)


def session_for_one(root: Path, config: dict) -> None:
    bids = TinyBids(root)
    for path in [t1w_path(root, "08"), pet_path(root, "08"), sidecar_path(root, "08")]:
        path.unlink()
    (root / "sub-08" / "anat" / "sub-08_T1w.json").unlink()
    bids.t1w("08", "1")
    bids.pet("08", "1", sidecar=STATIC_PET_SIDECAR)


def set_config(**changes) -> Callable[[Path, dict], None]:
    """Change config keys, dotted (``folds.n_folds``)."""

    def apply(root: Path, config: dict) -> None:
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            node = config
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value

    return apply


def all_hab(root: Path, config: dict) -> None:
    path = root / "participants.tsv"
    path.write_text(path.read_text().replace("MAB", "HAB"))


def output_inside_dataset(root: Path, config: dict) -> None:
    config["output_dir"] = str(root / "synthpet-out")


def copy_of_a_subject(root: Path, config: dict) -> None:
    shutil.copytree(root / "sub-02", root / "sub-02 copy")


def output_under_a_file(root: Path, config: dict) -> None:
    (root.parent / "occupied").write_text("a file where the output folder's parent should be\n")
    config["output_dir"] = str(root.parent / "occupied" / "out")


def description_not_json(root: Path, config: dict) -> None:
    (root / "dataset_description.json").write_text('{"Name": "study", "BIDSVersion": "1.9.0",\n')


def voxels(image: Callable[[Path], Path], change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path, dict], None]:
    def apply(root: Path, config: dict) -> None:
        path = image(root)
        img = nib.load(path)
        write_nifti(path, data=change(np.asarray(img.dataobj, dtype=np.float32)), affine=img.affine)

    return apply


def truncate(image: Callable[[Path], Path]) -> Callable[[Path, dict], None]:
    def apply(root: Path, config: dict) -> None:
        path = image(root)
        raw = nib.load(path)
        nib.save(nib.Nifti1Image(np.asarray(raw.dataobj), raw.affine), path.with_suffix("").with_suffix(".nii"))
        path.unlink()
        data = path.with_suffix("").with_suffix(".nii").read_bytes()
        path.with_suffix("").with_suffix(".nii").write_bytes(data[: len(data) // 2])  # header intact, voxels cut

    return apply


def set_voxel(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(data: np.ndarray) -> np.ndarray:
        data = data.copy()
        data[2, 3, 4] = value
        return data

    return change


@dataclass(frozen=True)
class Case:
    name: str
    breaks: Callable[[Path, dict], None]
    words: tuple[str, ...]  # each must appear in the message: the file (or key) and the field


SIDECAR = "sub-01_trc-PBR28_pet.json"  # a PET's problems are reported against its image or sidecar
PET01 = "sub-01_trc-PBR28_pet.nii.gz"

REFUSED_AT_DAG_BUILD = [
    # PET sidecar values: type, finiteness, plausibility
    Case("dose NaN", sidecar(InjectedRadioactivity=float("nan")), (PET01, "InjectedRadioactivity", "not a finite")),
    Case("dose Infinity", sidecar(InjectedRadioactivity=float("inf")), (PET01, "InjectedRadioactivity", "finite")),
    Case("dose as a string", sidecar(InjectedRadioactivity="370"), (PET01, "InjectedRadioactivity", "a string")),
    Case("dose zero", sidecar(InjectedRadioactivity=0), (PET01, "InjectedRadioactivity", "positive")),
    Case("dose negative", sidecar(InjectedRadioactivity=-5.0), (PET01, "InjectedRadioactivity", "positive")),
    Case("dose true", sidecar(InjectedRadioactivity=True), (PET01, "InjectedRadioactivity", "must be a number")),
    Case("dose unit unknown", sidecar(InjectedRadioactivityUnits="furlongs"), (PET01, "InjectedRadioactivityUnits")),
    # units that lie: types and finiteness hold, the unit does not
    Case("dose in Bq as MBq", sidecar(InjectedRadioactivity=370e6), (PET01, "looks like Bq labelled MBq")),
    Case(
        "dose in MBq as mCi",
        sidecar(InjectedRadioactivityUnits="mCi"),
        (PET01, "InjectedRadioactivity", "looks like MBq labelled mCi"),
    ),
    Case(
        "frame times in ms",
        sidecar(FrameTimesStart=[3.6e6, 4.2e6, 4.8e6], FrameDuration=[6e5] * 3),
        (PET01, "FrameTimesStart", "look like milliseconds"),
    ),
    Case("dose missing", sidecar(InjectedRadioactivity=None), (PET01, "lacks InjectedRadioactivity")),
    Case("weight missing", sidecar(BodyWeight=None), (PET01, "lacks BodyWeight")),
    Case("weight in grams", sidecar(BodyWeight=74000), (PET01, "BodyWeight", "plausible")),
    Case("weight as text", sidecar(BodyWeight="74 kg"), (PET01, "BodyWeight", "a string")),
    Case("weight NaN", sidecar(BodyWeight=float("nan")), (PET01, "BodyWeight", "finite")),
    Case("frame start NaN", sidecar(FrameTimesStart=[3600, float("nan"), 4800]), (PET01, "FrameTimesStart", "frame 1")),
    Case("frame start as text", sidecar(FrameTimesStart=[3600, "4200", 4800]), (PET01, "FrameTimesStart", "frame 1")),
    Case("too few frame starts", sidecar(FrameTimesStart=[3600, 4200]), (PET01, "FrameTimesStart", "3 numbers")),
    Case(
        "timing fields swapped",
        sidecar(FrameTimesStart=[600, 600, 600], FrameDuration=[3600, 4200, 4800]),
        (PET01, "overlap", "swapped"),
    ),
    Case(
        "overlapping frames",
        sidecar(FrameTimesStart=[3600, 3600, 3600], FrameDuration=[600, 600, 600]),
        (PET01, "frames 0 and 1 overlap"),
    ),
    Case(
        "frames out of order",
        sidecar(FrameTimesStart=[4200, 3600, 4800]),
        (PET01, "FrameTimesStart", "not in order"),
    ),
    Case("frame of zero length", sidecar(FrameDuration=[600, 0, 600]), (PET01, "FrameDuration", "positive")),
    Case("frame duration NaN", sidecar(FrameDuration=[600, 600, float("nan")]), (PET01, "FrameDuration", "frame 2")),
    Case(
        "window not covered",
        sidecar(FrameTimesStart=[0, 600, 1200]),
        (PET01, "cover only", "input.suv_window_min"),
    ),
    Case("injection as clock time", sidecar(InjectionStart="09:31:00"), (PET01, "InjectionStart", "clock time")),
    Case(
        "decay flag as a string",
        sidecar(ImageDecayCorrected="false"),
        (PET01, "ImageDecayCorrected", "true or false"),
    ),
    Case(
        "decay time as text",
        sidecar(ImageDecayCorrectionTime="zero"),
        (PET01, "ImageDecayCorrectionTime", "must be a number"),
    ),
    Case(
        "not decay corrected, unknown nuclide",
        sidecar(ImageDecayCorrected=False, TracerRadionuclide="Xx99"),
        (PET01, "TracerRadionuclide", "Xx99"),
    ),
    Case("no Units", sidecar(Units=None), (PET01, "Units")),
    Case("unknown Units", sidecar(Units="counts"), (PET01, "Units", "counts")),
    Case("Units a number", sidecar(Units=5), (PET01, "'Units' must be a string")),
    # sidecar files
    Case("sidecar not JSON", sidecar_bytes(b'{"Units": "Bq/mL", '), (SIDECAR, "not valid JSON")),
    Case(
        "sidecar in Latin-1",
        sidecar_bytes('{"Units": "Bq/mL", "TracerName": "PBR28 \xe9"}'.encode("latin-1")),
        (SIDECAR, "not UTF-8"),
    ),
    Case("sidecar a list", sidecar_bytes(b"[1, 2]"), (SIDECAR, "JSON object")),
    Case(
        "sidecar missing",
        remove("sub-02", "pet", "sub-02_trc-PBR28_pet.json"),
        ("sub-02_trc-PBR28_pet.nii.gz", "no JSON sidecar"),
    ),
    Case("4D image in SUV units", pet_4d_in_suv, ("sub-02_trc-PBR28_pet.nii.gz", "4D image", "SUV units")),
    # participants.tsv
    Case(
        "participants in Latin-1",
        participants_bytes("participant_id\tgroup\tgenotype\nsub-01\tHC\tHAB\t\xe9\n".encode("latin-1")),
        ("participants.tsv", "not UTF-8"),
    ),
    Case("participants empty", participants_bytes(b""), ("participants.tsv", "empty")),
    Case(
        "participants separated by spaces",
        participants_bytes(b"participant_id group genotype\nsub-01 HC HAB\n"),
        ("participants.tsv", "separated by spaces; BIDS tables separate them by tabs"),
    ),
    Case("a file manager's copy", copy_of_a_subject, ("sub-02 copy", "a copy that a file manager made")),
    Case(
        "participants without genotype column",
        participants_bytes(b"participant_id\tgroup\nsub-01\tHC\n"),
        ("participants.tsv", "missing column(s) genotype"),
    ),
    Case("unknown genotype", participants_row("02", "sub-02\tHC\tXAB"), ("participants.tsv", "sub-02", "'XAB'")),
    Case("unknown group", participants_row("02", "sub-02\tMS\tMAB"), ("participants.tsv", "sub-02", "'MS'")),
    Case("no genotype", participants_row("02", "sub-02\tHC\tn/a"), ("participants.tsv", "sub-02", "no genotype")),
    Case(
        "participant listed twice",
        participants_row("03", "sub-02\tHC\tMAB"),
        ("participants.tsv", "sub-02 is listed twice"),
    ),
    Case("bad participant label", participants_row("02", "sub-0_2\tHC\tMAB"), ("participants.tsv", "participant_id")),
    Case("participant not listed", unlisted_participant, ("sub-09", "not in participants.tsv")),
    Case("no participants.tsv", remove("participants.tsv"), ("participants.tsv", "missing")),
    Case("no dataset_description.json", remove("dataset_description.json"), ("dataset_description.json",)),
    # images: which, how many, what shape and geometry
    Case("uppercase extension", rename_t1w_upper, ("sub-01_T1w.NII.GZ", "lowercase")),
    Case("no PET", remove("sub-02", "pet", "sub-02_trc-PBR28_pet.nii.gz"), ("sub-02", "no PET image")),
    Case("two T1w images", second_t1w, ("sub-01", "2 T1w images", "input.t1w_filters")),
    Case("4D T1w", t1w_4d, ("sub-01_T1w.nii.gz", "3D image")),
    Case("unreadable PET", pet_garbage, ("sub-02_trc-PBR28_pet.nii.gz", "not a readable NIfTI")),
    Case(
        "singular sform",
        header_field(t1w_path, srow_z=[0, 0, 0, 0], sform_code=1),
        ("sub-01_T1w.nii.gz", "singular"),
    ),
    Case(
        "non-finite sform",
        header_field(t1w_path, srow_z=[0, 0, 2, float("nan")], sform_code=1),
        ("sub-01_T1w.nii.gz", "non-finite"),
    ),
    Case("voxels in meters", header_field(t1w_path, units="meter"), ("sub-01_T1w.nii.gz", "meters")),
    Case(
        "T1w without orientation",
        header_field(t1w_path, qform_code=0, sform_code=0),
        ("sub-01_T1w.nii.gz", "no orientation (qform_code and sform_code are both 0)"),
    ),
    Case("absurd voxel size", voxel_size(t1w_path, 0.01), ("sub-01_T1w.nii.gz", "voxel size", "implausible")),
    Case(
        "T1w slab",
        t1w_slab,
        ("sub-01_T1w.nii.gz", "field of view is 112 x 112 x 40 mm", "too small to hold a whole brain"),
    ),
    Case(
        "huge PET voxels", voxel_size(lambda root: pet_path(root, "02"), 40.0), ("sub-02_trc-PBR28_pet", "implausible")
    ),
    Case("mixed session layout", session_for_one, ("session folders",)),
    # settings that the dataset cannot satisfy
    Case("unknown filter entity", set_config(**{"input.t1w_filters": {"foo": "bar"}}), ("input.t1w_filters.foo",)),
    Case("output inside the dataset", output_inside_dataset, ("output_dir", "inside the BIDS dataset")),
    Case("output under a file", output_under_a_file, ("output_dir", "occupied is a file, not a folder")),
    Case("description not JSON", description_not_json, ("dataset_description.json", "not valid JSON")),
    Case("groups smaller than folds", set_config(**{"folds.n_folds": 5}), ("folds.n_folds", "groups too small")),
    Case("every participant HAB", all_hab, ("no MAB", "genotype.scope")),
    Case("dataset folder missing", set_config(**{"input.bids_dir": "/nonexistent/bids"}), ("/nonexistent/bids",)),
    Case("unknown config key", set_config(**{"training.epoch": 3}), ("training.epoch", "unknown config key")),
    Case("window reversed", set_config(**{"input.suv_window_min": [90, 60]}), ("input.suv_window_min",)),
]

# refused by the first job that reads the voxels: ingest_t1w / ingest_pet, run for real
REFUSED_AT_INGEST = [
    Case("T1w NaN voxel", voxels(t1w_path, set_voxel(np.nan)), ("sub-01_T1w.nii.gz", "NaN or infinite")),
    Case("PET infinite voxel", voxels(pet_path, set_voxel(np.inf)), (PET01, "NaN or infinite")),
    Case("T1w constant", voxels(t1w_path, np.zeros_like), ("sub-01_T1w.nii.gz", "constant")),
    Case("PET without uptake", voxels(pet_path, lambda d: -d), (PET01, "no positive uptake")),
    Case("PET in Bq/mL as kBq/mL", sidecar(Units="kBq/mL"), (PET01, "looks like Bq/mL labelled kBq/mL")),
    Case("T1w truncated", truncate(t1w_path), ("sub-01_T1w.nii", "truncated or corrupt")),
]


def checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "bids"
    build_dataset(root)
    config = {
        "input": {"source": "bids", "bids_dir": str(root)},
        "output_dir": str(tmp_path / "out"),
        "folds": {"n_folds": 2},
    }
    return tmp_path, root, config


def write_config(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def dry_run(tmp_path: Path, config_path: Path, *targets: str) -> subprocess.CompletedProcess:
    command = workflow_command(tmp_path / "work", "-n", *targets, configfiles=(str(config_path),))
    # Snakemake prints its errors to stdout or stderr depending on the version: read both
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)


def check(config_path: Path) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = synthpet_main(["check", "--config", str(config_path)])
    return code, err.getvalue() + out.getvalue()


def assert_named(text: str, case: Case, where: str) -> None:
    for words in case.words:
        assert words in text, f"{words!r} not in {where}:\n{text[-3000:]}"


def test_the_unbroken_dataset_runs(workspace):
    tmp_path, root, config = workspace
    config_path = write_config(tmp_path, config)
    result = dry_run(tmp_path, config_path)
    assert result.returncode == 0, result.stdout
    code, text = check(config_path)
    assert code == 0, text
    assert "8 usable scans of 8 participants in 2 folds" in text
    assert not (tmp_path / "out").exists()


# every case goes through the planning code in this process (synthpet check calls plan_run, as the
# workflow does when it builds the DAG); every fifth also through Snakemake's command line, for the
# exit code, the message on the console and no traceback
THROUGH_SNAKEMAKE = {case.name for case in REFUSED_AT_DAG_BUILD[::5]}


@pytest.mark.parametrize("case", REFUSED_AT_DAG_BUILD, ids=lambda c: c.name)
def test_refused_before_any_job(workspace, case):
    tmp_path, root, config = workspace
    case.breaks(root, config)
    config_path = write_config(tmp_path, config)
    before = checksums(root)

    code, text = check(config_path)
    assert code == 2 and "synthpet: error:" in text and "Traceback" not in text
    assert_named(text, case, "synthpet check's message")

    if case.name in THROUGH_SNAKEMAKE:
        result = dry_run(tmp_path, config_path)
        assert result.returncode != 0, f"the workflow accepted: {case.name}"
        assert "synthpet:" in result.stdout and "Traceback" not in result.stdout
        assert_named(result.stdout, case, "the workflow's message")

    assert checksums(root) == before
    assert not Path(config["output_dir"]).exists()


@pytest.mark.parametrize("case", REFUSED_AT_INGEST, ids=lambda c: c.name)
def test_refused_by_the_first_job_that_reads_voxels(workspace, case):
    tmp_path, root, config = workspace
    case.breaks(root, config)
    config_path = write_config(tmp_path, config)
    before = checksums(root)
    assert check(config_path)[0] == 0  # the header and sidecars are fine: only the voxels are not

    out = Path(config["output_dir"])
    targets = [
        f"{out}/preproc/sub-01/anat/sub-01_desc-ingested_T1w.nii.gz",
        f"{out}/preproc/sub-01/pet/sub-01_trc-PBR28_desc-suv_pet.nii.gz",  # the input PET's entities kept
    ]
    command = workflow_command(
        tmp_path / "work", "--cores", "1", "--keep-going", *targets, configfiles=(str(config_path),)
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0, f"the workflow accepted: {case.name}"
    logs = "".join(p.read_text() for p in (out / "logs").rglob("*.log"))
    assert_named(logs, case, "the job logs")
    assert checksums(root) == before
    # the broken image's output never appears, nor a temporary file of it
    written = sorted(p.name for p in (out / "preproc").rglob("*") if p.is_file())
    broken = "T1w" if "T1w" in case.name else "pet"
    assert not [name for name in written if name.endswith(f"_{broken}.nii.gz") or "synthpet-tmp" in name], written


def test_accepted_variants(workspace):
    """What the contract must not refuse: byte-order marks, inherited sidecars, a small qform mismatch."""
    tmp_path, root, config = workspace
    participants = root / "participants.tsv"
    participants.write_bytes(b"\xef\xbb\xbf" + participants.read_bytes())
    path = sidecar_path(root, "02")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, text = check(write_config(tmp_path, config))
    assert code == 0, text


def test_warnings_reach_the_user_in_check_and_run(workspace):
    tmp_path, root, config = workspace
    voxel_size(t1w_path, 3.0)(root, config)  # coarse but usable
    path = root / "participants.tsv"
    path.write_text(path.read_text() + "sub-99\tHC\tHAB\n")  # listed, no images
    config_path = write_config(tmp_path, config)
    code, text = check(config_path)
    assert code == 0, text
    result = dry_run(tmp_path, config_path)
    assert result.returncode == 0, result.stdout
    for words in ("sub-01_T1w.nii.gz: T1w voxels are coarse (3x3x3 mm", "lists sub-99, but the dataset has no images"):
        assert words in text and words in result.stdout


def test_the_participant_level_refuses_a_dataset_the_group_level_cannot_split(workspace):
    """Folds were made only at the group level: a dataset too small to stratify ran every scan's
    preprocessing, then failed. A participant-level call that covers the dataset checks them; one
    that selects participants cannot (the folds need everyone) and goes on."""
    tmp_path, root, config = workspace
    config["folds"]["n_folds"] = 5
    config["analysis_level"] = "participant"
    code, text = check(write_config(tmp_path, config))
    assert code == 2 and "folds.n_folds" in text and "groups too small" in text
    config["input"]["participant_label"] = ["01"]
    code, text = check(write_config(tmp_path, config))
    assert code == 0, text
