"""Logging for workflow jobs: everything a job prints goes to its rule's log file; what a user
watches (training progress) also goes to the console, through the ``synthpet.progress`` logger."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from synthpet.errors import SynthpetError

PROGRESS = "synthpet.progress"


@contextlib.contextmanager
def job_log(path: str | Path | None) -> Iterator[logging.Logger]:
    """Send stdout, stderr and the ``synthpet`` logger to ``path`` for the duration of a job.

    A SynthpetError (bad input or setting) is also printed to the console, so the user sees what
    to fix without opening the log; then the job fails as usual.
    """
    logger = logging.getLogger("synthpet")
    progress = logging.getLogger(PROGRESS)
    if path is None:
        yield logger
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    console = sys.stderr
    with open(path, "w") as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # progress messages reach the log file through "synthpet", and the console through this
        on_console = logging.StreamHandler(console)
        on_console.setFormatter(logging.Formatter("synthpet: %(message)s"))
        progress.addHandler(on_console)
        started = time.perf_counter()
        try:
            yield logger
            logger.info(f"done in {time.perf_counter() - started:.1f} s")
        except SynthpetError as err:
            print(f"ERROR: {err}", file=handle)
            print(f"ERROR: {err}", file=console)
            raise
        except BaseException:
            traceback.print_exc(file=handle)
            raise
        finally:
            logger.removeHandler(handler)
            progress.removeHandler(on_console)
