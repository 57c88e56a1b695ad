"""Patch centres on the crystal itself: one patch per unit cell, laid out as a 2D grid.

``centers="lattice"`` puts a patch at every lattice site ``origin + i a1 + j a2`` of the
largest block of whole indices (i, j) whose windows all lie inside the image, so every patch
holds the same lattice phase and the maps are regular arrays over (i, j): the smoothness,
phases and figures of the square grid apply unchanged, in lattice coordinates (one map
pixel per unit cell).  ``centers="atoms"`` then moves each site onto the atom column of the
brightest sublattice found within a quarter of the shorter period (a site without one keeps
its lattice position), so the patches are centred on the columns, as in the classical
atom-centred analysis.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial import cKDTree

from shiftvae.errors import InputError
from shiftvae.lattice.centers import atom_centers, check_lattice_option
from shiftvae.lattice.estimate import Lattice

__all__ = ["lattice_block_shape", "lattice_patch_grid"]

SNAP = 0.25  # an atom column this close (times the shorter period) to a site replaces it


def lattice_patch_grid(
    image: np.ndarray,
    lattice: Lattice,
    window: int,
    centers: Literal["lattice", "atoms"] = "lattice",
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """Patch centres (rows, cols, 2) over lattice indices (i, j), (row, col) pixels.

    Parameters
    ----------
    image : ndarray (H, W)
        The image (its columns are found for ``centers="atoms"``).
    lattice : Lattice
        Primitive vectors and an origin on a bright column.
    window : int
        Patch side in pixels: every window must lie inside the image.
    centers : {"lattice", "atoms"}
    columns : ndarray (N, 2), optional
        With ``centers="atoms"``: the columns to move the sites onto (row, col) px, found
        elsewhere; default: the brightest sublattice's, found here.

    Returns
    -------
    ndarray (rows, cols, 2)
        Centre of the patch of lattice indices (i0 + r, j0 + c).

    Raises
    ------
    InputError
        A bad option, or fewer than 2 x 2 sites with their whole window inside.

    Examples
    --------
    >>> lat = Lattice([[10.0, 0.0], [0.0, 10.0]], [5.0, 5.0])
    >>> lattice_patch_grid(np.zeros((60, 60)), lat, window=10).shape
    (5, 5, 2)
    """
    if centers not in ("lattice", "atoms"):
        raise InputError(f"centers must be 'grid', 'lattice' or 'atoms', got {centers!r}")
    shape = tuple(int(s) for s in np.shape(image))
    check_lattice_option(lattice, shape)
    lattice = _image_aligned(lattice)
    i, j = _largest_block(shape, lattice, window)
    grid = np.stack(np.meshgrid(i, j, indexing="ij"), -1).astype(np.float64)  # (r, c, 2)
    sites = lattice.to_pixels(grid.reshape(-1, 2))
    if centers == "atoms":
        sites = _snap_to_columns(np.asarray(image), lattice, window, sites, columns)
    return sites.reshape(len(i), len(j), 2)


def lattice_block_shape(shape: tuple[int, int], lattice: Lattice, window: int):
    """(rows, cols) of the block of cells :func:`lattice_patch_grid` would return.

    Examples
    --------
    >>> lattice_block_shape((64, 84), Lattice([[10.0, 0.0], [0.0, 10.0]], [5.0, 5.0]), 10)
    (6, 8)
    """
    i, j = _largest_block(shape, _image_aligned(lattice), window)
    return len(i), len(j)


def _image_aligned(lattice: Lattice) -> Lattice:
    """The same lattice with a1 the vector nearer the row axis, pointing down, and a2
    pointing right, so that map rows and columns run as the image's do."""
    v = np.array(lattice.vectors, dtype=np.float64)
    if abs(v[0, 0]) < abs(v[1, 0]):
        v = v[::-1].copy()
    v[0] *= np.sign(v[0, 0]) or 1.0
    v[1] *= np.sign(v[1, 1]) or 1.0
    return Lattice(v, lattice.origin, lattice.confidence)


def _inside(points: np.ndarray, shape: tuple[int, int], window: int) -> np.ndarray:
    half = (window - 1) / 2
    upper = np.asarray(shape, np.float64) - 1 - half
    return np.all((points >= half - 1e-9) & (points <= upper + 1e-9), axis=-1)


def _largest_block(shape, lattice: Lattice, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges i, j of the largest rectangle of sites whose windows fit."""
    corners = np.array([[0, 0], [0, shape[1] - 1], [shape[0] - 1, 0], [shape[0] - 1, shape[1] - 1]])
    frac = lattice.to_fractional(corners.astype(np.float64))
    lo, hi = np.floor(frac.min(0)).astype(int), np.ceil(frac.max(0)).astype(int)
    i, j = np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1)
    ii, jj = np.meshgrid(i, j, indexing="ij")
    sites = lattice.to_pixels(np.stack([ii.ravel(), jj.ravel()], 1).astype(np.float64))
    ok = _inside(sites, shape, window).reshape(len(i), len(j))
    best, best_area = None, 0
    for top in range(len(i)):  # the region is convex: each row's sites form one run
        common = ok[top].copy()
        for bottom in range(top, len(i)):
            common &= ok[bottom]
            run = _longest_run(common)
            area = (bottom - top + 1) * (run[1] - run[0])
            if area > best_area:
                best, best_area = (top, bottom + 1, *run), area
    if best is None or best[1] - best[0] < 2 or best[3] - best[2] < 2:
        raise InputError(
            f"fewer than 2 x 2 lattice sites have their {window} px window inside the "
            f"{shape[0]} x {shape[1]} px image: use a smaller window or centers='grid'"
        )
    return i[best[0] : best[1]], j[best[2] : best[3]]


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """[start, stop) of the longest run of True in a 1D mask ((0, 0) if none)."""
    best, start = (0, 0), None
    for k, value in enumerate([*mask.tolist(), False]):
        if value and start is None:
            start = k
        elif not value and start is not None:
            if k - start > best[1] - best[0]:
                best = (start, k)
            start = None
    return best


def _snap_to_columns(image, lattice, window, sites, columns=None) -> np.ndarray:
    """Each site moved onto the nearest column (of the brightest sublattice, or of
    ``columns``), if close."""
    if columns is None:
        try:
            columns = atom_centers(image, lattice, window)
        except InputError:
            return sites  # no columns found: the lattice sites stay
    columns = columns[_inside(columns, np.shape(image), window)]
    if not len(columns):
        return sites
    distance, nearest = cKDTree(columns).query(sites)
    close = distance <= SNAP * float(lattice.periods.min())
    out = sites.copy()
    out[close] = columns[nearest[close]]
    return out
