"""Patch centres on the crystal lattice, and patches cut at sub-pixel centres.

Where :mod:`shiftvae.data.patches` cuts patches on a square pixel grid that knows nothing
about the crystal, these functions centre every patch on the same place of the unit cell:

* :func:`lattice_centers`: the ideal lattice sites ``origin + i * a1 + j * a2``;
* :func:`atom_centers`: the measured atom columns of one sublattice (local maxima of the
  smoothed image, sorted into sublattices by their position in the unit cell);
* :func:`cut_patches`: square patches at any (sub-pixel) centres by cubic-spline
  interpolation.

A patch of ``w`` pixels centred at ``c`` samples ``c - (w - 1) / 2 + k``, ``k = 0 .. w - 1``
(the convention of :meth:`~shiftvae.data.patches.PatchGrid.centers`): a centre "fits" when
every sample lies inside the image, ``(w - 1) / 2 <= c <= side - 1 - (w - 1) / 2``.
Centres are (row, col) float64 pixels, sorted by row, then column.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from scipy import ndimage

from shiftvae.data.patches import _positive_int
from shiftvae.errors import InputError
from shiftvae.io.validate import check_image
from shiftvae.lattice.estimate import Lattice
from shiftvae.lattice.peaks import refine_maxima

__all__ = [
    "atom_centers",
    "check_lattice_option",
    "cut_patches",
    "lattice_centers",
]

logger = logging.getLogger(__name__)

MIN_PERIOD = 2.0  # px: a finer lattice is not resolved by the pixels
_MIN_ANGLE = 10.0  # degrees: basis vectors closer than this are taken as collinear
_MIN_SEPARATION = 0.35  # atom maxima at least this many shortest periods apart
_MODE_BINS = 16  # bins per cell axis when sorting maxima into sublattices
_MODE_SHARE = 0.25  # a sublattice holds at least this share of the largest one's maxima
_MODE_RADIUS = 0.25  # maxima farther than this many shortest periods from a site are noise
_BATCH_SAMPLES = 2**21  # samples interpolated at once by cut_patches (32 MiB of coordinates)
_FIT = 1e-6  # px of slack when deciding whether a window fits


def check_lattice_option(lattice: Lattice, image_shape: tuple[int, int]) -> None:
    """Raise :class:`InputError` when a user-given lattice cannot describe the image.

    Parameters
    ----------
    lattice : Lattice
    image_shape : (rows, cols)

    Raises
    ------
    InputError
        Not a Lattice, a period below 2 px, a vector that does not fit in the image, or
        vectors within 10 degrees of collinear.

    Examples
    --------
    >>> from shiftvae.lattice.estimate import Lattice
    >>> check_lattice_option(Lattice([[0, 12], [12, 0]], [6, 6]), (128, 128))  # fine
    >>> check_lattice_option(Lattice([[0, 1.5], [12, 0]], [6, 6]), (128, 128))
    Traceback (most recent call last):
    ...
    shiftvae.errors.InputError: lattice period |a1| = 1.5 px is below 2 px
    """
    if not isinstance(lattice, Lattice):
        raise InputError(f"lattice must be a shiftvae Lattice, got {type(lattice).__name__}")
    rows, cols = (int(s) for s in image_shape)
    for name, vector, period in zip(("a1", "a2"), lattice.vectors, lattice.periods):
        if period < MIN_PERIOD:
            raise InputError(f"lattice period |{name}| = {period:.3g} px is below 2 px")
        if abs(vector[0]) >= rows or abs(vector[1]) >= cols:
            raise InputError(
                f"lattice vector {name} = ({vector[0]:.4g}, {vector[1]:.4g}) px is larger "
                f"than the image of {rows} x {cols} px"
            )
    if not _MIN_ANGLE <= lattice.angle_deg <= 180 - _MIN_ANGLE:
        raise InputError(
            f"lattice vectors at {lattice.angle_deg:.3g} degrees are nearly collinear "
            f"(need {_MIN_ANGLE:g} to {180 - _MIN_ANGLE:g} degrees)"
        )


def _fits(centers: np.ndarray, image_shape: tuple[int, int], window: int) -> np.ndarray:
    """(N,) whether the window of each centre lies inside the image."""
    half = (window - 1) / 2
    upper = np.asarray(image_shape, np.float64) - 1 - half
    return np.all((centers >= half - _FIT) & (centers <= upper + _FIT), axis=1)


def _row_major(centers: np.ndarray) -> np.ndarray:
    return centers[np.lexsort((centers[:, 1], centers[:, 0]))]


def lattice_centers(
    image_shape: tuple[int, int], lattice: Lattice, window: int, cells_per_step: int = 1
) -> np.ndarray:
    """Lattice sites ``origin + i * a1 + j * a2`` whose whole window fits in the image.

    Parameters
    ----------
    image_shape : (rows, cols)
    lattice : Lattice
    window : int
        Patch side in pixels.
    cells_per_step : int
        Keep every n-th site along both vectors (i and j multiples of n, origin included).

    Returns
    -------
    ndarray (N, 2), float64
        (row, col) centres, sorted by row then column.

    Raises
    ------
    InputError
        Bad lattice or window, or no site whose window fits.

    Examples
    --------
    >>> from shiftvae.lattice.estimate import Lattice
    >>> lat = Lattice([[0, 10], [10, 0]], [3.5, 3.5])
    >>> lattice_centers((40, 40), lat, window=8)[:3].tolist()
    [[3.5, 3.5], [3.5, 13.5], [3.5, 23.5]]
    """
    check_lattice_option(lattice, image_shape)
    window = _positive_int(window, "window")
    step = _positive_int(cells_per_step, "cells_per_step")
    rows, cols = (int(s) for s in image_shape)
    if window > min(rows, cols):
        raise InputError(f"window of {window} px is larger than the image of {rows} x {cols} px")
    corners = np.array([[0, 0], [0, cols - 1], [rows - 1, 0], [rows - 1, cols - 1]], float)
    frac = lattice.to_fractional(corners)
    lo = np.floor(frac.min(axis=0) / step).astype(int)
    hi = np.ceil(frac.max(axis=0) / step).astype(int)
    i, j = np.mgrid[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1]
    sites = lattice.to_pixels(step * np.stack([i.ravel(), j.ravel()], axis=1))
    sites = sites[_fits(sites, (rows, cols), window)]
    if not len(sites):
        raise InputError(
            f"no lattice site of the {rows} x {cols} px image lies (window - 1) / 2 = "
            f"{(window - 1) / 2:g} px inside its border: use a smaller window"
        )
    return _row_major(sites)


def atom_centers(
    image: np.ndarray,
    lattice: Lattice,
    window: int,
    sublattice: Literal["brightest"] | int = "brightest",
    smooth: float | None = None,
) -> np.ndarray:
    """Sub-pixel positions of the atom columns of one sublattice whose window fits.

    Local maxima of the Gaussian-smoothed image, at least ``0.35 * min(periods)`` apart, are
    sorted into sublattices by their fractional position in the unit cell (``to_fractional
    mod 1``: modes of its histogram; maxima farther than ``0.25 * min(periods)`` from every
    mode are noise).  Sublattices are ranked by mean smoothed intensity; positions are
    refined by a quadratic fit on the 3 x 3 neighbourhood (:func:`refine_maxima`).

    Parameters
    ----------
    image : ndarray (rows, cols)
    lattice : Lattice
        For example from :func:`~shiftvae.lattice.estimate.estimate_lattice`.
    window : int
        Patch side in pixels: only centres whose window fits are returned.
    sublattice : "brightest" or int
        Which sublattice: "brightest" (same as 0), or its rank by mean intensity.
    smooth : float, optional
        Gaussian sigma in pixels (default ``min(periods) / 10``; 0 for none).

    Returns
    -------
    ndarray (N, 2), float64
        (row, col) centres, sorted by row then column.

    Raises
    ------
    InputError
        Bad image, lattice, window or ``smooth``, no sublattice of that rank, or no column
        whose window fits.

    Examples
    --------
    >>> from shiftvae.lattice.estimate import Lattice
    >>> r, c = np.mgrid[0:64, 0:64]
    >>> img = np.cos(2 * np.pi * (r - 4) / 16) + np.cos(2 * np.pi * (c - 4) / 16)
    >>> lat = Lattice([[0, 16], [16, 0]], [4, 4])
    >>> atom_centers(img, lat, window=16)[:2].round(2).tolist()
    [[20.0, 20.0], [20.0, 36.0]]
    """
    data = check_image(image, "the image").astype(np.float64)
    check_lattice_option(lattice, data.shape)
    rank = 0 if sublattice == "brightest" else sublattice
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
        raise InputError(f"sublattice must be 'brightest' or an integer >= 0, got {sublattice!r}")
    window = _positive_int(window, "window")
    shortest = float(lattice.periods.min())
    sigma = shortest / 10 if smooth is None else float(smooth)
    if not np.isfinite(sigma) or sigma < 0:
        raise InputError(f"smooth must be a Gaussian sigma >= 0 in pixels, got {smooth!r}")
    smoothed = ndimage.gaussian_filter(data, sigma) if sigma > 0 else data
    positions, values = _local_maxima(smoothed, _MIN_SEPARATION * shortest)
    labels, ranked = _sublattices(positions, values, lattice)
    if not ranked:
        raise InputError("no atom columns found: the image has no local maxima on the lattice")
    if rank >= len(ranked):
        raise InputError(
            f"sublattice={rank} but the image shows {len(ranked)} sublattice(s), "
            f"ranked 0 (brightest) to {len(ranked) - 1}"
        )
    chosen = positions[labels == ranked[rank]]
    chosen = chosen[_fits(chosen, data.shape, window)]
    if not len(chosen):
        raise InputError(f"no atom column of sublattice {rank} has its {window} px window inside")
    return _row_major(chosen)


def _local_maxima(smoothed: np.ndarray, separation: float) -> tuple[np.ndarray, np.ndarray]:
    """Refined positions (N, 2) and values (N,) of maxima over a disc of ``separation``."""
    radius = max(1, int(np.floor(separation)))
    r, c = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    footprint = np.hypot(r, c) <= max(separation, 1.0)
    is_max = ndimage.maximum_filter(smoothed, footprint=footprint, mode="nearest") == smoothed
    is_max[[0, -1], :] = is_max[:, [0, -1]] = False  # the 3 x 3 fit needs neighbours
    pixels = np.argwhere(is_max)
    return refine_maxima(smoothed, pixels), smoothed[is_max]


def _sublattices(positions, values, lattice) -> tuple[np.ndarray, list[int]]:
    """Sublattice label of each maximum (-1 = noise) and labels, brightest first."""
    frac = lattice.to_fractional(positions) % 1.0
    bins = np.floor(frac * _MODE_BINS).astype(int) % _MODE_BINS
    hist = np.bincount(bins[:, 0] * _MODE_BINS + bins[:, 1], minlength=_MODE_BINS**2)
    hist = ndimage.gaussian_filter(
        hist.reshape(_MODE_BINS, _MODE_BINS).astype(float), 1.0, mode="wrap"
    )
    peaks = (ndimage.maximum_filter(hist, size=3, mode="wrap") == hist) & (
        hist >= _MODE_SHARE * hist.max()
    )
    modes = (np.argwhere(peaks) + 0.5) / _MODE_BINS
    labels, delta = _assign(frac, modes, lattice)
    for s in range(len(modes)):  # the bins are coarse: move each mode to its maxima's mean
        if np.any(labels == s):
            modes[s] += delta[labels == s, s].mean(axis=0)
    labels, _ = _assign(frac, modes, lattice)
    found = [s for s in range(len(modes)) if np.any(labels == s)]
    ranked = sorted(found, key=lambda s: -float(values[labels == s].mean()))
    logger.info("%d sublattice(s) of %d maxima", len(ranked), int(np.sum(labels >= 0)))
    return labels, ranked


def _assign(frac, modes, lattice) -> tuple[np.ndarray, np.ndarray]:
    """Nearest mode of each fractional position (-1 if too far) and the (N, S, 2) offsets."""
    delta = frac[:, None, :] - modes[None]
    delta -= np.round(delta)  # the shortest way round the cell
    distance = np.linalg.norm(delta @ lattice.vectors, axis=2)  # (N, S) in pixels
    nearest = np.argmin(distance, axis=1)
    near = distance[np.arange(len(frac)), nearest] <= _MODE_RADIUS * lattice.periods.min()
    return np.where(near, nearest, -1), delta


def cut_patches(
    image01: np.ndarray, centers: np.ndarray, window: int, batch_size: int | None = None
) -> np.ndarray:
    """Square patches centred at sub-pixel ``centers``, by cubic-spline interpolation.

    The spline coefficients of the whole image are computed once
    (:func:`scipy.ndimage.spline_filter`, order 3, mirror boundary), then every batch of
    patches is sampled with :func:`scipy.ndimage.map_coordinates` (``order=3,
    prefilter=False``): at integer centres the patches equal plain slices.  Memory: one
    float32 copy of the image and one batch.  Values are clipped to [0, 1] when the
    image lies in [0, 1] (cubic splines overshoot at sharp edges).

    Parameters
    ----------
    image01 : ndarray (rows, cols)
        The image, usually scaled to [0, 1].
    centers : ndarray (N, 2)
        (row, col) patch centres; every window must fit inside the image.
    window : int
        Patch side in pixels.
    batch_size : int, optional
        Patches interpolated at once (default: about 2 million samples per batch).

    Returns
    -------
    ndarray (N, window, window), float32

    Raises
    ------
    InputError
        Bad image, centres not (N, 2) finite, window or batch size not positive, or a
        window that does not fit.

    Examples
    --------
    >>> img = np.arange(100.0).reshape(10, 10) / 100
    >>> p = cut_patches(img, np.array([[4.5, 4.5], [5.0, 5.0]]), window=4)
    >>> p.shape, np.allclose(p[0], img[3:7, 3:7])
    ((2, 4, 4), True)
    """
    data = check_image(image01, "the image")
    window = _positive_int(window, "window")
    centers = _check_centers(centers, data.shape, window)
    batch = max(1, _BATCH_SAMPLES // window**2) if batch_size is None else batch_size
    batch = _positive_int(batch, "batch_size")
    coeffs = ndimage.spline_filter(data, order=3, output=np.float32, mode="mirror")
    offsets = np.arange(window) - (window - 1) / 2
    out = np.empty((len(centers), window, window), np.float32)
    for start in range(0, len(centers), batch):
        chunk = centers[start : start + batch]
        rows = chunk[:, 0, None, None] + offsets[None, :, None]  # (B, w, 1)
        cols = chunk[:, 1, None, None] + offsets[None, None, :]  # (B, 1, w)
        coords = np.stack(np.broadcast_arrays(rows, cols))  # (2, B, w, w)
        out[start : start + len(chunk)] = ndimage.map_coordinates(
            coeffs, coords, order=3, mode="mirror", prefilter=False
        )
    if data.min() >= 0 and data.max() <= 1:
        np.clip(out, 0.0, 1.0, out=out)
    return out


def _check_centers(centers, image_shape, window) -> np.ndarray:
    """``centers`` as finite (N, 2) float64 whose windows fit, or an InputError."""
    arr = np.asarray(centers, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
        raise InputError(f"centers must be a finite (N, 2) array of (row, col), got {arr.shape}")
    bad = np.flatnonzero(~_fits(arr, image_shape, window))
    if bad.size:
        row, col = arr[bad[0]]
        raise InputError(
            f"the {window} px window at centre ({row:.4g}, {col:.4g}) does not fit in the "
            f"{image_shape[0]} x {image_shape[1]} px image ({bad.size} centre(s) do not)"
        )
    return arr
