"""Shared fixtures: tiny hand-made BIDS datasets and one small synthetic cohort per test session."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from synthpet.io.config import validate_config

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def workflow_command(workdir: Path, *args: str, configfiles=("config/config.yaml",)) -> list[str]:
    """The command that runs this repository's workflow from ``workdir`` (config files relative to the repo,
    or absolute), so a test never locks or writes into the repository."""
    return [
        SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        *(str(REPO / path) for path in configfiles),
        *args,
    ]


def snakemake(workdir: Path, *args: str, configfile: str = "config/config.yaml", check: bool = True):
    """Run the workflow from ``workdir`` (its own .snakemake folder), never locking the repository."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = workflow_command(workdir, *args, configfiles=(configfile,))
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def digests(paths) -> dict[Path, str]:
    """Each file's SHA-256, to compare a run's outputs byte for byte with another's."""
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def planned_jobs(result) -> dict[str, int]:
    stats = (result.stdout + result.stderr).split("Job stats:")[1].split("\n\n")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def validator_errors(root: Path) -> list[str]:
    """The errors bids-validator-deno finds in the dataset at ``root`` (warnings left out)."""
    validator = Path(sys.executable).with_name("bids-validator-deno")
    result = subprocess.run([str(validator), str(root), "--json"], capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    return [
        f"{i['code']} {i.get('subCode') or ''} {i.get('location') or ''}"
        for i in report["issues"]["issues"]
        if i["severity"] == "error"
    ]


# A small synthetic cohort: 2 mm T1w, 4 scans of 3 participants, half of the PET dynamic
SMALL_PHANTOM = {
    "phantom": {
        "cohort": [
            {"group": "HC", "sessions": 1, "participants": 1},
            {"group": "CLBP", "sessions": 2, "participants": 1},
            {"group": "KOA", "sessions": 1, "participants": 1},
        ],
        "t1_voxel_mm": 2,
        "pet_voxel_mm": 3,
        "dynamic_fraction": 0.5,
        "oblique_fraction": 0.5,
    }
}


def write_nifti(path: Path, shape=(8, 8, 8), affine=None, data=None, seed=0, dtype=np.float32) -> Path:
    """A small positive random image (or ``data``) at ``path``."""
    if data is None:
        data = np.random.default_rng(seed).uniform(0.5, 1.5, size=shape)
    affine = np.diag([2.0, 2.0, 2.0, 1.0]) if affine is None else affine
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data).astype(dtype), affine), path)
    return path


# a T1w's field of view must hold a brain (synthpet.io.imageio.MIN_BRAIN_FOV_MM): 56^3 voxels of 2 mm,
# in blocks of 7^3 equal voxels so that the file stays small
T1W_SHAPE = (56, 56, 56)


def write_t1w(path: Path, shape=T1W_SHAPE, seed=0) -> Path:
    """A T1w-sized image of ``shape`` (2 mm voxels); a 4th axis, if any, repeats the volume."""
    blocks = np.random.default_rng(seed).uniform(0.5, 1.5, size=tuple(-(-n // 7) for n in shape[:3]))
    volume = np.kron(blocks, np.ones((7, 7, 7)))[tuple(slice(n) for n in shape[:3])]
    data = np.repeat(volume[..., None], shape[3], axis=3) if len(shape) == 4 else volume
    return write_nifti(path, data=data)


STATIC_PET_SIDECAR = {"Units": "g/mL", "TracerName": "PBR28", "TracerRadionuclide": "C11"}


def dynamic_sidecar(n_frames: int = 3) -> dict:
    """Three 10-min frames covering 60-90 min, 370 MBq into 74 kg."""
    return {
        "Units": "Bq/mL",
        "TracerRadionuclide": "C11",
        "InjectedRadioactivity": 370.0,
        "InjectedRadioactivityUnits": "MBq",
        "BodyWeight": 74.0,
        "FrameTimesStart": [3600.0 + 600.0 * i for i in range(n_frames)],
        "FrameDuration": [600.0] * n_frames,
        "ImageDecayCorrected": True,
        "ImageDecayCorrectionTime": 0,
    }


class TinyBids:
    """Builds a small BIDS dataset, one file at a time, so each test can break exactly one thing."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "dataset_description.json").write_text(json.dumps({"Name": "tiny", "BIDSVersion": "1.10.0"}))
        self.rows: list[tuple[str, str, str]] = []

    def participant(self, label: str, group: str = "HC", genotype: str = "HAB") -> TinyBids:
        self.rows.append((f"sub-{label}", group, genotype))
        return self

    def write_participants(self) -> TinyBids:
        lines = ["participant_id\tgroup\tgenotype"] + ["\t".join(r) for r in self.rows]
        (self.root / "participants.tsv").write_text("\n".join(lines) + "\n")
        return self

    def _dir(self, subject: str, session: str | None, datatype: str) -> tuple[Path, str]:
        folder = self.root / f"sub-{subject}"
        prefix = f"sub-{subject}"
        if session:
            folder, prefix = folder / f"ses-{session}", f"{prefix}_ses-{session}"
        return folder / datatype, prefix

    def t1w(self, subject: str, session: str | None = None, shape=T1W_SHAPE, extra: str = "") -> Path:
        folder, prefix = self._dir(subject, session, "anat")
        path = write_t1w(folder / f"{prefix}{extra}_T1w.nii.gz", shape=shape)
        (folder / f"{prefix}{extra}_T1w.json").write_text("{}")
        return path

    def pet(
        self, subject: str, session: str | None = None, sidecar: dict | None = None, frames: int = 1, extra: str = ""
    ) -> Path:
        folder, prefix = self._dir(subject, session, "pet")
        shape = (8, 8, 8) if frames == 1 else (8, 8, 8, frames)
        # an activity image holds what 370 MBq into 74 kg gives at SUV 0.5-1.5: 2,500-7,500 Bq/mL
        activity = sidecar is not None and not str(sidecar.get("Units", "")).lower().startswith("g/")
        data = np.random.default_rng(0).uniform(0.5, 1.5, size=shape) * (5000.0 if activity else 1.0)
        path = write_nifti(folder / f"{prefix}_trc-PBR28{extra}_pet.nii.gz", data=data)
        if sidecar is not None:
            (folder / f"{prefix}_trc-PBR28{extra}_pet.json").write_text(json.dumps(sidecar))
        return path

    def scan(self, subject: str, session: str | None = None, group: str = "HC", genotype: str = "HAB") -> TinyBids:
        if (f"sub-{subject}", group, genotype) not in self.rows:
            self.participant(subject, group, genotype)
        self.t1w(subject, session)
        self.pet(subject, session, STATIC_PET_SIDECAR)
        return self


@pytest.fixture
def tiny_bids(tmp_path) -> TinyBids:
    return TinyBids(tmp_path / "bids")


@pytest.fixture
def input_config() -> dict:
    return validate_config({})["input"]


@pytest.fixture(scope="session")
def small_phantom(tmp_path_factory) -> tuple[Path, dict]:
    """A small synthetic BIDS cohort written once for the whole test session."""
    from synthpet.validation import phantom

    config = validate_config(SMALL_PHANTOM)
    root = tmp_path_factory.mktemp("phantom") / "bids"
    phantom.generate(root, config)
    return root, config


def parsed_rules(workdir: Path, config: dict) -> list:
    """The workflow's rules as Snakemake parses them with ``config`` over the demo config."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(config=config),
            snakefile=REPO / "Snakefile",
            workdir=workdir,
        )
        return list(workflow._workflow.rules)


# On top of the demo config: 6 participants in 3 groups, 2 folds, 2 epochs. Small enough to run
# through the workflow in a couple of minutes; shared by the SLURM test and the fold-0 rerun.
SMALL_RUN = """
phantom:
  cohort:
    - {group: HC, sessions: 1, participants: 2}
    - {group: CLBP, sessions: 1, participants: 2}
    - {group: KOA, sessions: 1, participants: 2}
folds: {n_folds: 2}
genotype: {scope: cohort}
training: {epochs: 2, learning_rate: 0.001, device: auto}
"""
MNI_PET_NAME = (
    "results/mni/sub-{subject}/ses-{session}/pet/{scan}_trc-PBR28_space-MNI152NLin6Asym_desc-synthetic_pet.nii.gz"
)


def small_run_command(workdir: Path, *args: str) -> list[str]:
    """The workflow command for the small cohort of ``SMALL_RUN``, run from ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "small.yaml").write_text(SMALL_RUN)
    return workflow_command(workdir, *args, configfiles=("config/config.yaml", workdir / "small.yaml"))


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """The small cohort run once per session: both folds' models, and fold 0's held-out scans through
    prediction to their MNI-space PET (what the fold-0 rerun checks). Tests copy it (``small_run_copy``)."""
    work = tmp_path_factory.mktemp("small-run")

    def run(step: str, targets: list[str]) -> None:
        done = subprocess.run(small_run_command(work, "--cores", "2", "--", *targets), capture_output=True, text=True)
        assert done.returncode == 0, f"the small run failed at {step}:\n{done.stderr[-5000:]}"

    run("training", [f"results/models/fold-{fold}/summary.json" for fold in (0, 1)])
    folds = pd.read_csv(work / "results" / "cohort" / "folds.tsv", sep="\t", dtype=str)
    held_out = folds[folds["fold"] == "0"].itertuples()
    run("fold 0 in MNI space", [MNI_PET_NAME.format(**row._asdict()) for row in held_out])
    return work


def copy_of_run(work: Path, copy: Path) -> Path:
    """A copy of a finished run's working directory (outputs with their times, and Snakemake's records)."""
    shutil.copytree(work, copy, symlinks=True)
    return copy


@pytest.fixture
def small_run_copy(small_run, tmp_path) -> Path:
    """A copy of the small run, to change."""
    return copy_of_run(small_run, tmp_path / "small-run")


# The demo, started in the background once the session's tests are collected: it keeps both cores
# busy for minutes, while most other tests use one, so they run beside it; the tests that read it run last.
BACKGROUND_DEMO: dict[str, object] = {}


def one_thread_per_test() -> None:
    """When the cores are shared (the background demo, or pytest-xdist's workers), each test uses one
    thread: OpenMP and torch threads that find their cores busy spin and wait on each other (a 1.3 s
    scikit-learn fit took 173 s beside the demo, and torch training tests 5-15x their time alone)."""
    os.environ["OMP_NUM_THREADS"] = "1"  # for the processes tests start
    threadpool_limits(limits=1)  # BLAS and OpenMP already loaded in this one
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(config, items):
    in_a_worker = bool(os.environ.get("PYTEST_XDIST_WORKER"))  # make test-fast: one of several
    if in_a_worker:
        one_thread_per_test()
    reading = [item for item in items if "demo" in item.fixturenames]
    if not reading:
        return
    items[:] = [item for item in items if "demo" not in item.fixturenames] + reading
    if os.environ.get("SYNTHPET_DEMO_WORKDIR") or config.option.collectonly or in_a_worker:
        return
    work = Path(tempfile.mkdtemp(prefix="synthpet-demo-"))
    with open(work / "demo-run.log", "w") as log:
        process = subprocess.Popen(
            workflow_command(work, "--cores", "2"), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    BACKGROUND_DEMO.update(work=work, process=process)
    one_thread_per_test()  # the demo holds both cores


def pytest_sessionfinish(session, exitstatus):
    """A demo still running is stopped as Ctrl-C would stop it; a finished one is removed if every test passed."""
    process, work = BACKGROUND_DEMO.get("process"), BACKGROUND_DEMO.get("work")
    if process is None:
        return
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if exitstatus == 0:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The README's demo run once per test session, end to end, on 2 cores; its working directory.
    Tests read it and never change it: one that changes a run takes ``demo_copy``."""
    reused = os.environ.get("SYNTHPET_DEMO_WORKDIR")  # a finished demo, while iterating on these tests
    if reused or not BACKGROUND_DEMO:  # a finished demo; or a pytest-xdist worker, which runs its own
        work = Path(reused) if reused else tmp_path_factory.mktemp("demo")
        snakemake(work, "--cores", "2")  # nothing to do in a finished demo of this code
        return work
    process, work = BACKGROUND_DEMO["process"], BACKGROUND_DEMO["work"]
    if process.wait(timeout=3600) != 0:
        raise AssertionError(f"the demo failed ({process.returncode}):\n{(work / 'demo-run.log').read_text()[-5000:]}")
    return work


@pytest.fixture
def demo_copy(demo, tmp_path) -> Path:
    """A copy of the finished demo, to change."""
    return copy_of_run(demo, tmp_path / "demo")
