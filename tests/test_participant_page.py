"""The participant's page (sub-<label>.html): captions, notices, embedded figures. Opened in a real
browser on the demo (test_demo) and on a participant-level run (test_app)."""

import base64
import re

from synthpet.io.imageio import read_text
from synthpet.io.resources import workflow_root
from synthpet.report.captions import caption_text
from synthpet.report.participant import Figure, ScanSection, notices_about, participant_html


def test_a_caption_names_the_scan_with_or_without_a_session():
    template = read_text(workflow_root() / "workflow" / "report" / "qc_coregistration.rst", "caption")
    with_session = caption_text(template, {"subject": "01", "session": "02"})
    without = caption_text(template, {"subject": "01"})
    assert "for scan sub-01_ses-02." in with_session and "for scan sub-01." in without
    assert "{" not in with_session + without and "\n" not in with_session  # every template tag rendered


def test_notices_name_only_their_participant():
    warnings = ["sub-1/anat/sub-1_T1w.nii.gz: coarse voxels", "sub-10_ses-01: weight from the sidecar", "general"]
    excluded = {"sub-1_ses-02": "no PET", "sub-1b": "no T1w"}
    assert notices_about("1", warnings, excluded) == [warnings[0], "sub-1_ses-02: left out: no PET"]
    assert notices_about("10", warnings, excluded) == [warnings[1]]


def test_the_page_embeds_each_figure_and_escapes_text(tmp_path):
    png = tmp_path / "figure.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
    sections = [ScanSection("sub-01_ses-01", [Figure("Coregistration", str(png), "a <shifted> PET")])]
    page = participant_html("01", sections, ["sub-01: odd & strange"], "PET was coregistered.")
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(embedded) == png.read_bytes()
    assert "a &lt;shifted&gt; PET" in page and "sub-01: odd &amp; strange" in page
    assert page.index('id="sub-01_ses-01"') < page.index('id="notices"') < page.index('id="methods"')
    assert "None." in participant_html("01", sections, [], "")
