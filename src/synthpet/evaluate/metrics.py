"""Image-similarity metrics of the paper (METHOD.md, Evaluation), and the peer metrics that other
systems of this field report (MAE, PSNR, SSIM), on voxels inside the brain.

R is the reconstruction (synthetic PET), T the target (true PET, raw or smoothed), both as 1D arrays
of the brain's voxels, on the normalized SUV scale ([0, 1]: the data range of PSNR and SSIM is 1).
"""

from __future__ import annotations

import numpy as np


def mse(r: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean((np.asarray(r, np.float64) - t) ** 2))


def normdiff(r: np.ndarray, t: np.ndarray) -> float:
    """Mean of (R - T) / (R + T), bounded in [-1, 1]; voxels where both are 0 are left out."""
    r, t = np.asarray(r, np.float64), np.asarray(t, np.float64)
    keep = (r + t) > 0
    return float(np.mean((r[keep] - t[keep]) / (r[keep] + t[keep]))) if keep.any() else float("nan")


def percdiff(r: np.ndarray, t: np.ndarray, min_target: float) -> float:
    """Mean of (R - T) / T over voxels where T > ``min_target`` (a near-zero T makes the ratio explode)."""
    r, t = np.asarray(r, np.float64), np.asarray(t, np.float64)
    keep = t > min_target
    return float(np.mean((r[keep] - t[keep]) / t[keep])) if keep.any() else float("nan")


def mae(r: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(r, np.float64) - t)))


def psnr(r: np.ndarray, t: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, 10 log10(range^2 / MSE); infinite for identical images."""
    error = mse(r, t)
    return float("inf") if error == 0 else float(10.0 * np.log10(data_range**2 / error))


def ssim(r: np.ndarray, t: np.ndarray, brain: np.ndarray, data_range: float = 1.0, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004) of two 3D volumes, averaged over the ``brain`` voxels.

    Local means, variances and covariance under a Gaussian window of ``sigma`` voxels (as scikit-image's
    ``gaussian_weights=True``), with K1 = 0.01 and K2 = 0.03. Voxels outside the brain enter the windows
    at the brain's edge as they are (zero in these images), as in the usual masked SSIM.
    """
    from scipy import ndimage

    r, t = np.nan_to_num(np.asarray(r, np.float64)), np.nan_to_num(np.asarray(t, np.float64))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def local(x):
        return ndimage.gaussian_filter(x, sigma, mode="constant", truncate=3.5)

    mu_r, mu_t = local(r), local(t)
    var_r, var_t = local(r * r) - mu_r**2, local(t * t) - mu_t**2
    cov = local(r * t) - mu_r * mu_t
    index = ((2 * mu_r * mu_t + c1) * (2 * cov + c2)) / ((mu_r**2 + mu_t**2 + c1) * (var_r + var_t + c2))
    return float(index[np.asarray(brain, bool)].mean())


def box_origins(mask: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """Voxel indices (N, 3) of the corners of every box of ``box`` voxels that lies wholly inside the mask."""
    # the number of mask voxels in each box, from a summed-volume table
    table = np.pad(np.asarray(mask, np.int32), ((1, 0), (1, 0), (1, 0))).cumsum(0).cumsum(1).cumsum(2)
    a, b, c = box
    nx, ny, nz = (np.asarray(mask.shape) - np.asarray(box) + 1).clip(0)
    s = (
        table[a : a + nx, b : b + ny, c : c + nz]
        - table[:nx, b : b + ny, c : c + nz]
        - table[a : a + nx, :ny, c : c + nz]
        - table[a : a + nx, b : b + ny, :nz]
        + table[:nx, :ny, c : c + nz]
        + table[:nx, b : b + ny, :nz]
        + table[a : a + nx, :ny, :nz]
        - table[:nx, :ny, :nz]
    )
    return np.argwhere(s == a * b * c)


def draw_box_pairs(mask: np.ndarray, draws: int, box: tuple[int, int, int], seed: int) -> np.ndarray:
    """Flat voxel indices (draws, 2, voxels per box) of random box pairs inside the mask, seeded."""
    origins = box_origins(mask, box)
    if len(origins) == 0:
        raise ValueError(f"no {box} box fits inside the brain mask")
    rng = np.random.default_rng(seed)
    chosen = origins[rng.integers(0, len(origins), size=(draws, 2))]  # (draws, 2, 3)
    offsets = np.indices(box).reshape(3, -1).T  # (voxels, 3)
    voxels = chosen[:, :, None, :] + offsets[None, None]
    return np.ravel_multi_index(tuple(np.moveaxis(voxels, -1, 0)), mask.shape)


def cnr(volume: np.ndarray, pairs: np.ndarray) -> float:
    """Median over box pairs of (mean(ROI1) - mean(ROI2)) / std(ROI1 and ROI2 pooled)."""
    values = np.asarray(volume, np.float64).ravel()[pairs]  # (draws, 2, voxels)
    pooled = values.reshape(len(values), -1).std(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (values[:, 0].mean(axis=1) - values[:, 1].mean(axis=1)) / pooled
    ratio[pooled == 0] = np.nan
    return float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else float("nan")


def pearson_r(r: np.ndarray, t: np.ndarray) -> float:
    """Pearson correlation of R and T over the brain's voxels: the pattern, blind to scale and offset.
    NaN when either is constant (a flat map has no pattern to correlate)."""
    r, t = np.asarray(r, np.float64), np.asarray(t, np.float64)
    dr, dt = r - r.mean(), t - t.mean()
    norm = np.sqrt((dr * dr).sum() * (dt * dt).sum())
    return float((dr * dt).sum() / norm) if norm > 0 else float("nan")


def mse_fitted(r: np.ndarray, t: np.ndarray) -> float:
    """MSE of T against R after the least-squares scale and offset a R + b fitted to T on this scan.

    What is left is the error of the pattern alone: the part of the MSE that no per-scan rescaling
    removes. Equal to var(T) (1 - r^2); var(T) for a constant R, which fits T's mean at best.
    """
    r, t = np.asarray(r, np.float64), np.asarray(t, np.float64)
    # the residual of simple linear regression in closed form (a least-squares solver per scan and
    # predictor took 4 ms, 2.3 s of the tables job): (Syy - Sxy^2 / Sxx) / n
    dr, dt = r - r.mean(), t - t.mean()
    sxx, sxy, syy = dr @ dr, dr @ dt, dt @ dt
    residual = syy - sxy * sxy / sxx if sxx > 0 else syy
    return float(max(residual, 0.0) / len(t))


def compare(r: np.ndarray, t: np.ndarray, min_target: float) -> dict[str, float]:
    """Every voxelwise metric of R against T (1D arrays of brain voxels; a voxel that is NaN in
    either, outside that scan's own brain, is left out).

    ``r``, ``mse_fitted`` and ``scale_share`` (the share of the MSE that a per-scan scale and offset
    remove, ``1 - mse_fitted / mse``) separate the pattern from the scale: with min-max scaled PET,
    the scale is set by a scan's brightest voxels, which a T1w cannot tell.
    """
    keep = np.isfinite(r) & np.isfinite(t)
    r, t = r[keep], t[keep]
    error, pattern_error = mse(r, t), mse_fitted(r, t)
    return {
        "mse": error,
        "percent_mse": 100.0 * error,
        "normdiff": normdiff(r, t),
        "percdiff": percdiff(r, t, min_target),
        "mae": mae(r, t),
        "psnr": psnr(r, t),
        "r": pearson_r(r, t),
        "mse_fitted": pattern_error,
        "scale_share": 1.0 - pattern_error / error if error > 0 else float("nan"),
    }
