"""Job logs: everything goes to the log file; training progress also to the console."""

import io
import logging
import sys

from synthpet.logs import PROGRESS, job_log


def test_progress_reaches_the_console_and_the_log_other_messages_only_the_log(tmp_path, monkeypatch):
    console = io.StringIO()
    monkeypatch.setattr(sys, "stderr", console)
    path = tmp_path / "logs" / "train_fold" / "fold-0.log"
    with job_log(path) as log:
        logging.getLogger(PROGRESS).info("fold 0 epoch 1/3 train 0.25")
        log.info("loaded 12 volumes")
        print("a stray print")
    logging.getLogger(PROGRESS).info("after the job")  # the console handler left with the job
    text = path.read_text()
    assert "fold 0 epoch 1/3 train 0.25" in text and "loaded 12 volumes" in text and "a stray print" in text
    assert "done in" in text
    assert console.getvalue() == "synthpet: fold 0 epoch 1/3 train 0.25\n"
