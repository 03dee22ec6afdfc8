"""The report's HTML tables hold every row and column of their TSV, numbers rounded for reading."""

import json
from io import StringIO

import numpy as np
import pandas as pd

from synthpet.report.report_tables import file_html, flatten, table_html


def test_html_table_holds_every_cell(tmp_path):
    table = pd.DataFrame(
        {"scan": ["sub-01_ses-1", "sub-02_ses-1"], "mse": [0.0123456789, np.nan], "fold": [0, 1], "note": ["a<b", "x"]}
    )
    path = tmp_path / "t.tsv"
    table.to_csv(path, sep="\t", index=False, na_rep="n/a")
    page = file_html(path)
    back = pd.read_html(StringIO(page), keep_default_na=False)[0]
    assert list(back.columns) == ["scan", "mse", "fold", "note"]
    assert back["scan"].tolist() == ["sub-01_ses-1", "sub-02_ses-1"]  # names kept, not parsed as numbers
    assert back["mse"].tolist() == ["0.01235", "n/a"]  # 4 significant digits; a missing value says so
    assert back["fold"].tolist() == [0, 1] and back["note"].tolist() == ["a<b", "x"]  # escaped, then shown as is
    assert "<h1>T</h1>" in page and "from t.tsv" in page  # no caption: the file's name
    # the caption in plain view above the table, its first clause the title
    captioned = file_html(path, "Table 4 of the paper: metrics of the synthetic PET, over all scans.")
    assert "<h1>Table 4 of the paper</h1>" in captioned
    assert '<p class="caption">Table 4 of the paper: metrics' in captioned
    assert captioned.index("<h1>") < captioned.index('class="caption"') < captioned.index("<table>")


def test_provenance_json_becomes_key_value_rows(tmp_path):
    record = {"seed": 42, "workflow": {"commit": "abc", "modified": False}, "packages": {"torch": "2.13"}, "x": [1, 2]}
    assert flatten(record) == [
        ("seed", "42"),
        ("workflow.commit", "abc"),
        ("workflow.modified", "false"),
        ("packages.torch", "2.13"),
        ("x", "[1, 2]"),
    ]
    path = tmp_path / "provenance.json"
    path.write_text(json.dumps(record))
    back = pd.read_html(StringIO(table_html(pd.DataFrame(flatten(record), columns=["key", "value"]), "p")))[0]
    assert len(back) == 5 and back.loc[back["key"] == "workflow.commit", "value"].item() == "abc"
    assert "workflow.commit" in file_html(path)
