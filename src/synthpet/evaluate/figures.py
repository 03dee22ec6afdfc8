"""The paper's figures 2 to 7, drawn from the evaluation tables (the numbers plotted are the TSVs')."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


PNG_DPI = 300  # print resolution


def vector_twin(path: str | Path) -> Path:
    """The figure's vector copy beside its PNG: SVG, its text kept as text, so a journal's editor can change it."""
    return Path(path).with_suffix(".svg")


QC_DPI = 100  # a QC figure is looked at on a screen, and embedded in each participant's page


def _save(figure, path: str | Path, publication: bool = True) -> Path:
    """A publication figure: PNG at 300 dpi and its vector twin; a QC figure: a screen's PNG only."""
    import matplotlib

    from synthpet.io.imageio import atomic_path

    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=PNG_DPI if publication else QC_DPI, format="png", bbox_inches="tight")
    if publication:
        with matplotlib.rc_context({"svg.fonttype": "none"}), atomic_path(vector_twin(path)) as tmp:
            figure.savefig(tmp, format="svg", bbox_inches="tight")
    _pyplot().close(figure)
    return Path(path)


STARS_KEY = "* p < 0.05, ** p < 0.01, *** p < 0.001 (uncorrected)"


def smallest_wilcoxon_p(n: int) -> float:
    """The smallest two-sided p an exact Wilcoxon signed-rank test can give with ``n`` pairs: every
    difference of one sign, 2 of the 2^n equally likely sign patterns."""
    return min(1.0, 2.0 / 2**n) if n > 0 else 1.0


def stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def example_slices(
    volumes: dict[str, np.ndarray],
    brain: np.ndarray,
    title: str,
    path: str | Path,
    with_error: bool = False,
    affine: np.ndarray | None = None,
    publication: bool = True,
    centre: np.ndarray | None = None,
    extra: tuple[tuple[str, str], ...] = (),
    circle_voxels: float | None = None,
) -> Path:
    """Figure 2: T1w, true PET, synthetic PET and smoothed true PET of one scan, three planes;
    ``with_error``: and where the synthetic PET misses, |synthetic - measured| (and the scan's
    expected error, when ``volumes`` has it), on a scale of their own that the two share. Rows are
    labelled with their plane and, given the images' ``affine``, its coordinate in mm; outside the
    brain is white, apart from every colour a value can take (a zero error is dark, not absent).

    The planes cross at the brain's centre of mass, or at ``centre`` (voxel indices), ringed by a
    circle of ``circle_voxels`` when given; ``extra``: (key, label) of more PET images of ``volumes``,
    on the PET's shared scale."""
    plt = _pyplot()
    columns = (
        ("t1w", "T1w", "gray"),
        ("pet", "measured PET"),
        ("synthetic", "synthetic PET"),
        ("pet_smoothed", "smoothed measured PET"),
        *extra,
    )
    if with_error:
        volumes = {**volumes, "error": np.abs(volumes["synthetic"] - volumes["pet"])}
        columns += (("error", "|synthetic - measured|", "viridis"),)
        if "expected_error" in volumes:
            columns += (("expected_error", "expected |error|\n(other folds' scans)", "viridis"),)
    if centre is None:
        centre = np.argwhere(brain).mean(axis=0).round().astype(int)
    figure, axes = plt.subplots(3, len(columns), figsize=(3.2 * len(columns), 9.5))
    # one scale for the PET images (their brain maximum: nothing saturates), its own for the T1w
    pet_keys = ("pet", "synthetic", "pet_smoothed", *(key for key, _ in extra))
    vmax = max(float(np.nanmax(volumes[k][brain])) for k in pet_keys) or 1.0
    # errors are a tenth of the PET's range: their own scale (99th percentile, so one hot voxel does not dim it)
    errors = [key for key, *_ in columns if key in ("error", "expected_error")]
    error_top = max([float(np.percentile(volumes[k][brain], 99)) for k in errors] + [1e-6])
    world = (affine[:3, :3] @ centre + affine[:3, 3]) if affine is not None else None
    planes = [
        f"{plane}\n{axis_name} = {world[axis]:.0f} mm" if world is not None else plane
        for axis, (plane, axis_name) in enumerate((("sagittal", "x"), ("coronal", "y"), ("axial", "z")))
    ]
    for col, (key, label, *cmap) in enumerate(columns):
        volume = np.ma.masked_where(~brain, volumes[key])
        top = (float(volume.max()) or 1.0) if key == "t1w" else error_top if key in errors else vmax
        colours = plt.get_cmap((cmap or ["hot"])[0]).with_extremes(bad="white")
        for axis in range(3):
            ax = axes[axis, col]
            shown = ax.imshow(
                np.take(volume, centre[axis], axis=axis).T, origin="lower", cmap=colours, vmin=0, vmax=top
            )
            if circle_voxels:
                crossing = [centre[other] for other in range(3) if other != axis]
                ax.add_patch(plt.Circle(crossing, circle_voxels, fill=False, color="cyan", linewidth=0.8))
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if col == 0:
                ax.set_ylabel(planes[axis])
        axes[0, col].set_title(label)
        difference = "normalized SUV difference"
        unit = {"t1w": "T1w (scaled to [0, 1])", "error": difference, "expected_error": difference}.get(
            key, "normalized SUV"
        )
        figure.colorbar(shown, ax=axes[:, col].tolist(), orientation="horizontal", fraction=0.04, pad=0.02, label=unit)
    figure.suptitle(f"{title}\nPET: the model's target scale (preprocess.pet_scale), one scale for every PET image")
    return _save(figure, path, publication)


def groups_original_vs_synthetic(regions: pd.DataFrame, tests: pd.DataFrame, names, path: str | Path) -> Path:
    """Figure 3: per region and group, original vs synthetic regional SUV (stars: paired Wilcoxon p)."""
    plt = _pyplot()
    groups = list(dict.fromkeys(regions["group"]))
    figure, axes = plt.subplots(
        len(groups), 1, figsize=(max(10, 0.6 * len(names)), 4.2 * len(groups)), squeeze=False, layout="constrained"
    )
    for ax, group in zip(axes[:, 0], groups, strict=True):
        part = regions[(regions["group"] == group) & regions["region"].isin(names)]
        positions = np.arange(len(names))
        for offset, image, colour in ((-0.18, "pet", "tab:blue"), (0.18, "synthetic", "tab:orange")):
            data = [part.loc[part["region"] == n, image].dropna().to_numpy() for n in names]
            box = ax.boxplot(data, positions=positions + offset, widths=0.32, patch_artist=True, showfliers=False)
            for patch in box["boxes"]:
                patch.set_facecolor(colour)
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top + 0.1 * (top - bottom))  # room for the stars
        for x, name in enumerate(names):
            p = tests.loc[(tests["region"] == name) & (tests["group"] == group), "p_wilcoxon"]
            if len(p):
                ax.text(x, top + 0.02 * (top - bottom), stars(float(p.iloc[0])), ha="center", va="bottom")
        ax.set_xticks(positions, [n.replace("_", " ") for n in names], rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("normalized SUV\n(region mean)")
        n = int(tests.loc[tests["group"] == group, "participants"].max()) if "participants" in tests else 0
        floor = smallest_wilcoxon_p(n)
        limit = f"; with n = {n} no p can fall below {floor:.3g}, so no star can appear" if floor >= 0.05 else ""
        ax.set_title(f"{group} (n = {n} participants): measured vs synthetic PET{limit}")
        ax.legend(
            handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:blue", "tab:orange")],
            labels=["measured PET", "synthetic PET"],
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),  # beside the boxes, never over them
        )
    figure.suptitle(f"Paired Wilcoxon test of measured against synthetic, per participant: {STARS_KEY}")
    return _save(figure, path)


def median_split_scatter_bland_altman(regions: pd.DataFrame, names, path: str | Path) -> Path:
    """Figure 4: median-split boxplots, scatter plot and Bland-Altman plot of synthetic vs smoothed true SUV."""
    import pingouin as pg

    plt = _pyplot()
    part = regions[regions["region"].isin(names)].dropna(subset=["synthetic", "pet_smoothed"])
    median = part.groupby("region")["pet_smoothed"].transform("median")
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    # each region's synthetic value from its own mean: the split compares scans within a region, not
    # the bright regions with the dark ones, which pooling the raw values would
    centred = part["synthetic"] - part.groupby("region")["synthetic"].transform("mean")
    low = centred[part["pet_smoothed"] <= median]
    high = centred[part["pet_smoothed"] > median]
    axes[0].boxplot([low, high], showfliers=False)
    axes[0].axhline(0, color="k", lw=0.6)
    axes[0].set_xticks([1, 2], [f"Low (n = {len(low)})", f"High (n = {len(high)})"])
    axes[0].set_ylabel("synthetic PET minus its region's mean\n(normalized SUV)")
    axes[0].set_title("scans below / above their region's median\nsmoothed measured SUV")
    axes[1].scatter(part["pet_smoothed"], part["synthetic"], s=8, alpha=0.6)
    lims = [
        min(part["pet_smoothed"].min(), part["synthetic"].min()),
        max(part["pet_smoothed"].max(), part["synthetic"].max()),
    ]
    axes[1].plot(lims, lims, "k--", lw=0.8)
    axes[1].set_xlabel("smoothed measured PET (normalized SUV, region mean)")
    axes[1].set_ylabel("synthetic PET (normalized SUV, region mean)")
    axes[1].set_title(f"regional means: {len(part)} (scan, region) pairs, {part['scan'].nunique()} scans")
    pg.plot_blandaltman(
        part["synthetic"].to_numpy(), part["pet_smoothed"].to_numpy(), agreement=1.96, ax=axes[2], s=8, alpha=0.5
    )
    left, right = axes[2].get_xlim()
    axes[2].set_xlim(left, right + 0.25 * (right - left))  # the limit labels sit right of the points
    axes[2].set_xlabel("mean of synthetic and smoothed measured PET (normalized SUV)")
    axes[2].set_ylabel("synthetic - smoothed measured PET\n(normalized SUV)")
    axes[2].set_title("Bland-Altman (mean difference, 95 % limits)")
    figure.tight_layout()
    return _save(figure, path)


def metric_distributions(scans: pd.DataFrame, path: str | Path) -> Path:
    """Figure 5: distributions over scans of each metric, against the raw and the smoothed true PET."""
    plt = _pyplot()
    panels = [
        ("mse", "MSE", "MSE (normalized SUV squared)"),
        ("normdiff", "NormDiff", "NormDiff (unitless)"),
        ("percdiff", "PercDiff", "PercDiff (fraction of the target)"),
    ]
    figure, axes = plt.subplots(1, 4, figsize=(16, 4))
    for ax, (name, label, unit) in zip(axes, panels, strict=False):
        data = [scans[f"{name}_synthetic_vs_pet"], scans[f"{name}_synthetic_vs_pet_smoothed"]]
        ax.violinplot(data, showmedians=True)
        ax.set_xticks([1, 2], ["vs measured", "vs smoothed\nmeasured"])
        ax.set_title(f"{label} of the synthetic PET\n(n = {len(scans)} scans)")
        ax.set_ylabel(unit)
    axes[3].violinplot([scans["cnr_pet"], scans["cnr_pet_smoothed"], scans["cnr_synthetic"]], showmedians=True)
    axes[3].set_xticks([1, 2, 3], ["measured", "smoothed\nmeasured", "synthetic"])
    axes[3].set_title(f"CNR of each image\n(n = {len(scans)} scans)")
    axes[3].set_ylabel("CNR (unitless)")
    figure.tight_layout()
    return _save(figure, path)


IMAGE_NAMES = {
    "synthetic": "synthetic PET",
    "pet_smoothed": "smoothed measured PET",
    "pet": "measured PET",
    "t1w": "T1w",
}


def readable_pair(pair: str) -> str:
    """'synthetic vs pet_smoothed' -> 'synthetic PET vs smoothed measured PET'."""
    return " vs ".join(IMAGE_NAMES.get(name, name) for name in pair.split(" vs "))


def correlation_bars(table: pd.DataFrame, names, path: str | Path) -> Path:
    """Figure 6: per region Pearson r of the three pairs of images, stars where p < 0.05."""
    plt = _pyplot()
    pairs = list(dict.fromkeys(table["pair"]))
    figure, ax = plt.subplots(figsize=(max(10, 0.6 * len(names)), 4.5))
    width = 0.8 / len(pairs)
    for k, pair in enumerate(pairs):
        part = table[table["pair"] == pair].set_index("region").reindex(names)
        x = np.arange(len(names)) + (k - (len(pairs) - 1) / 2) * width
        ax.bar(x, part["r"].fillna(0), width, label=readable_pair(pair))
        for xi, r, p in zip(x, part["r"], part["p"], strict=True):
            if np.isfinite(r):
                ax.text(xi, r + (0.02 if r >= 0 else -0.1), stars(p), ha="center", fontsize=11, fontweight="bold")
    ax.set_xticks(np.arange(len(names)), [n.replace("_", " ") for n in names], rotation=60, ha="right", fontsize=7)
    n = int(table["participants"].max()) if "participants" in table else 0
    ax.set_ylabel(f"Pearson r across participants (n = {n})")
    key = table[(table["pair"] == "synthetic vs pet_smoothed") & table["region"].isin(names)]["r"].dropna()
    negative = (
        f"synthetic vs smoothed measured PET: r < 0 in {int((key < 0).sum())} of {len(key)} regions; "
        if len(key)
        else ""
    )
    ax.set_title(f"{negative}{STARS_KEY}", fontsize=9)
    ax.axhline(0, color="k", lw=0.6)
    finite = table["r"][np.isfinite(table["r"])]
    ax.set_ylim(min(0.0, finite.min() - 0.15) if len(finite) else -1, (finite.max() + 0.15) if len(finite) else 1)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    return _save(figure, path)


def loss_curves(losses: dict[str, pd.DataFrame], path: str | Path, alpha: float = 0.5) -> Path:
    """Figure 7: training and held-out loss per epoch, every fold (loss: alpha BCE + (1 - alpha) MSE)."""
    from synthpet.learn.loss_figure import draw_losses

    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(7, 4.5))
    draw_losses(ax, losses, alpha)
    ax.set_title(f"training (solid) and held-out (dashed) loss, {len(losses)} folds")
    figure.tight_layout()
    return _save(figure, path)


def draw_figures(inputs: dict, outputs: dict, voxel_mm: int, folds, example: str, alpha: float = 0.5) -> None:
    """The paper's Figures 2 to 7 from the evaluation's tables, the example scan and the loss curves."""
    import nibabel as nib

    from synthpet.evaluate.atlas import table_regions
    from synthpet.evaluate.measures import IMAGES
    from synthpet.evaluate.mni import template

    t1, brain = template(voxel_mm)
    volumes = {key: np.asarray(nib.load(inputs[f"example_{key}"]).dataobj, np.float32) for key in IMAGES}
    example_slices(
        volumes, brain, f"{example} (MNI space, out-of-fold synthetic PET)", outputs["examples"], affine=t1.affine
    )
    regions = pd.read_csv(inputs["regions"], sep="\t")
    paper = table_regions(regions["region"])
    groups_original_vs_synthetic(regions, pd.read_csv(inputs["groups"], sep="\t"), paper, outputs["groups"])
    median_split_scatter_bland_altman(regions, paper, outputs["median_split"])
    metric_distributions(pd.read_csv(inputs["scan_metrics"], sep="\t"), outputs["metrics"])
    correlation_bars(pd.read_csv(inputs["correlations"], sep="\t"), paper, outputs["correlations"])
    losses = {fold: pd.read_csv(path, sep="\t") for fold, path in zip(folds, inputs["losses"], strict=True)}
    loss_curves(losses, outputs["losses"], alpha)
