"""Cross-validation folds: all scans of a participant in one fold, diagnostic groups stratified.

The split is computed once (seeded) and written to a table that every later stage reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from synthpet.errors import InputError


def make_folds(scans: pd.DataFrame, n_folds: int, seed: int) -> pd.DataFrame:
    """``scans`` (scan, subject, group, ...) with a ``fold`` column (0 .. n_folds-1) added.

    Raises InputError when there are fewer participants than folds, or a group has fewer
    participants than folds (it cannot then be spread across the folds).
    """
    # imported here: scikit-learn takes a second to import, and every Snakemake start (each SLURM
    # job, each check that fails earlier) would pay it
    from sklearn.model_selection import StratifiedGroupKFold

    participants = scans.drop_duplicates("subject")
    if len(participants) < n_folds:
        raise InputError(
            f"{len(participants)} participants cannot fill {n_folds} folds; lower folds.n_folds or add participants"
        )
    sizes = participants.groupby("group").size()
    small = sizes[sizes < n_folds]
    if not small.empty:
        detail = ", ".join(f"{group} has {count}" for group, count in small.items())
        raise InputError(
            f"groups too small to stratify over {n_folds} folds ({detail} participants); "
            "lower folds.n_folds or merge groups"
        )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    out = scans.reset_index(drop=True).copy()
    out["fold"] = -1
    for fold, (_, test) in enumerate(splitter.split(out, y=out["group"], groups=out["subject"])):
        out.loc[test, "fold"] = fold
    return out


def check_genotypes(folds: pd.DataFrame, scope: str) -> None:
    """With scope 'fold', each fold's training scans must hold HAB and MAB scans to fit the genotype effect.

    Checked when the DAG is built, so the run stops before any job rather than at the regression.
    """
    if scope != "fold":
        return
    problems = []
    for fold in sorted(folds["fold"].unique()):
        present = set(folds.loc[folds["fold"] != fold, "genotype"])
        missing = {"HAB", "MAB"} - present
        if missing:
            problems.append(f"fold {fold}'s training scans have no {' or '.join(sorted(missing))} scan")
    if problems:
        raise InputError(
            "; ".join(problems) + ": the genotype effect cannot be fitted per fold (set genotype.scope to "
            "'cohort', lower folds.n_folds, or add participants)"
        )


def read_folds(path: str | Path) -> pd.DataFrame:
    """The folds table (``cohort/folds.tsv``), labels kept as text (``001`` stays ``001``)."""
    return pd.read_csv(path, sep="\t", dtype={"subject": str, "session": str})


def split(folds: pd.DataFrame, scans: Sequence[str], fold: int) -> tuple[list[int], list[int]]:
    """Positions in ``scans`` (a job's scans, in its inputs' order) of the fold's training scans and of
    its held-out scans, by ``folds``; a scan without a fold is an error that names it."""
    fold_of = dict(zip(folds["scan"], folds["fold"].astype(int), strict=True))
    missing = [scan for scan in scans if scan not in fold_of]
    if missing:
        raise InputError(f"the folds table holds no fold for {', '.join(missing)}: rerun the `folds` rule")
    train = [n for n, scan in enumerate(scans) if fold_of[scan] != fold]
    held_out = [n for n, scan in enumerate(scans) if fold_of[scan] == fold]
    return train, held_out
