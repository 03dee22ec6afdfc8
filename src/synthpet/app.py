"""The BIDS-App call: ``synthpet BIDS_DIR OUTPUT_DIR participant|group [options]``.

It runs this package's own Snakefile (from a checkout or an installed wheel) from any working
directory: the user's config files are merged (as Snakemake merges ``--configfile``), the dataset,
output folder, analysis level and participant selection are set over them, and the result is
written into the output folder as one config file, which every job (on a cluster too) reads.
Options this parser does not know go through to Snakemake unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from synthpet.errors import SynthpetError
from synthpet.io.config import merge_config, read_config_file
from synthpet.io.derivatives import OUTPUT_LAYOUT
from synthpet.io.imageio import write_text
from synthpet.io.resources import workflow_root
from synthpet.plan import plan_run

LEVELS = ("participant", "group")
# the config keys that the command line sets, as the user typed them
OPTIONS = {
    "config key 'input.participant_label'": "--participant-label",
    "config key 'input.exclude_participant_label'": "--exclude-participant-label",
    "config key 'input.bids_dir'": "BIDS_DIR",
    "config key 'output_dir'": "OUTPUT_DIR",
}
USAGE = "synthpet BIDS_DIR OUTPUT_DIR {participant,group} [options] [snakemake options]"
# config keys that name files: relative paths in a user's config file are read from where synthpet is
# called (Snakemake itself runs in the output folder)
PATH_KEYS = (("phantom", "pattern_image"), ("evaluation", "atlas", "image"), ("evaluation", "atlas", "labels"))


def parser() -> argparse.ArgumentParser:
    app = argparse.ArgumentParser(
        prog="synthpet",
        usage=USAGE,
        description=(
            "Synthetic TSPO PET from T1w MRI, run as a BIDS App. 'participant' runs the per-scan stages "
            "(ingest, skull stripping, PET-to-T1w coregistration, normalization, QC, registration to MNI) of "
            "the selected participants; 'group' runs everything (per-scan stages where missing, then the "
            "cross-validated training, inference, statistics and the report). Options not listed here go "
            "to Snakemake (e.g. --forcerun train_fold, --keep-going)."
        ),
    )
    app.add_argument("bids_dir", help="the BIDS dataset (T1w and PET, participants.tsv with group and genotype)")
    app.add_argument("output_dir", help="where the derivatives go (outside the dataset, or under its derivatives/)")
    app.add_argument("analysis_level", choices=LEVELS, help="participant: per-scan stages; group: the whole workflow")
    app.add_argument(
        "--participant-label",
        "--participant_label",
        nargs="+",
        default=[],
        metavar="LABEL",
        help="participants to run (with or without 'sub-'); default: every participant",
    )
    app.add_argument(
        "--exclude-participant-label",
        "--exclude_participant_label",
        nargs="+",
        default=[],
        metavar="LABEL",
        help="participants to leave out",
    )
    app.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="config file (repeat to merge several, later over earlier); keys left out take the paper's "
        "protocol (workflow/schemas/config.schema.yaml); see config/paper.yaml",
    )
    app.add_argument("--cores", help="CPU cores to use (default: all, or what --profile says)")
    app.add_argument("--profile", help="Snakemake profile folder, e.g. a SLURM profile (profiles/slurm)")
    app.add_argument("-n", "--dry-run", action="store_true", help="show what would run; run nothing")
    return app


def _labels(values: list[str]) -> list[str]:
    return [value.removeprefix("sub-") for value in values]


def app_config(args: argparse.Namespace, cwd: Path) -> dict:
    """The settings of this call: the user's files merged, then what the command line says, validated."""
    config: dict = {}
    for path in args.config:
        merge_config(config, read_config_file(cwd / path))
    for *sections, key in PATH_KEYS:
        parent = config
        for section in sections:
            parent = parent.get(section) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and isinstance(parent.get(key), str):
            parent[key] = str((cwd / Path(parent[key]).expanduser()).resolve())
    given = {"source": "bids", "bids_dir": str((cwd / args.bids_dir).resolve())}
    if args.participant_label:
        given["participant_label"] = _labels(args.participant_label)
    if args.exclude_participant_label:
        given["exclude_participant_label"] = _labels(args.exclude_participant_label)
    merge_config(
        config,
        {"analysis_level": args.analysis_level, "output_dir": str((cwd / args.output_dir).resolve()), "input": given},
    )
    return config


def write_app_config(config: dict) -> Path:
    """``OUTPUT_DIR/logs/app/config-<hash>.yaml``: named by its content, so that runs for different
    participants in one output folder at once never overwrite each other's settings."""
    text = yaml.safe_dump(config, sort_keys=False)
    folder = Path(config["output_dir"]) / "logs" / "app"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"config-{config['analysis_level']}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    if not path.exists():
        write_text(text, path)
    return path


def snakemake_command(args: argparse.Namespace, output_dir: str, config_file: Path, passthrough: list) -> list[str]:
    """Snakemake on this package's Snakefile; its state (.snakemake/) lives in the output folder."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(workflow_root() / "Snakefile")]
    command += ["--directory", output_dir, "--configfile", str(config_file)]
    if args.cores or not args.profile:
        command += ["--cores", args.cores or "all"]
    if args.profile:
        profile = Path(args.profile).expanduser()
        command += ["--profile", str(profile.resolve()) if profile.exists() else args.profile]
    if args.dry_run:
        command.append("--dry-run")
    return command + passthrough


# Snakemake's lines that tell a user nothing to act on: the scheduler's steps, time stamps, and what
# it prints on every start. Its errors, warnings and table of jobs pass unchanged.
SCHEDULER_NOISE = re.compile(
    r"^(Select jobs to execute\.\.\.|Execute \d+ jobs\.\.\.|\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]$|Using shell: |"
    r"Provided cores: |Rules claiming more threads will be scaled down\.|Conda environments: ignored|"
    r"Assuming unrestricted shared filesystem usage\.|Building DAG of jobs\.\.\.|Using workflow specific profile )"
)
FINISHED = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)")
STEPS = re.compile(r"^(\d+) of (\d+) steps \(\d+%\) done")


class ConsoleLines:
    """Snakemake's console, condensed: one line per finished job ("[3/10] brain_mask done") instead of
    five, the scheduler's noise dropped, everything else as Snakemake printed it."""

    def __init__(self) -> None:
        self.finished: str | None = None

    def __call__(self, line: str) -> str | None:
        text = line.rstrip("\n")
        if not text.strip() or SCHEDULER_NOISE.match(text):
            return None
        if finished := FINISHED.match(text):
            self.finished = finished.group(1)
            return None
        if (steps := STEPS.match(text)) and self.finished:
            rule, self.finished = self.finished, None
            return f"synthpet: [{steps.group(1)}/{steps.group(2)}] {rule} done"
        return text


def run_snakemake(command: list[str], condensed: bool = True) -> int:
    """Snakemake in a session of its own, so that a Ctrl-C (SIGINT) or a SIGTERM reaches it once,
    through this process, and nothing kills it while it stops its jobs, removes their incomplete
    outputs and releases its lock (``subprocess.run`` killed it 0.25 s after a Ctrl-C, leaving
    jobs running and the working directory locked). Its log (stderr) is ``condensed`` on the way."""
    process = subprocess.Popen(
        command, start_new_session=True, stderr=subprocess.PIPE if condensed else None, text=True, bufsize=1
    )
    stopped: list[int] = []

    def forward(signum, frame):
        stopped.append(signum)
        process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if condensed:
            console = ConsoleLines()
            for line in process.stderr:
                shown = console(line)
                if shown is not None:
                    print(shown, file=sys.stderr, flush=True)
        code = process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped:
        print(
            "synthpet: interrupted; Snakemake stopped its jobs and released its lock: the same command resumes",
            file=sys.stderr,
        )
        return 130
    return code


def run(argv: list[str]) -> int:
    args, passthrough = parser().parse_known_args(argv)
    config = app_config(args, Path.cwd())
    # settings, dataset and folds checked, every problem named, before anything is written
    try:
        plan_run(config)
    except SynthpetError as err:
        message = str(err)
        for key, option in OPTIONS.items():
            message = message.replace(key, option)
        raise SynthpetError(message) from None
    command = snakemake_command(args, config["output_dir"], write_app_config(config), passthrough)
    condensed = not {"--verbose", "--quiet", "-q"} & set(passthrough)
    if condensed:  # the project's own line per job, not Snakemake's block of paths and reasons
        command += ["--quiet", "rules", "host"]
    print(f"synthpet: {' '.join(command)}", file=sys.stderr, flush=True)
    code = run_snakemake(command, condensed)
    if code == 0 and not args.dry_run and not NOT_A_RUN & {option.split("=")[0] for option in passthrough}:
        print(where_outputs_went(args), file=sys.stderr)
    return code


# Snakemake options after which nothing ran: no summary of outputs follows them
NOT_A_RUN = {"--report", "--unlock", "--touch", "-t", "--summary", "-S", "--detailed-summary", "-D", "--lint"}
NOT_A_RUN |= {"--list-changes", "--lc", "--dag", "--rulegraph", "--filegraph", "--cleanup-metadata", "--cm"}


def where_outputs_went(args) -> str:
    """The last lines of a finished run: where its outputs are (the README.md that the run wrote there
    says what each holds), and what comes next."""
    out = Path(args.output_dir).resolve()
    group = args.analysis_level == "group"
    entries = ", ".join(name for name, level, _ in OUTPUT_LAYOUT if group or level == "participant")
    lines = [f"synthpet: the {args.analysis_level} level is done; in {out} (its README.md says what each holds):"]
    lines.append(f"  {entries}")
    if group:
        lines.append(
            f"synthpet: the HTML report of every table and figure: synthpet {args.bids_dir} {args.output_dir} "
            "group --report"
        )
    else:
        lines.append(
            f"synthpet: next, when every participant is done: synthpet {args.bids_dir} {args.output_dir} group"
        )
    return "\n".join(lines)
