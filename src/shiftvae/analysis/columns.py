"""Atom columns of every sublattice, cell by cell, and each one's displacement from its cage.

:func:`find_columns` folds the image onto the unit cell (the mean motif), finds the motif's
sublattices as its local maxima (brightest first: site 0), and then, in every cell, the
sub-pixel position and height of each site's column: the brightest pixel of the smoothed
image within reach of where the lattice puts it, refined by a quadratic.

:func:`cage_displacements` measures a sublattice against the centre of the four columns of
the reference sublattice around it (B from its four A in a perovskite), from where it would
sit in a centrosymmetric cell: the polarisation.  A smooth scan drift or strain, which
moves the cage with the column, cancels.  :func:`to_picometres`
turns pixels into pm from the image's calibration.  The error bars come from
:mod:`shiftvae.analysis.column_errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shiftvae.analysis.column_model import draw_gaussians, fit_gaussians
from shiftvae.errors import InputError
from shiftvae.lattice.estimate import Lattice
from shiftvae.lattice.peaks import refine_maxima
from shiftvae.types import Image

__all__ = [
    "Columns",
    "above_noise",
    "cage_displacements",
    "column_summary",
    "displacement_errors",
    "displacements",
    "find_columns",
    "gaussian_vertex",
    "locate",
    "nan_median",
    "to_picometres",
]

MIN_SHARE = 0.15  # a motif maximum is a sublattice when it rises this share of the range
REACH = 0.2  # a column is searched within this share of the shortest site distance
FIT_SHARE, FIT_MAX = 0.3, 6  # its centre is fitted over this share of it (2 to FIT_MAX px)
REST_MAX = 12  # the other sublattices, fitted with the reference subtracted: FIT_SHARE of the
# shortest distance between their own columns (2 to REST_MAX px)
SYMMETRIC = 0.1  # a site this close to a half-integer position is measured from it
SIGNIFICANT = float(np.sqrt(5.991))  # chi with 2 degrees of freedom at 95%
_PM_PER = {"pm": 1.0, "Å": 100.0, "A": 100.0, "angstrom": 100.0, "nm": 1000.0, "µm": 1e6, "um": 1e6}


@dataclass(frozen=True)
class Columns:
    """Every column of every sublattice, per cell.

    Attributes
    ----------
    positions : ndarray (R, C, S, 2)
        (row, col) px of site s in cell (i, j); NaN where it falls outside the image.
    heights : ndarray (R, C, S)
        The smoothed image's value at each column (its brightness).
    sites : ndarray (S, 2)
        Fractional positions of the sublattices in the cell, brightest first.
    cells : ndarray (R, C, 2) of int
        The cell indices (i, j) along a1, a2.
    lattice : Lattice
    peaks : ndarray (R, C, S, 2) of int
        The pixel each centre was fitted around (-1 where the column is missing).
    smoothing : float
        Std (px) of the Gaussian the image was smoothed by before the fits.
    half : int
        Half-width (px) of the square window each centre was fitted over.
    rest_half : int or None
        The same for the sublattices other than the reference, fitted once the reference is
        subtracted (None: ``half``, as columns measured before it was recorded).
    reference_model : ndarray (H, W) or None
        The reference sublattice (site 0) drawn as its fitted Gaussians: subtracted from the
        smoothed image before the other sublattices are located (:mod:`.column_model`).
    position_std, displacement_std : ndarray (R, C, S, 2) or None
        Standard errors (px) of each centre and of each displacement from its cage (NaN for
        the reference sublattice), from :func:`shiftvae.analysis.column_errors.column_errors`.
    """

    positions: np.ndarray
    heights: np.ndarray
    sites: np.ndarray
    cells: np.ndarray
    lattice: Lattice
    peaks: np.ndarray | None = None
    smoothing: float = 0.0
    half: int = 3
    reference_model: np.ndarray | None = None
    rest_half: int | None = None
    position_std: np.ndarray | None = None
    displacement_std: np.ndarray | None = None


def find_columns(image, lattice: Lattice, min_share: float = MIN_SHARE) -> Columns:
    """The columns of every sublattice of ``image`` in every cell of ``lattice``.

    Parameters
    ----------
    image : Image or ndarray (H, W)
    lattice : Lattice
        The full cell, with its origin on a column (as :func:`estimate_lattice` gives it).
    min_share : float
        A local maximum of the mean motif is a sublattice when it rises this share of the
        motif's range above its minimum.

    Examples
    --------
    >>> rows, cols = np.mgrid[:96, :96]
    >>> img = np.cos(np.pi * rows / 6) ** 8 * np.cos(np.pi * cols / 6) ** 8  # 12 px cell
    >>> cols_ = find_columns(img, Lattice(np.eye(2) * 12, np.zeros(2)))
    >>> cols_.sites.shape
    (1, 2)
    """
    data = np.asarray(image.data if isinstance(image, Image) else image, dtype=np.float64)
    if data.ndim != 2:
        raise InputError("find_columns needs a 2D image")
    period = float(lattice.periods.min())
    smoothing = max(0.7, 0.04 * period)
    smooth = ndimage.gaussian_filter(data, smoothing)
    sites = _motif_sites(smooth, lattice, min_share)
    corners = lattice.to_fractional(
        [
            [0, 0],
            [0, data.shape[1] - 1],
            [data.shape[0] - 1, 0],
            [data.shape[0] - 1, data.shape[1] - 1],
        ]
    )
    lo = np.floor(corners.min(0)).astype(int) - 1
    hi = np.ceil(corners.max(0)).astype(int) + 1
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij")
    cells = np.stack([ii, jj], -1)
    frac = cells[:, :, None, :] + sites[None, None]  # (R, C, S, 2)
    expected = lattice.to_pixels(frac.reshape(-1, 2)).reshape(frac.shape)
    distances = _site_distances(sites, lattice.vectors)
    reach = max(1, round(REACH * distances))
    half = int(np.clip(round(FIT_SHARE * distances), 2, FIT_MAX))
    positions, heights, peaks = _refine(smooth, expected.reshape(-1, 2), reach, half)
    model = rest_half = None
    if len(sites) > 1:  # the reference's tails taken from under the others, then located
        site = np.arange(len(positions)) % len(sites)
        first = (site == 0) & np.isfinite(positions).all(1)
        model = draw_gaussians(
            smooth.shape, *fit_gaussians(smooth, positions[first], max(2, round(0.35 * distances)))
        )
        rest = FIT_SHARE * _site_distances(sites[1:], lattice.vectors)
        rest_half = int(np.clip(round(rest), 2, REST_MAX))
        positions = locate(smooth, peaks, site, half, model, rest_half)
    return Columns(
        positions.reshape(expected.shape),
        heights.reshape(expected.shape[:-1]),
        sites,
        cells,
        lattice,
        peaks.reshape(expected.shape),
        smoothing,
        half,
        model,
        rest_half,
    )


def locate(
    smooth: np.ndarray,
    peaks: np.ndarray,
    site: np.ndarray,
    half: int,
    model=None,
    rest_half: int | None = None,
) -> np.ndarray:
    """Sub-pixel centres (N, 2) of the columns fitted around ``peaks`` (N, 2; -1 where
    missing, NaN out): the reference sublattice (``site`` 0) on ``smooth``, the others on
    ``smooth`` less ``model`` (the reference drawn as Gaussians), where one is given, over
    windows of half-width ``half`` and ``rest_half`` (default ``half``).

    Each centre starts at :func:`gaussian_vertex` and is then refined by a least-squares 2D
    Gaussian over its window (:func:`~.column_model.fit_gaussians`), as Atomap refines its
    columns; the others' wider window holds more of their own pixels once the reference is
    gone.  On the 25 pm domains through an Airy probe (benchmarks/bench_physics.py, dose
    part) this took the RMS error from 6.60 to 5.74 pm at 1e4 e/A^2 (B/A 0.3) and from
    2.27 to 2.21 pm at 1e5 (B/A 0.8), and from 1.96 to 2.02 pm at 1e6 (the Airy rings in
    the wider window); on Gaussian columns every row of the benchmark read 0-3% lower."""
    positions = np.full(peaks.shape, np.nan)
    inside = peaks[:, 0] >= 0
    first = inside & (site == 0)
    positions[first] = _least_squares(smooth, gaussian_vertex(smooth, peaks[first], half), half)
    rest = inside & (site != 0)
    if rest.any():
        cleaned = smooth if model is None else smooth - model
        start = gaussian_vertex(cleaned, peaks[rest], half)
        positions[rest] = _least_squares(cleaned, start, rest_half or half)
    return positions


def _least_squares(image: np.ndarray, start: np.ndarray, half: int) -> np.ndarray:
    """``start`` (N, 2) refined by a 2D Gaussian fitted over each window; the start is
    kept where the fit failed or moved further than a quarter of the window."""
    if not len(start):
        return start
    found = fit_gaussians(image, start, half)[0]
    lost = ~np.isfinite(found).all(1) | (np.abs(found - start) > max(1.5, half / 4)).any(1)
    found[lost] = start[lost]
    return found


def cage_displacements(columns: Columns, site: int, reference: int = 0) -> np.ndarray:
    """(R, C, 2) px: each column of ``site`` from where it would sit in a centrosymmetric
    cell, measured from the centre of the four ``reference`` columns around it (NaN where a
    column is missing).

    A site within 0.1 of a half-integer position of the cell relative to the reference
    (a perovskite's B at (1/2, 1/2), its O at (1/2, 0)) is measured from that position:
    the polarisation.  Any other site is measured from its median position."""
    if not 0 <= site < len(columns.sites) or not 0 <= reference < len(columns.sites):
        raise InputError(
            f"site and reference must be among the {len(columns.sites)} sublattices found, "
            f"got {site} and {reference}"
        )
    if site == reference:
        raise InputError("a sublattice has no displacement from itself: choose another site")
    ref = columns.positions[:, :, reference]
    cage = np.full(ref.shape, np.nan)  # cage[i, j]: centre of the reference at (i..i+1, j..j+1)
    cage[:-1, :-1] = (ref[:-1, :-1] + ref[1:, :-1] + ref[:-1, 1:] + ref[1:, 1:]) / 4
    # a site whose fractional offset from the reference is negative along an axis sits in
    # the cage of the previous cell along it
    di, dj = np.floor(columns.sites[site] - columns.sites[reference]).astype(int)
    own = np.full(ref.shape, np.nan)
    rows, cols = ref.shape[:2]
    own[max(0, -di) : rows - max(0, di), max(0, -dj) : cols - max(0, dj)] = cage[
        max(0, di) : rows + min(0, di), max(0, dj) : cols + min(0, dj)
    ]
    moved = columns.positions[:, :, site] - own
    offset = columns.sites[site] - columns.sites[reference] - [di, dj]  # in [0, 1)
    symmetric = np.round(2 * offset) / 2
    if np.abs(offset - symmetric).max() <= SYMMETRIC:
        ideal = (symmetric - 0.5) @ columns.lattice.vectors  # the cage centre is (1/2, 1/2)
        return moved - ideal
    return moved - np.nanmedian(moved.reshape(-1, 2), axis=0)


def to_picometres(pixels: np.ndarray, image) -> tuple[np.ndarray, str]:
    """``pixels`` in pm from the image's calibration, and the unit ("pm", or "px" where the
    image has no length calibration)."""
    size = getattr(image, "pixel_size", None)
    unit = str(getattr(image, "unit", "px") or "px")
    if size is None or unit not in _PM_PER:
        return np.asarray(pixels, dtype=np.float64), "px"
    return np.asarray(pixels, dtype=np.float64) * size * _PM_PER[unit], "pm"


def displacements(columns: Columns, image) -> dict[int, tuple[np.ndarray, str]]:
    """Every sublattice but the reference's, measured from its cage: ``{site: ((R, C, 2)
    values, unit)}``, in pm where the image is calibrated (else px)."""
    return {
        site: to_picometres(cage_displacements(columns, site), image)
        for site in range(1, len(columns.sites))
    }


def displacement_errors(columns: Columns, image) -> dict[int, np.ndarray]:
    """The standard error (R, C, 2) of each displacement of :func:`displacements`, in the
    same unit (empty where :func:`~shiftvae.analysis.column_errors.column_errors` was not
    run)."""
    if columns.displacement_std is None:
        return {}
    return {
        site: to_picometres(columns.displacement_std[:, :, site], image)[0]
        for site in range(1, len(columns.sites))
    }


def above_noise(moved: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(R, C) bool: the displacement differs from zero beyond its error, at 95% for the two
    components together (|d / std| above 2.45); False where either is missing."""
    with np.errstate(invalid="ignore", divide="ignore"):
        chi = np.sqrt(np.sum((moved / std) ** 2, axis=-1))
    return np.isfinite(chi) & (chi > SIGNIFICANT)


def column_summary(columns: Columns, image) -> dict:
    """Sublattices, their sites and brightness, and each one's displacement from its cage
    (RMS and 99th percentile of the magnitude, in pm where the image is calibrated)."""
    heights = [np.nanmedian(columns.heights[:, :, s]) for s in range(len(columns.sites))]
    out: dict = {
        "sublattices": len(columns.sites),
        "sites_fractional": np.round(columns.sites, 4).tolist(),
        "columns": int(np.isfinite(columns.positions[..., 0]).sum()),
        "relative_height": [round(float(h / heights[0]), 4) for h in heights],
    }
    if columns.position_std is not None:
        out["position_error_px"] = [
            round(float(np.nanmedian(columns.position_std[:, :, s])), 4)
            for s in range(len(columns.sites))
        ]
    errors = displacement_errors(columns, image)
    for site, (moved, unit) in displacements(columns, image).items():
        size = np.linalg.norm(moved, axis=-1)
        finite = size[np.isfinite(size)]
        if finite.size:
            out[f"site{site}_displacement_rms"] = round(float(np.sqrt(np.mean(finite**2))), 3)
            out[f"site{site}_displacement_p99"] = round(float(np.percentile(finite, 99)), 3)
        if site in errors and finite.size:
            out[f"site{site}_displacement_error"] = np.round(
                np.nanmedian(errors[site].reshape(-1, 2), axis=0), 3
            ).tolist()
            out[f"site{site}_above_noise_share"] = round(
                float(above_noise(moved, errors[site]).sum() / finite.size), 4
            )
        out["displacement_unit"] = unit
    return out


def _motif_sites(smooth: np.ndarray, lattice: Lattice, min_share: float) -> np.ndarray:
    """Fractional sublattice sites (S, 2) from the mean motif, brightest first."""
    bins = int(np.clip(round(float(lattice.periods.max())), 12, 48))
    rows, cols = np.mgrid[: smooth.shape[0], : smooth.shape[1]]
    frac = lattice.to_fractional(np.column_stack([rows.ravel(), cols.ravel()])) % 1.0
    index = np.minimum((frac * bins).astype(int), bins - 1)
    flat = index[:, 0] * bins + index[:, 1]
    total = np.bincount(flat, smooth.ravel(), bins * bins)
    count = np.bincount(flat, minlength=bins * bins)
    motif = (total / np.maximum(count, 1)).reshape(bins, bins)
    motif = ndimage.gaussian_filter(motif, 0.7, mode="wrap")
    peaks = motif == ndimage.maximum_filter(motif, size=3, mode="wrap")
    floor, span = motif.min(), np.ptp(motif)
    peaks &= motif >= floor + min_share * span
    found = np.argwhere(peaks)
    if not len(found):
        raise InputError("the mean motif of the cell has no clear maximum: no columns found")
    padded = np.pad(motif, 1, mode="wrap")
    refined = refine_maxima(padded, found + 1) - 1
    order = np.argsort(-motif[found[:, 0], found[:, 1]], kind="stable")
    sites = ((refined[order] + 0.5) / bins) % 1.0
    return sites - np.floor(sites[0])  # keep the brightest site within the cell


def _site_distances(sites: np.ndarray, vectors: np.ndarray) -> float:
    """The shortest distance in px between two columns (any sublattices, any cells)."""
    shifts = np.array([[i, j] for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
    points = (sites[:, None, :] + shifts[None]).reshape(-1, 2) @ vectors
    own = sites @ vectors
    d = np.linalg.norm(points[None] - own[:, None], axis=-1)
    return float(d[d > 1e-6].min())


def _refine(smooth: np.ndarray, expected: np.ndarray, reach: int, half: int):
    """Sub-pixel maxima of ``smooth`` within ``reach`` px of each expected point, their
    heights, and the pixels they were fitted around (-1 where outside the image)."""
    h, w = smooth.shape
    margin = max(reach + 1, half)
    inside = (
        (expected[:, 0] >= margin)
        & (expected[:, 0] <= h - 1 - margin)
        & (expected[:, 1] >= margin)
        & (expected[:, 1] <= w - 1 - margin)
    )
    positions = np.full(expected.shape, np.nan)
    heights = np.full(len(expected), np.nan)
    start = np.rint(expected[inside]).astype(int)
    d = np.arange(-reach, reach + 1)
    window = smooth[start[:, 0, None, None] + d[:, None], start[:, 1, None, None] + d[None, :]]
    best = window.reshape(len(start), -1).argmax(1)
    peak = start + np.stack([d[best // len(d)], d[best % len(d)]], 1)
    positions[inside] = gaussian_vertex(smooth, peak, half)
    heights[inside] = smooth[peak[:, 0], peak[:, 1]]
    peaks = np.full(expected.shape, -1, dtype=np.int64)
    peaks[inside] = peak
    return positions, heights, peaks


def gaussian_vertex(smooth: np.ndarray, peak: np.ndarray, half: int) -> np.ndarray:
    """Sub-pixel centres of columns near the pixels ``peak``: the vertex of a quadratic fit
    to the log of the (floor-subtracted) image over a (2 half + 1)^2 window, weighted by
    the squared intensity (Guo's fit of a Gaussian: the faint edge of the window, whose log
    is mostly noise, weighs nothing).  A quadratic on the intensities of the 3 x 3 around
    the maximum uses 9 pixels: on the benchmark's noisiest image (noise 0.16, B/A 0.5) it
    read 25 pm displacements with 5.2 pm RMS error, this fit over 7 x 7 pixels 3.3 pm.  The
    window's half-width is 0.3 of the shortest distance between columns (at most 6 px):
    on the benchmark's worst image (noise 0.16, B/A 0.3) 0.2 read 3.95 pm, 0.3 3.16 pm,
    0.35 3.5 pm and 0.4 6.8 pm (the neighbours' tails come in)."""
    h, w = smooth.shape
    k = int(half)
    d = np.arange(-k, k + 1)
    rr, cc = np.meshgrid(d, d, indexing="ij")
    design = np.column_stack(
        [
            np.ones(rr.size),
            rr.ravel(),
            cc.ravel(),
            rr.ravel() ** 2,
            cc.ravel() ** 2,
            (rr * cc).ravel(),
        ]
    )
    centre = np.clip(peak, k, [h - 1 - k, w - 1 - k])
    window = smooth[centre[:, 0, None, None] + d[:, None], centre[:, 1, None, None] + d[None, :]]
    window = window.reshape(len(peak), -1)
    above = np.maximum(window - window.min(1, keepdims=True), 0.0)
    top = above.max(1, keepdims=True)
    logs = np.log(np.maximum(above, 1e-6 * top + 1e-300))
    weight = (above / np.maximum(top, 1e-300)) ** 2
    normal = np.einsum("ni,ij,ik->njk", weight, design, design)
    normal += 1e-12 * np.eye(6)
    rhs = np.einsum("ni,ij,ni->nj", weight, design, logs)
    c = np.linalg.solve(normal, rhs[..., None])[..., 0]  # c0, g_r, g_c, h_rr, h_cc, h_rc
    hrr, hcc, hrc = 2 * c[:, 3], 2 * c[:, 4], c[:, 5]
    det = hrr * hcc - hrc**2
    ok = (hrr < 0) & (det > 0)
    safe = np.where(ok, det, 1.0)
    off_r = np.where(ok, (-hcc * c[:, 1] + hrc * c[:, 2]) / safe, 0.0)
    off_c = np.where(ok, (hrc * c[:, 1] - hrr * c[:, 2]) / safe, 0.0)
    offset = np.clip(np.column_stack([off_r, off_c]), -k, k)
    return centre + offset


def nan_median(stack: np.ndarray) -> np.ndarray:
    """The median over axis 0 of the finite values; NaN where there are none, without the
    warning (``warnings.catch_warnings`` is not thread-safe: fits run in threads)."""
    stack = np.asarray(stack, dtype=float)
    some = np.isfinite(stack).any(axis=0)
    out = np.full(stack.shape[1:], np.nan)
    if np.any(some):
        out[some] = np.nanmedian(stack[:, some], axis=0)
    return out
