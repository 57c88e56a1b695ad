"""Standard errors of the column centres and of their displacements from the cage.

The size of the error is measured on the image itself: a column's centre and a cell's
displacement are smooth over the cells around them (within a domain; a wall or a defect
touches few cells), so their scatter about the median of their eight neighbours, scaled
by the median's own spread, is the per-cell error of the measurement, whatever its cause:
pixel noise, scan jitter (no noise in the pixels, yet it moves whole rows of columns),
drift wobble.  A robust scale (median absolute deviation) keeps walls and defects out.

How the error varies from cell to cell comes from the pixel noise: noise shaped like
Poisson counts over the image's floor is added ``rounds`` times and every column is
refitted around the same pixel; the spread of each centre and of each displacement (shared
cage columns included), relative to its median, shapes the measured scale.  A dim column
in a bright region gets the larger error bar.  Where the true field does vary from cell to
cell (random displacements, point defects), the error bar includes that variation: it says
the measurement cannot tell such a cell from its neighbours.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from shiftvae.analysis.columns import Columns, cage_displacements, locate, nan_median
from shiftvae.types import Image

__all__ = ["column_errors", "noise_shape"]

ROUNDS = 16
# a neighbour within this angle of the scan line (the rows) spans the same lines: a column
# is several lines tall, so the two share most of their lines' jitter
ALONG_LINE = np.radians(10.0)


def noise_shape(data: np.ndarray) -> np.ndarray:
    """The relative pixel noise std: Poisson counts over the image's floor (its 1st
    percentile, smoothed), plus a read-out floor of 5% of the range."""
    smooth = ndimage.gaussian_filter(data, 1.0)
    floor, top = np.percentile(smooth, [1, 99.9])
    span = max(float(top - floor), 1e-12)
    return np.sqrt(np.clip(smooth - floor, 0.0, None) / span + 0.05)


def column_errors(
    columns: Columns, image, rounds: int = ROUNDS, seed: int = 0, reference: int = 0
) -> Columns:
    """``columns`` with ``position_std`` and ``displacement_std`` filled in (px)."""
    data = np.asarray(image.data if isinstance(image, Image) else image, dtype=np.float64)
    sigma = noise_shape(data) * 0.05 * float(np.ptp(data))
    n_sites = len(columns.sites)
    peaks = columns.peaks.reshape(-1, 2)
    site = np.arange(len(peaks)) % n_sites
    others = [s for s in range(n_sites) if s != reference]
    rng = np.random.default_rng(seed)
    centres = np.empty((rounds, *columns.positions.shape))
    moved = np.full((rounds, *columns.positions.shape), np.nan)
    for k in range(rounds):
        noisy = data + sigma * rng.standard_normal(data.shape)
        smooth = ndimage.gaussian_filter(noisy, columns.smoothing)
        found = locate(
            smooth, peaks, site, columns.half, columns.reference_model, columns.rest_half
        )
        positions = found.reshape(columns.positions.shape)
        centres[k] = positions
        trial = dataclasses.replace(columns, positions=positions)
        for s in others:
            moved[k, :, :, s] = cage_displacements(trial, s, reference)
    with np.errstate(invalid="ignore"):
        position_shape = np.std(centres, axis=0, ddof=1)
        displacement_shape = np.std(moved, axis=0, ddof=1)
    position_std = np.full(columns.positions.shape, np.nan)
    displacement_std = np.full(columns.positions.shape, np.nan)
    steps = columns.lattice.vectors
    for s in range(n_sites):
        position_std[:, :, s] = _scaled(columns.positions[:, :, s], position_shape[:, :, s], steps)
        if s != reference:
            measured = cage_displacements(columns, s, reference)
            displacement_std[:, :, s] = _scaled(measured, displacement_shape[:, :, s], steps, 0)
    return dataclasses.replace(
        columns, position_std=position_std, displacement_std=displacement_std
    )


def _scaled(values: np.ndarray, shape: np.ndarray, steps: np.ndarray, move: float = 1.0):
    """``shape`` (R, C, 2) scaled, per component, so that its median is the robust scatter
    of ``values`` (R, C, 2) about the median of their neighbours (each moved back by
    ``move`` times its lattice step).  Neighbours along the scan lines are left out: the
    lines' jitter moves them together, and they would hide it."""
    rows, cols = values.shape[:2]
    padded = np.pad(values, ((1, 1), (1, 1), (0, 0)), constant_values=np.nan)
    around = []
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            step = di * steps[0] + dj * steps[1]
            if (di or dj) and abs(step[0]) >= np.sin(ALONG_LINE) * np.linalg.norm(step):
                moved = padded[1 + di : 1 + di + rows, 1 + dj : 1 + dj + cols]
                around.append(moved - move * step)
    # var(x - median of n neighbours) / var(x), independent Gaussian errors: 1 + pi / 2n
    spread = 1.0 + np.pi / (2 * len(around))
    residual = values - nan_median(np.stack(around))
    out = np.full(values.shape, np.nan)
    for axis in range(2):
        r = residual[:, :, axis][np.isfinite(residual[:, :, axis])]
        typical = shape[:, :, axis][np.isfinite(shape[:, :, axis])]
        if r.size < 9 or not typical.size or np.median(typical) <= 0:
            continue
        scatter = 1.4826 * np.median(np.abs(r - np.median(r))) / np.sqrt(spread)
        out[:, :, axis] = shape[:, :, axis] * (scatter / np.median(typical))
    return out
