"""The methods paragraph says what ran: its numbers follow the settings and the cohort."""

import pandas as pd

from synthpet.io.config import validate_config
from synthpet.report.methods import methods_html, methods_text

FOLDS = pd.DataFrame(
    {"scan": ["sub-01", "sub-02_ses-1", "sub-02_ses-2"], "subject": ["01", "02", "02"], "group": ["HC", "KOA", "KOA"]}
)
PROVENANCE = {
    "packages": {"synthpet": "0.1.0", "torch": "2.13.0"},
    "python": "3.11.2",
    "workflow": {"commit": "abc123"},
}


def test_paper_protocol_in_words():
    text = methods_text(validate_config({}), PROVENANCE, FOLDS, 507_553)
    for phrase in (
        "3 scans of 2 participants (1 HC and 1 KOA)",
        "5 cross-validation folds",
        "507,553 parameters",
        "50 epochs (batch 2, learning rate 0.0001, constant)",
        "0.5 BCE + 0.5 MSE",
        "96x96x96 grid of 2 mm voxels",
        "between its 1st and 99th brain percentiles",
        "4 mm FWHM",
        "PyTorch 2.13.0",
        "workflow commit abc123",
        "one coefficient per genotype over the whole brain, fitted within each training fold",
    ):
        assert phrase in text, phrase


def test_changed_settings_change_the_text():
    config = validate_config(
        {
            "training": {"epochs": 7, "learning_rate": 0.003, "lr_schedule": "cosine", "augment": "flip"},
            "genotype": {"scope": "cohort"},
        }
    )
    text = methods_text(config, PROVENANCE, FOLDS, 38_377)
    assert "7 epochs" in text and "50 epochs" not in text and "cosine-annealed" in text
    assert "mirrored left-right" in text and "mirrored" not in methods_text(validate_config({}), PROVENANCE, FOLDS, 1)
    assert "on every scan of the cohort" in text and "38,377 parameters" in text
    page = methods_html(text)
    assert page.count("<p>") == 5 and "<h1>Methods</h1>" in page
