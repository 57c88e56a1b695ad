"""Order-parameter maps averaged over neighbouring cells, at a resolution the data choose.

One cell's latent carries the noise of one patch: at a low dose a smooth order parameter is
read per cell no better than its noise allows (on the registration family at noise 0.2, a B/A
ratio measured at the true columns of each cell follows the true field with Spearman 0.64).
An order parameter varies over many cells, so its map gains from averaging neighbours, as
geometric phase analysis does with its mask.  The width of the average is chosen per map by
cross-validation, and every smoothed cell gets an error bar:

    smoothed_i = sum_j w_ij z_j / sum_j w_ij,    w_ij = exp(-|c_i - c_j|^2 / (2 s^2))

* **Scale.**  For each candidate s, each cell is predicted from the cells whose patch does not
  overlap its own (overlapping patches share pixels, hence noise); s minimises the mean squared
  error of that prediction.  A step (a domain wall) pulls s down, a smooth field up.
* **Error bar.**  The noise of one cell, sigma, is the robust spread of differences between
  nearest non-overlapping cells; the noise of two cells correlates as their windows overlap
  (rho = (1 - |d_row| / W)(1 - |d_col| / W)), so var(smoothed_i) = sigma^2 w' R w / (sum w)^2,
  exact on a sample of cells and carried to the rest through sum w^2 / (sum w)^2.

The per-cell maps are kept unchanged beside these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from shiftvae.errors import InputError

__all__ = ["SCALES_CELLS", "SmoothedMaps", "smooth_over_cells"]

SCALES_CELLS = (0.5, 0.75, 1.0, 1.5, 2.0)  # Gaussian widths tried, in cells
CHUNK = 2048  # cells per block of neighbour sums: bounds the memory on large images
EXACT_SAMPLE = 200  # cells whose error bar is computed with the full correlation
NOISE_SAMPLE = 5000  # cells whose non-overlapping neighbours give the noise of one cell


@dataclass
class SmoothedMaps:
    """Maps averaged over neighbouring cells, each with its error bar.

    Attributes
    ----------
    values, std : ndarray, shape (k, N)
        The smoothed value of each map at each cell and its standard error.
    scale_cells : ndarray, shape (k,)
        The Gaussian width of each map's average, in cells (chosen by cross-validation).
    noise : ndarray, shape (k,)
        The noise of one cell's value, in the map's units.
    """

    values: np.ndarray
    std: np.ndarray
    scale_cells: np.ndarray
    noise: np.ndarray


def smooth_over_cells(
    values: np.ndarray,
    centers: np.ndarray,
    cell: float,
    window: float,
    scales: tuple[float, ...] = SCALES_CELLS,
    seed: int = 0,
    sources: np.ndarray | None = None,
) -> SmoothedMaps:
    """Average each map over neighbouring cells with a width chosen by cross-validation.

    Parameters
    ----------
    values : ndarray (k, N)
        k maps, one value per cell.
    centers : ndarray (N, 2)
        The cells' centres (row, col) px; any arrangement (a grid, atom columns).
    cell : float
        The lattice period in px: ``scales`` are in its units.
    window : float
        The side of each cell's patch in px: cells closer than this on both axes share
        pixels, so their noise correlates.
    scales : tuple of float
        The Gaussian widths tried, in cells.
    seed : int
        Draws the sample of cells whose error bar is computed exactly.
    sources : ndarray of bool (N,), optional
        The cells whose values are averaged (default: all).  The others, such as cells whose
        patch straddles an antiphase boundary (half of it on each side: no value of either),
        get the average of their neighbours and give nothing to it.

    Returns
    -------
    SmoothedMaps

    Raises
    ------
    InputError
        Shapes that do not match, values that are not finite, or a cell or window that is
        not positive.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centers = np.stack(np.mgrid[:30, :30], -1).reshape(-1, 2) * 4.0
    >>> field = np.sin(centers[:, 0] / 40)
    >>> noisy = field + rng.normal(0, 0.3, len(field))
    >>> out = smooth_over_cells(noisy[None], centers, cell=4.0, window=4.0)
    >>> bool(np.std(out.values[0] - field) < 0.5 * np.std(noisy - field))
    True
    """
    z, c = _checked(values, centers, cell, window)
    used = np.ones(len(c), bool) if sources is None else np.asarray(sources, bool).ravel()
    if used.shape != (len(c),) or used.sum() < 2:
        raise InputError(f"sources must mark at least 2 of the {len(c)} cells")
    scales_px = np.asarray(scales, dtype=np.float64) * cell
    full, held, weights = _sums(z, c, used, scales_px, window)
    # (S, k, N) predictions from every source cell and from those that share no pixel
    error = np.nanmean((held[:, :, used] - z[None][:, :, used]) ** 2, axis=2)  # (S, k)
    best = np.argmin(np.where(np.isfinite(error), error, np.inf), axis=0)
    noise = _noise(z[:, used], c[used], window, seed)
    factor = _correlation_factor(c[used], scales_px, window, seed)  # (S,)
    k = np.arange(len(z))
    smoothed = full[best, k]
    share = weights[best]  # (k, N) sum w^2 / (sum w)^2
    std = noise[:, None] * np.sqrt(factor[best][:, None] * share)
    alone = ~np.isfinite(smoothed)  # a cell left out with no source within reach: its own
    smoothed[alone], std[alone] = z[alone], np.broadcast_to(noise[:, None], z.shape)[alone]
    return SmoothedMaps(smoothed, std, np.asarray(scales, dtype=float)[best], noise)


def _checked(values, centers, cell, window):
    z = np.asarray(values, dtype=np.float64)
    z = z[None] if z.ndim == 1 else z
    c = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    if z.ndim != 2 or z.shape[1] != len(c):
        raise InputError(f"values must have shape (k, {len(c)}) to match the centres")
    if not (np.isfinite(z).all() and np.isfinite(c).all()):
        raise InputError("the maps and their centres must be finite")
    if not (cell > 0 and window > 0):
        raise InputError(f"cell and window must be positive, got {cell} and {window}")
    return z, c


def _neighbours(c: np.ndarray, used: np.ndarray, radius: float):
    """Blocks of (query, neighbour) index pairs within ``radius``: every cell a query, the
    ``used`` cells the neighbours, each its own neighbour."""
    index = np.flatnonzero(used)
    tree = cKDTree(c[index])
    for start in range(0, len(c), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(c)))
        lists = tree.query_ball_point(c[rows], radius)
        q = np.repeat(rows, [len(x) for x in lists])
        j = index[np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])]
        yield q, j


def _sums(z: np.ndarray, c: np.ndarray, used: np.ndarray, scales_px: np.ndarray, window: float):
    """Weighted means of every map from the used cells and from the non-overlapping ones."""
    n_s, (k, n) = len(scales_px), z.shape
    num, num_held = np.zeros((n_s, k, n)), np.zeros((n_s, k, n))
    den, den_held, squares = np.zeros((n_s, n)), np.zeros((n_s, n)), np.zeros((n_s, n))
    for q, j in _neighbours(c, used, 3 * scales_px.max()):
        d = c[j] - c[q]
        apart = (np.abs(d) >= window).any(axis=1)
        d2 = (d**2).sum(axis=1)
        for s, scale in enumerate(scales_px):
            w = np.exp(-d2 / (2 * scale**2))
            den[s] += np.bincount(q, w, n)
            den_held[s] += np.bincount(q, w * apart, n)
            squares[s] += np.bincount(q, w**2, n)
            for m in range(k):
                zw = z[m, j] * w
                num[s, m] += np.bincount(q, zw, n)
                num_held[s, m] += np.bincount(q, zw * apart, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        held = num_held / den_held[:, None]
        full, share = num / den[:, None], squares / den**2
    held[:, :, den_held.min(axis=0) < 1e-12] = np.nan  # no non-overlapping neighbour
    return full, held, share


def _noise(z: np.ndarray, c: np.ndarray, window: float, seed: int) -> np.ndarray:
    """Robust noise of one cell per map, from differences of nearest non-overlapping cells
    (of a sample of cells on a large image)."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(c), min(NOISE_SAMPLE, len(c)), replace=False)
    lists = cKDTree(c).query_ball_point(c[sample], 1.5 * window * np.sqrt(2))
    first = np.repeat(sample, [len(x) for x in lists])
    second = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
    apart = (np.abs(c[first] - c[second]) >= window).any(axis=1)
    first, second = first[apart], second[apart]
    if not len(first):  # too few cells for any pair: the spread of the map itself
        return z.std(axis=1)
    diff = z[:, first] - z[:, second]
    spread = np.median(np.abs(diff - np.median(diff, axis=1)[:, None]), axis=1)
    return 1.4826 * spread / np.sqrt(2)


def _correlation_factor(c: np.ndarray, scales_px: np.ndarray, window: float, seed: int):
    """w' R w / sum w^2 per scale (median over a sample of cells): how much the overlap of
    neighbouring windows raises the variance of an average above that of independent cells."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(c), min(EXACT_SAMPLE, len(c)), replace=False)
    tree = cKDTree(c)
    lists = tree.query_ball_point(c[sample], 3 * scales_px.max())
    factors = np.zeros((len(scales_px), len(sample)))
    for i, (p, near) in enumerate(zip(sample, lists)):
        pos = c[np.asarray(near)]
        gap = np.abs(pos[:, None] - pos[None])  # (m, m, 2)
        rho = np.prod(np.clip(1 - gap / window, 0, None), axis=2)
        d2 = ((pos - c[p]) ** 2).sum(axis=1)
        for s, scale in enumerate(scales_px):
            w = np.exp(-d2 / (2 * scale**2))
            factors[s, i] = (w @ rho @ w) / (w @ w)
    return np.median(factors, axis=1)
