"""Where the workflow's own files are: the Snakefile, rules, scripts, schema, report texts, configs, envs.

A checkout (or an editable install of one) uses them in place. A wheel carries a copy as package
data (``synthpet/_workflow``, written by ``setup.py``) with the commit it was built from, so that
an installed ``synthpet`` runs its workflow from any folder.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from synthpet import __version__
from synthpet.errors import SynthpetError

PACKAGE = Path(__file__).resolve().parents[1]  # synthpet/
PACKAGED = PACKAGE / "_workflow"
CHECKOUT = PACKAGE.parents[1]  # src/synthpet -> the checkout
# the files a run needs, relative to the workflow root (setup.py copies these)
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "envs", "profiles")
BUILD_COMMIT = "COMMIT"


def _complete(root: Path) -> bool:
    return (root / "Snakefile").is_file() and (root / "workflow" / "schemas" / "config.schema.yaml").is_file()


def workflow_root() -> Path:
    """The folder that holds ``Snakefile`` and ``workflow/``: the installed copy, else the checkout."""
    for root in (PACKAGED, CHECKOUT):
        if _complete(root):
            return root
    raise SynthpetError(
        f"the workflow files (Snakefile, workflow/) are in neither {PACKAGED} nor {CHECKOUT}; "
        "this installation of synthpet is incomplete, reinstall it"
    )


ROOT_VARIABLE = "SYNTHPET_ROOT"


def export_root_for_conda() -> None:
    """Set SYNTHPET_ROOT to the workflow root: envs/synthpet.yaml's pip line installs the package from
    there (--sdm conda creates the environment from a copy of that file elsewhere, so a relative path
    would not resolve; pip expands the variable)."""
    os.environ[ROOT_VARIABLE] = str(workflow_root())


def installed_commit() -> str | None:
    """The git commit an installed wheel was built from (None for a checkout: ask git there)."""
    stamp = PACKAGED / BUILD_COMMIT
    return stamp.read_text().strip() or None if stamp.is_file() else None


def version_line() -> str:
    """``synthpet 0.1.0 (commit 1a2b3c4)``: the package version and the commit of its workflow."""
    commit = workflow_state(workflow_root()).get("commit")
    return f"synthpet {__version__}" + (f" (commit {commit[:12]})" if commit else "")


def git_state(folder: str | Path) -> dict:
    """The commit of the workflow's repository and whether its tracked files differ from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "note": f"{folder} is not a git checkout"}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "modified": bool(status)}


def workflow_state(root: str | Path) -> dict:
    """The commit of the workflow files in ``root``: stamped into an installed wheel, else asked of git."""
    if Path(root).resolve() == PACKAGED:
        return {"commit": installed_commit(), "installed": str(PACKAGED)}
    return git_state(root)
