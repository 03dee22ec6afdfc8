"""Packs the workflow (Snakefile, rules, scripts, schema, report texts, configs, envs) into the wheel.

Everything else is declared in pyproject.toml. A non-editable install gets a copy of these files as
``synthpet/_workflow`` with the git commit it was built from, so that ``synthpet`` runs its own
workflow from any folder. An editable install uses the checkout in place and copies nothing.
"""

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))
from synthpet.io.resources import WORKFLOW_FILES, git_state  # noqa: E402  (it imports no third-party package)


class BuildWithWorkflow(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "synthpet" / "_workflow"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in WORKFLOW_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.is_file():
                shutil.copy2(source, target / name)
        # empty when built from an unpacked sdist (no .git): --version then shows the version only
        (target / "COMMIT").write_text(git_state(ROOT).get("commit") or "")


setup(cmdclass={"build_py": BuildWithWorkflow})
