"""The BIDS-App call (``synthpet BIDS_DIR OUTPUT_DIR participant|group``) and a non-editable install."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import browser
import pytest
from browser import images_loaded
from conftest import REPO, parsed_rules, planned_jobs, validator_errors

from synthpet import __version__
from synthpet.io.derivatives import ROOTS
from synthpet.io.resources import WORKFLOW_FILES

SYNTHPET = str(Path(sys.executable).with_name("synthpet"))


def app(*args: str, cwd: Path, executable: str = SYNTHPET) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([executable, *map(str, args)], capture_output=True, text=True, timeout=1200, cwd=cwd)


@pytest.fixture
def paper_sized_bids(tiny_bids):
    for i in range(16):  # 5 participants per group (and one more): enough for 5 stratified folds
        tiny_bids.scan(f"{i:02d}", group=("HC", "CLBP", "KOA")[i % 3], genotype=("HAB", "MAB")[(i // 3) % 2])
    return tiny_bids.write_participants()


@pytest.mark.slow
def test_participant_level_runs_one_participant_from_another_folder(small_phantom, tmp_path):
    """The done-when of the app: a real participant-level run, from a folder that is neither the
    repository nor the output, whose derivatives pass the BIDS validator."""
    bids, _ = small_phantom
    out = tmp_path / "derivatives" / "synthpet"
    elsewhere = tmp_path / "elsewhere"
    demo_settings = REPO / "config" / "config.yaml"  # the demo's fast registrations and small grid
    result = app(bids, out, "participant", "--participant-label", "sub-001", "--config", demo_settings, cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-5000:]
    assert list(elsewhere.iterdir()) == [], "the app wrote into the folder it was called from"
    # a quiet console: a line per job (it printed 199 lines, ANTs' debug output among them), and at
    # the end where the outputs went and what comes next
    console = (result.stdout + result.stderr).splitlines()
    assert len(console) <= 40, "\n".join(console)
    assert "synthpet: [3/10] brain_mask done" in console and not any("bad det" in line for line in console)
    assert console[-1].startswith("synthpet: next") and console[-1].endswith(f"{out} group")
    assert (out / ".snakemake").is_dir()
    written = {p.relative_to(out).parts[0] for p in out.rglob("*") if "sub-" in p.name}
    assert {"preproc", "mni", "qc"} <= written and "predictions" not in written  # per-scan stages only
    subjects = {part for p in out.rglob("sub-*") for part in p.relative_to(out).parts if part.startswith("sub-")}
    assert {s.split("_")[0].split(".")[0] for s in subjects} == {"sub-001"}
    for root in ("preproc", "mni"):
        assert validator_errors(out / root) == [], root
        description = json.loads((out / root / "dataset_description.json").read_text())
        assert description["DatasetType"] == "derivative"
        assert description["GeneratedBy"][0]["Version"] == __version__
        assert description["SourceDatasets"][0]["URL"] == bids.resolve().as_uri()
    # a second participant-level call for the same participant has nothing left to do
    again = app(bids, out, "participant", "--participant-label", "001", "--config", demo_settings, cwd=elsewhere)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    # the folder explains itself, and holds no empty folder (predictions/ waits for the group level)
    readme = (out / "README.md").read_text()
    assert "`sub-<label>.html`" in readme and "`preproc/`" in readme and "`models/`" not in readme
    empty = [p for p in out.rglob("*") if p.is_dir() and ".snakemake" not in p.parts and not any(p.iterdir())]
    assert empty == [] and not (out / "predictions").exists(), empty
    # the participant's page, before any group level: each scan's coregistration and MNI figures
    scans = len(list((out / "qc" / "coregistration").glob("sub-001_*.png")))
    try:
        assert scans and images_loaded(out / "sub-001.html", tmp_path) == (2 * scans, 2 * scans)
    except browser.Unavailable as reason:
        pytest.skip(f"the page was written, but not opened: {reason}")


def test_group_level_dry_run_plans_the_whole_workflow_without_the_excluded(paper_sized_bids, tmp_path):
    result = app(
        paper_sized_bids.root,
        tmp_path / "out",
        "group",
        "--exclude-participant-label",
        "15",
        "-n",
        "--quiet",
        "rules",  # a Snakemake option, passed through
        cwd=tmp_path / "elsewhere",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = planned_jobs(result)
    assert jobs["ingest_t1w"] == 15 and jobs["train_fold"] == 5  # the schema's defaults: the paper's 5 folds
    assert f"--snakefile {REPO / 'Snakefile'}" in result.stderr


def test_participant_selection_and_output_folder_errors_name_the_problem(paper_sized_bids, tmp_path):
    root = paper_sized_bids.root
    inside = app(root, root / "out", "participant", "-n", cwd=tmp_path)
    assert inside.returncode == 2 and "lies inside the BIDS dataset" in inside.stderr
    assert not (root / "out").exists(), "nothing may be written into the dataset"
    unknown = app(root, tmp_path / "out", "participant", "--participant-label", "99", "-n", cwd=tmp_path)
    assert unknown.returncode != 0
    # named as the user typed it, not as the config key the app sets from it
    assert "--participant-label: sub-99 not in" in unknown.stdout + unknown.stderr
    assert "input.participant_label" not in unknown.stdout + unknown.stderr
    bad_key = tmp_path / "bad.yaml"
    bad_key.write_text("training: {epochz: 3}\n")
    typo = app(root, tmp_path / "out2", "group", "--config", bad_key, "-n", cwd=tmp_path)
    assert typo.returncode == 2 and "'training.epochz'" in typo.stderr
    assert not (tmp_path / "out2").exists(), "a bad setting is refused before anything is written"


def test_version_names_the_release_and_commit():
    result = subprocess.run([SYNTHPET, "--version"], capture_output=True, text=True, timeout=60)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith(f"synthpet {__version__}")
    if head.returncode == 0:
        assert head.stdout.strip()[:12] in result.stdout


@pytest.mark.slow
def test_a_non_editable_install_runs_its_packaged_workflow_from_any_folder(paper_sized_bids, tmp_path):
    """pip install . (not editable) into a fresh venv: the wheel carries the Snakefile, rules, scripts,
    schema and configs. The venv reuses this environment's dependencies through a .pth file, which
    does not activate this environment's editable synthpet (.pth files there are not processed)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = tmp_path / "source"  # a copy (with uncommitted work), so the build never writes into the repository
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "_workflow")
    for name in ("src", *WORKFLOW_FILES, "setup.py", "pyproject.toml", "MANIFEST.in", "README.md"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=skip)
        else:
            shutil.copy2(REPO / name, source / name)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "."],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=source,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert install.returncode == 0, install.stderr[-3000:]
    installed = site / "synthpet" / "_workflow"
    assert (installed / "Snakefile").is_file() and (installed / "workflow" / "schemas" / "config.schema.yaml").is_file()
    executable = str(venv / "bin" / "synthpet")
    version = app("--version", cwd=tmp_path / "anywhere", executable=executable)
    assert version.returncode == 0 and version.stdout.startswith(f"synthpet {__version__}"), version.stderr
    dry = app(paper_sized_bids.root, tmp_path / "out", "group", "-n", cwd=tmp_path / "anywhere", executable=executable)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert f"--snakefile {installed / 'Snakefile'}" in dry.stderr
    assert planned_jobs(dry)["train_fold"] == 5
    for root in ROOTS:  # a dry run plans; it writes no derivatives
        assert not (tmp_path / "out" / root).exists()


def docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.container
@pytest.mark.skipif(not docker_available(), reason="no Docker daemon here")
def test_container_builds_and_runs_the_app(tmp_path):
    """The Dockerfile builds an image whose entry point is the BIDS-App call (where Docker runs)."""
    build = subprocess.run(["docker", "build", "-t", "synthpet:test", str(REPO)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    version = subprocess.run(["docker", "run", "--rm", "synthpet:test", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith(f"synthpet {__version__}"), version.stderr


def test_the_container_setting_puts_every_job_in_the_image(tmp_path):
    """config key 'container': Snakemake's container directive for every rule (used with --sdm
    apptainer, which this machine cannot run); without it, no rule names an image."""
    image = "docker://ghcr.io/example/synthpet:0.1.0"
    assert {rule.container_img for rule in parsed_rules(tmp_path, {"container": image})} == {image}
    assert {rule.container_img for rule in parsed_rules(tmp_path, {})} == {None}


@pytest.mark.container
@pytest.mark.skipif(shutil.which("apptainer") is None, reason="no apptainer here")
def test_a_participant_runs_inside_the_container(small_phantom, tmp_path):
    """Where apptainer and a built image (SYNTHPET_IMAGE) are present: the participant level inside it."""
    image = os.environ.get("SYNTHPET_IMAGE")
    if not image:
        pytest.skip("set SYNTHPET_IMAGE to a synthpet image built from the Dockerfile")
    root, _ = small_phantom
    config = tmp_path / "container.yaml"
    config.write_text(f"container: {image}\n")
    run = app(
        root, tmp_path / "out", "participant", "--config", config, "--sdm", "apptainer", "--cores", "2", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]


def test_relative_paths_in_a_config_file_are_read_from_the_calling_folder(tmp_path):
    """Snakemake runs in the output folder; a user's relative atlas path means the folder they called from."""
    from synthpet import app as bids_app

    (tmp_path / "study.yaml").write_text("evaluation: {atlas: {image: atlas/labels.nii.gz, labels: atlas/names.tsv}}\n")
    args = bids_app.parser().parse_args(["bids", "out", "group", "--config", "study.yaml"])
    config = bids_app.app_config(args, tmp_path)
    assert config["evaluation"]["atlas"] == {
        "image": str(tmp_path / "atlas" / "labels.nii.gz"),
        "labels": str(tmp_path / "atlas" / "names.tsv"),
    }
    assert config["input"]["bids_dir"] == str(tmp_path / "bids") and config["output_dir"] == str(tmp_path / "out")


def processes_naming(text: str) -> list[str]:
    """Command lines of the running processes that mention ``text`` (e.g. a run's output folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if text in command:
            found.append(command)
    return found


@pytest.mark.slow
def test_ctrl_c_stops_the_app_cleanly_and_the_same_command_resumes(small_phantom, tmp_path):
    """A Ctrl-C (SIGINT) while a brain_mask job runs: Snakemake stops its jobs and releases its lock
    (the app used to kill it 0.25 s in: a traceback, an orphan job, a stale lock), and the same
    command then goes on without --unlock."""
    bids, _ = small_phantom
    out = tmp_path / "out"
    command = [
        SYNTHPET,
        bids,
        out,
        "participant",
        "--participant-label",
        "001",
        "--config",
        REPO / "config" / "config.yaml",
    ]
    process = subprocess.Popen(list(map(str, command)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((out / "logs" / "brain_mask").glob("*.log")) and process.poll() is None:
        assert time.monotonic() < deadline, "no brain_mask job started"
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before the interrupt"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stdout + stderr
    assert "the same command resumes" in stderr
    assert not processes_naming(str(out)), "a job outlived the run"
    assert not list((out / ".snakemake" / "locks").glob("*")), "the lock stayed"
    assert not [p for p in out.rglob("*") if "synthpet-tmp" in p.name], "a partial output survived"
    again = subprocess.run(list(map(str, command)) + ["-n"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "LockException" not in again.stdout + again.stderr and "brain_mask" in again.stdout + again.stderr


def test_a_missing_dataset_is_refused_before_anything_is_written(tmp_path):
    """The app plans the run (settings, dataset, folds) before it writes its config or starts
    Snakemake: a missing dataset used to print a traceback and leave an output folder behind."""
    result = app(tmp_path / "no-such-study", tmp_path / "out", "participant", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "synthpet: error:" in result.stderr and "no-such-study" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_the_console_keeps_errors_and_condenses_the_rest():
    """Snakemake's lines as it prints them: the scheduler's noise goes, a finished job is one line,
    and anything else (an error, the job table, a warning) passes as it was."""
    from synthpet.app import ConsoleLines

    transcript = [
        "Building DAG of jobs...",
        "Provided cores: 2",
        "Job stats:",
        "",
        "Select jobs to execute...",
        "Execute 2 jobs...",
        "[Fri Dec  4 14:50:53 2026]",
        "Finished jobid: 4 (Rule: ingest_t1w)",
        "1 of 10 steps (10%) done",
        "Error in rule brain_mask:",
        "    message: synthpet: sub-01: brain extraction failed",
        "2 of 10 steps (20%) done",
    ]
    console = ConsoleLines()
    shown = [line for line in map(console, transcript) if line is not None]
    assert shown == [
        "Job stats:",
        "synthpet: [1/10] ingest_t1w done",
        "Error in rule brain_mask:",
        "    message: synthpet: sub-01: brain extraction failed",
        "2 of 10 steps (20%) done",  # no job named it: passed as it was
    ]
