"""Job logs: everything goes to the log file; training progress also to the console."""

import subprocess
import sys
import textwrap

JOB = textwrap.dedent(
    """
    import logging, os, sys
    from synthpet.logs import PROGRESS, job_log

    with job_log(sys.argv[1]) as log:
        logging.getLogger(PROGRESS).info("fold 0 epoch 1/3 train 0.25")
        log.info("loaded 12 volumes")
        print("a stray print")
        os.write(1, b" bad det -1 v -1 u 1\\n")  # compiled code (ANTs) writes to the descriptor itself
        os.write(2, b"a C library's warning\\n")
        os.system("echo a child process")
    logging.getLogger(PROGRESS).info("after the job")  # the console handler left with the job
    print("back on the console")
    """
)


def test_progress_reaches_the_console_and_the_log_everything_else_only_the_log(tmp_path):
    """A job in a process of its own, as Snakemake runs it: the console sees the progress line and
    nothing else, whoever wrote the rest (Python, a compiled library, a child process)."""
    path = tmp_path / "logs" / "train_fold" / "fold-0.log"
    job = subprocess.run([sys.executable, "-c", JOB, str(path)], capture_output=True, text=True, timeout=60)
    assert job.returncode == 0, job.stderr
    text = path.read_text()
    for line in ("fold 0 epoch 1/3 train 0.25", "loaded 12 volumes", "a stray print", "bad det", "C library's"):
        assert line in text, line
    assert "a child process" in text and "done in" in text
    assert job.stderr == "synthpet: fold 0 epoch 1/3 train 0.25\n"
    assert job.stdout == "back on the console\n"
