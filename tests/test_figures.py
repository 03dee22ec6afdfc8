"""The paper's figures as a reader gets them: 300 dpi PNGs with an SVG twin whose text (kept as text)
holds every axis label, unit, colour-bar label and n; captions that do not promise what the data
cannot give."""

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from synthpet.evaluate import figures

REGIONS = ["Left_Thalamus", "Right_Thalamus", "Left_Insular_Cortex", "Brain_Stem"]
GROUPS = ["HC", "CLBP"]


def svg_text(png) -> str:
    """Every text of a figure's SVG twin, as one string."""
    svg = figures.vector_twin(png).read_text()
    return " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(0)
    rows = []
    for s in range(8):
        for region in REGIONS:
            pet = rng.uniform(0.3, 0.6)
            rows.append(
                {"scan": f"sub-{s:02d}", "group": GROUPS[s % 2], "region": region, "pet": pet}
                | {"pet_smoothed": pet * 0.95, "synthetic": pet + rng.normal(0, 0.03)}
            )
    regions = pd.DataFrame(rows)
    tests = pd.DataFrame(
        [{"region": r, "group": g, "participants": 4, "p_wilcoxon": 0.125} for r in REGIONS for g in GROUPS]
    )
    r_values = [-0.3, 0.5, -0.1, 0.2]  # negative in 2 of the 4 regions
    correlations = pd.DataFrame(
        [
            {"region": r, "pair": "synthetic vs pet_smoothed", "participants": 12, "r": v, "p": 0.01}
            for r, v in zip(REGIONS, r_values, strict=True)
        ]
        + [{"region": r, "pair": "synthetic vs t1w", "participants": 12, "r": 0.1, "p": 0.7} for r in REGIONS]
    )
    metrics = {
        f"{m}_synthetic_vs_{t}": rng.uniform(0, 1, 8)
        for m in ("mse", "normdiff", "percdiff")
        for t in ("pet", "pet_smoothed")
    }
    scans = pd.DataFrame(metrics | {f"cnr_{k}": rng.uniform(1, 3, 8) for k in ("pet", "pet_smoothed", "synthetic")})
    losses = {
        k: pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.5, 0.4, 0.3], "held_out_loss": [0.6, 0.5, 0.45]})
        for k in (0, 1)
    }
    return regions, tests, correlations, scans, losses


def test_the_smallest_wilcoxon_p_is_scipys():
    for n in (3, 4, 5, 6, 8):
        all_positive = stats.wilcoxon(np.arange(1.0, n + 1), method="exact").pvalue
        assert figures.smallest_wilcoxon_p(n) == pytest.approx(all_positive)


def test_every_figure_is_print_ready_and_says_what_it_shows(tables, tmp_path):
    regions, tests, correlations, scans, losses = tables
    drawn = {
        "fig3": figures.groups_original_vs_synthetic(regions, tests, REGIONS, tmp_path / "fig3.png"),
        "fig4": figures.median_split_scatter_bland_altman(regions, REGIONS, tmp_path / "fig4.png"),
        "fig5": figures.metric_distributions(scans, tmp_path / "fig5.png"),
        "fig6": figures.correlation_bars(correlations, REGIONS, tmp_path / "fig6.png"),
        "fig7": figures.loss_curves(losses, tmp_path / "fig7.png"),
    }
    shape = (20, 24, 20)
    brain = np.zeros(shape, bool)
    brain[4:16, 4:20, 4:16] = True
    volumes = {k: np.random.default_rng(1).uniform(0, 1, shape) for k in ("t1w", "pet", "synthetic", "pet_smoothed")}
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-20, -30, -10]
    drawn["fig2"] = figures.example_slices(volumes, brain, "sub-01", tmp_path / "fig2.png", affine=affine)
    for name, png in drawn.items():
        assert Image.open(png).info["dpi"] == pytest.approx((300, 300), abs=1), name
        assert figures.vector_twin(png).stat().st_size > 1000, name
    text = {name: svg_text(png) for name, png in drawn.items()}
    # Figure 2: each row's plane and MNI coordinate (the slices go through the brain's centre, voxel
    # (10, 12, 10) -> (0, -6, 10) mm), a colour bar with its unit per column
    assert "x = 0 mm" in text["fig2"] and "y = -6 mm" in text["fig2"] and "z = 10 mm" in text["fig2"]
    assert "T1w (scaled to [0, 1])" in text["fig2"] and text["fig2"].count("normalized SUV") >= 3
    # Figure 3: n per group, and that with 4 participants no star can appear (p >= 0.125)
    assert "HC (n = 4 participants)" in text["fig3"] and "no p can fall below 0.125" in text["fig3"]
    assert "p &lt; 0.05" in text["fig3"] or "p < 0.05" in text["fig3"]
    # Figure 4: units on every axis, n in the split
    assert "mean of synthetic and smoothed measured PET (normalized SUV)" in text["fig4"]
    assert "Low (n = 16)" in text["fig4"] and "High (n = 16)" in text["fig4"]
    # Figure 5: n, and a unit on each axis
    assert "(n = 8 scans)" in text["fig5"] and "MSE (normalized SUV squared)" in text["fig5"]
    # Figure 6: n, the star key, and how many regions correlate negatively (2 of 4, by hand)
    assert "(n = 12)" in text["fig6"] and "r &lt; 0 in 2 of 4 regions" in text["fig6"]
    # Figure 7: its axes
    assert "epoch" in text["fig7"] and "BCE" in text["fig7"]


def test_a_qc_figure_is_a_screen_png_with_no_vector_twin(tmp_path):
    shape = (12, 12, 12)
    brain = np.zeros(shape, bool)
    brain[3:9, 3:9, 3:9] = True
    volumes = {k: np.ones(shape) for k in ("t1w", "pet", "synthetic", "pet_smoothed")}
    png = figures.example_slices(volumes, brain, "qc", tmp_path / "qc.png", with_error=True, publication=False)
    assert Image.open(png).info["dpi"] == pytest.approx((figures.QC_DPI, figures.QC_DPI), abs=1)
    assert not figures.vector_twin(png).exists()


def test_the_loss_figures_draw_the_loss_tables_without_torch(tables, tmp_path):
    """A fold's own loss plot and Figure 7 are drawn by one function (learn.loss_figure), from the
    tables as written; the figures job draws Figure 7 without importing torch (1.5 s of its start)."""
    import subprocess
    import sys

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synthpet.learn.loss_figure import draw_losses

    losses = tables[-1]
    figure, ax = plt.subplots()
    draw_losses(ax, losses, 0.5)
    lines = ax.get_lines()
    assert len(lines) == 2 * len(losses)
    for line, (fold, column) in zip(
        lines, [(f, c) for f in losses for c in ("train_loss", "held_out_loss")], strict=True
    ):
        np.testing.assert_array_equal(line.get_ydata(), losses[fold][column])
        assert line.get_label().startswith(f"fold {fold} ") and (line.get_linestyle() == "--") == (
            column != "train_loss"
        )
    plt.close(figure)
    code = f"""
import sys
import pandas as pd
from synthpet.evaluate import figures
table = pd.DataFrame({{"epoch": [1, 2], "train_loss": [0.5, 0.4], "held_out_loss": [0.6, 0.5]}})
figures.loss_curves({{0: table}}, {str(tmp_path / "fig7.png")!r})
print("torch" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False", done.stdout
