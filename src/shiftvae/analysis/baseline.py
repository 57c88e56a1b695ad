"""The classical baseline: cut patches centred on bright columns, then PCA.

What microscopists do in twenty lines: find the atomic columns as local maxima of a smoothed
image, cut a window of about 1.5 cells around each, and take the principal components of the
flattened patches as per-column order parameters. A shift-VAE should beat it on the cases of
:mod:`shiftvae.synthetic.crystals`; :func:`evaluate_baseline` scores it there.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates, maximum_filter
from scipy.spatial import cKDTree

from shiftvae.analysis.scoring import score_maps
from shiftvae.analysis.smoothing import smooth_over_cells
from shiftvae.data.noise import remove_background
from shiftvae.errors import InputError

__all__ = ["atom_pca", "evaluate_baseline", "local_maxima"]


def local_maxima(
    image: np.ndarray, min_distance: float, smooth_sigma: float = 1.0, exclude_border: int = 0
) -> np.ndarray:
    """Local maxima of the smoothed image that are above its median and ``min_distance`` apart.

    Parameters
    ----------
    image : ndarray (rows, cols)
    min_distance : float
        No two maxima are closer than this (px); of two, the brighter is kept. Between the
        A-B distance (cell / sqrt 2) and the cell it keeps one sublattice, the brighter.
    smooth_sigma : float
        Std (px) of the Gaussian smoothing that removes noise maxima (0: none).
    exclude_border : int
        Drop maxima closer than this to an edge (e.g. half a patch window).

    Returns
    -------
    ndarray (N, 2)
        (row, col) px of the maxima, in raster order.

    Examples
    --------
    >>> image = np.zeros((20, 20)); image[5, 5] = image[12, 14] = 1.0; image[12, 12] = 0.5
    >>> local_maxima(image, min_distance=3, smooth_sigma=0).tolist()
    [[5.0, 5.0], [12.0, 14.0]]
    """
    img = np.asarray(image, dtype=float)
    if img.ndim != 2:
        raise InputError(f"image must be 2D, got shape {img.shape}")
    smooth = gaussian_filter(img, smooth_sigma) if smooth_sigma > 0 else img
    # candidates are maxima of their 3 x 3 neighbourhood; a wider filter would also compare a
    # dim column with the flank of a bright neighbour and lose it
    peak = (smooth == maximum_filter(smooth, size=3, mode="nearest")) & (smooth > np.median(smooth))
    b = exclude_border
    if b > 0:
        peak[:b], peak[-b:], peak[:, :b], peak[:, -b:] = False, False, False, False
    points = np.argwhere(peak)
    # then, brightest first, each kept maximum removes the candidates within min_distance
    order = np.argsort(-smooth[tuple(points.T)], kind="stable")
    keep = np.ones(len(points), bool)
    tree = cKDTree(points[order])
    for i, neighbours in enumerate(tree.query_ball_point(points[order], min_distance - 1e-9)):
        if keep[i]:
            keep[[j for j in neighbours if j > i]] = False
    return points[np.sort(order[keep])].astype(float)


def atom_pca(
    image: np.ndarray, centers: np.ndarray, window: int, n_components: int = 4
) -> np.ndarray:
    """Principal-component scores of ``window`` x ``window`` patches centred on ``centers``.

    The image is scaled to [0, 1] as a whole (so patch intensities stay comparable), patches
    are sampled at the (sub-pixel) centres by linear interpolation, flattened, centred, and
    projected on their first principal axes: scores = U[:, :k] * S[:k] of the SVD
    X - mean = U S V^T. Each axis's sign makes its largest loading positive (reproducible).

    Parameters
    ----------
    image : ndarray (rows, cols)
    centers : ndarray (N, 2)
        (row, col) px; patches leaving the image repeat its edge pixels.
    window : int
        Patch side, px (about 1.5 cells).
    n_components : int

    Returns
    -------
    ndarray (N, n_components)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> atom_pca(rng.random((64, 64)), rng.uniform(8, 56, (30, 2)), window=9).shape
    (30, 4)
    """
    img = np.asarray(image, dtype=float)
    centers = np.asarray(centers, dtype=float).reshape(-1, 2)
    if img.ndim != 2:
        raise InputError(f"image must be 2D, got shape {img.shape}")
    if not 1 <= n_components <= min(len(centers), window * window):
        raise InputError(
            f"n_components={n_components} needs 1..min(N={len(centers)}, window**2) components"
        )
    span = img.max() - img.min()
    img = (img - img.min()) / (span if span > 0 else 1.0)
    offsets = np.arange(window) - (window - 1) / 2
    rows = centers[:, 0, None, None] + offsets[None, :, None]  # (N, window, 1)
    cols = centers[:, 1, None, None] + offsets[None, None, :]  # (N, 1, window)
    rows, cols = np.broadcast_arrays(rows, cols)
    patches = map_coordinates(img, [rows.ravel(), cols.ravel()], order=1, mode="nearest")
    x = patches.reshape(len(centers), window * window)  # (N, P): P pixels
    x = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    return (u[:, :n_components] * s[:n_components]) * signs[:n_components]


def evaluate_baseline(
    image: np.ndarray,
    truth: Any,
    sublattice: Literal["all", "bright"] = "all",
    n_components: int = 4,
    flatten: bool = False,
) -> dict[str, Any]:
    """Run the baseline on a generated case and score its components against the truth.

    Centres are local maxima (smoothed by cell / 20) at least 0.6 cell apart ("all": A and B
    columns, which are cell / sqrt 2 apart) or 0.85 cell apart ("bright": the B columns next
    to a brighter A are dropped, leaving the A sublattice). The window is 1.5 cells (odd), and
    centres closer than half a window to an edge are dropped. The cell is the length of
    ``truth.lattice_vectors[0]``.  With ``flatten`` the image's background is removed first as
    a fit removes it (its plane, then its blur over 8 cells): a component that follows a
    background gradient can score on a label that happens to follow it too.

    Returns
    -------
    dict
        :func:`shiftvae.analysis.scoring.score_maps` of the component maps, plus
        ``n_centers``, ``window`` and ``seconds`` (maxima + PCA), and ``smoothed``: the scores
        of the component maps averaged over neighbouring centres as a fit's maps are
        (:func:`~shiftvae.analysis.smoothing.smooth_over_cells`).

    Examples
    --------
    >>> from shiftvae.synthetic.crystals import two_phase_crystal
    >>> image, truth = two_phase_crystal(size=192, seed=0)
    >>> evaluate_baseline(image, truth)["auc"] > 0.9
    True
    """
    cell = float(np.linalg.norm(truth.lattice_vectors[0]))
    window = round(1.5 * cell) | 1
    spacing = {"all": 0.6, "bright": 0.85}[sublattice]
    start = time.perf_counter()
    if flatten:
        image = remove_background(image, min(8 * cell, min(np.shape(image)) / 4))
    centers = local_maxima(image, spacing * cell, cell / 20, exclude_border=window // 2 + 1)
    scores = atom_pca(image, centers, window, n_components)
    seconds = time.perf_counter() - start
    result = score_maps(scores.T, centers, truth)
    smooth = smooth_over_cells(scores.T, centers, cell, window)
    result["smoothed"] = score_maps(smooth.values, centers, truth)
    return {**result, "n_centers": len(centers), "window": window, "seconds": seconds}
