"""Logging for workflow jobs: everything a job prints goes to its rule's log file; what a user
watches (training progress) also goes to the console, through the ``synthpet.progress`` logger."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from synthpet.errors import SynthpetError

PROGRESS = "synthpet.progress"


@contextlib.contextmanager
def _console_to(handle) -> Iterator:
    """Send stdout and stderr to ``handle``, Python's and the file descriptors' both: compiled code
    (ANTs' registrations print " bad det -1 v -1 u 1" from C++) writes to the descriptors, which
    ``contextlib.redirect_stdout`` leaves on the console. Yields a stream to the console itself."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    console = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    try:
        for fd in saved:
            os.dup2(handle.fileno(), fd)
        with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
            yield console
    finally:
        handle.flush()
        for fd, original in saved.items():
            os.dup2(original, fd)
            os.close(original)
        console.close()


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
    with open(path, "w") as handle, _console_to(handle) as console:
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
