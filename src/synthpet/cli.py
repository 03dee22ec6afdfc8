"""The ``synthpet`` command line: the BIDS-App call (synthpet.app) and the tools beside it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synthpet import app
from synthpet.errors import SynthpetError
from synthpet.io.resources import version_line


def _phantom(args: argparse.Namespace) -> None:
    from synthpet.io.config import load_config
    from synthpet.validation import phantom

    config = load_config(*([args.config] if args.config else []))
    if args.seed is not None:
        config["seed"] = args.seed
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise SynthpetError(f"{out}: --out names a file; give a folder for the new BIDS dataset")
    if out.exists() and any(out.iterdir()) and not args.force:
        raise SynthpetError(f"{out}: folder is not empty; choose another --out or pass --force to overwrite")
    participants = phantom.generate(out, config, progress=lambda scan: print(f"wrote {scan}", flush=True))
    scans = sum(len(p.sessions) for p in participants)
    print(f"synthetic cohort: {len(participants)} participants, {scans} scans in {out}")


def _check(args: argparse.Namespace) -> None:
    from synthpet.io.config import effective_config
    from synthpet.plan import plan_run, settings_line
    from synthpet.validation.phantom import DATASETS

    overrides = {"input": {"source": "bids", "bids_dir": args.bids_dir}} if args.bids_dir else None
    plan = plan_run(effective_config(args.config or [], overrides), datasets=DATASETS)
    print(f"settings in effect: {settings_line(plan.config)}")
    print(plan.folds.to_string(index=False))
    for scan, reason in plan.cohort.excluded.items():
        print(f"excluded {scan}: {reason}")
    for warning in plan.cohort.warnings:
        print(f"warning: {warning}")
    print(
        f"{len(plan.cohort.scans)} usable scans of {plan.folds['subject'].nunique()} participants "
        f"in {plan.config['folds']['n_folds']} folds"
    )


def _predict(args: argparse.Namespace) -> None:
    from synthpet.predict import predict_new

    def warn(message: str) -> None:
        print(f"synthpet: warning: {message}", file=sys.stderr, flush=True)

    results = predict_new(
        args.t1w, args.models, args.out, device=args.device, force=args.force, progress=print, warn=warn
    )
    for stem, outputs in results.items():
        for key, path in outputs.items():
            print(f"{stem} {key}: {path}")


TOOLS = ("phantom", "check", "predict")  # a first argument that is none of these is a BIDS dataset
TOOLS_HELP = (
    "Synthetic TSPO PET ([11C]PBR28 SUV) from T1w MRI (Ferrante et al. 2025, reproduced and extended).\n\n"
    "Run on a BIDS dataset (see 'synthpet BIDS_DIR OUTPUT_DIR participant --help'):\n"
    f"  {app.USAGE}\n\n"
    "or use one of the tools below."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthpet", description=TOOLS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", required=True)

    phantom = commands.add_parser("phantom", help="write a synthetic BIDS cohort with ground truth")
    phantom.add_argument("--out", required=True, help="folder of the new BIDS dataset")
    phantom.add_argument(
        "--config", help="workflow config whose 'phantom' and 'seed' settings to use (default: the demo config)"
    )
    phantom.add_argument("--seed", type=int, help="override the config's seed (default: the config's, 42 in the demo)")
    phantom.add_argument("--force", action="store_true", help="write into a non-empty folder")
    phantom.set_defaults(run=_phantom)

    check = commands.add_parser(
        "check", help="check settings and inputs exactly as a run would (nothing runs, nothing is written)"
    )
    check.add_argument("bids_dir", nargs="?", help="the BIDS dataset (default: the config's input.bids_dir)")
    check.add_argument(
        "--config",
        action="append",
        help="workflow config file, as snakemake --configfile (repeat to merge several; default: the demo config)",
    )
    check.set_defaults(run=_check)

    predict = commands.add_parser(
        "predict",
        help="synthetic PET for new T1w scans: every fold model averaged, their SD as uncertainty, on the input's grid",
    )
    predict.add_argument("t1w", nargs="+", help="T1w NIfTI images (with skull), or folders of them")
    predict.add_argument(
        "--models", default="results/models", help="folder of the workflow's fold-*/ models (default: %(default)s)"
    )
    predict.add_argument(
        "--out",
        required=True,
        help="folder (a BIDS derivatives dataset) for the synthetic PET, its SD map, the mask and QC",
    )
    predict.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where the models run: auto takes a CUDA GPU when torch sees one, else the CPU (default: %(default)s)",
    )
    predict.add_argument("--force", action="store_true", help="overwrite outputs written for another input")
    predict.set_defaults(run=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        if argv and argv[0] not in TOOLS and not argv[0].startswith("-"):
            return app.run(argv)  # synthpet BIDS_DIR OUTPUT_DIR LEVEL ...
        args = parser.parse_args(argv)
        args.run(args)
    except SynthpetError as err:
        print(f"synthpet: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
