"""Strain and rotation of a polycrystal: each grain by GPA against its own turned cell.

One GPA (:func:`~shiftvae.analysis.strain.strain_maps`) measures one lattice; in a
polycrystal the others' fringes are elsewhere in frequency, so each grain needs its own.
The grains are found from the fringes themselves:

1. the period p is that of the strongest Fourier peak;
2. the image is demodulated by fringes of period p at every angle (1 degree apart) and
   averaged over GPA's mask: at each pixel the angle with the strongest fringe is the local
   orientation (modulo the lattice's symmetry, 90 degrees for a square lattice, 60 for a
   hexagonal one);
3. the orientations that many clear pixels share are the grains' (the peaks of their
   histogram weighted by amplitude), each pixel belongs to the nearest one, and regions
   smaller than a few cells are left out;
4. each grain is measured by GPA against the common cell turned to the grain's median
   orientation: the common cell's parameter is the median over all grains, so that strain
   is comparable from grain to grain (a grain that is stretched as a whole reads so).

Near a boundary the mask mixes both grains' fringes: pixels within two resolutions of
another grain are left out (NaN), as at the image's edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shiftvae.analysis.strain import MASK_SHARE, StrainMaps, _periodic, rectangle, strain_maps
from shiftvae.errors import InputError
from shiftvae.types import Image

__all__ = ["GrainStrain", "grain_strain_maps", "ring_period"]

STEP_DEG = 1.0
MIN_SHARE = 0.005  # an orientation is a grain's when this share of the clear pixels has it
MIN_CELLS = 16  # a grain covers at least this many unit cells
CLEAR = 0.5  # a pixel's best fringe is clear at half the median of the best fringes
RING_CONTRAST = 4.0  # the fringes' ring stands this many times above the median ring
EDGE = 2.0  # resolutions left out on each side of a boundary between grains


@dataclass(frozen=True)
class GrainStrain:
    """Per-pixel strain of a polycrystal, each grain against the common cell turned to it.

    Attributes
    ----------
    exx, eyy, exy : ndarray (H, W)
        Strain (%) as in :class:`~shiftvae.analysis.strain.StrainMaps`; NaN off the grains,
        near their boundaries and at the image's edge.
    rotation : ndarray (H, W)
        Rotation (deg) from the grain's median orientation.
    grains : ndarray (H, W) of int
        Grain label (0, 1, ...; -1 where none).
    orientation : ndarray (G,)
        Each grain's orientation, degrees counter-clockwise as displayed, modulo 360/n.
    period : float
        The common cell's parameter (px): the median over the grains.
    symmetry : int
    per_grain : tuple of StrainMaps
    """

    exx: np.ndarray
    eyy: np.ndarray
    exy: np.ndarray
    rotation: np.ndarray
    grains: np.ndarray
    orientation: np.ndarray
    period: float
    symmetry: int
    per_grain: tuple[StrainMaps, ...]

    def as_strain_maps(self) -> StrainMaps:
        """The maps as one :class:`StrainMaps` (``clear`` where measured, ``g`` and the
        resolution of the first grain, ``grains`` the labels)."""
        first = self.per_grain[0]
        return StrainMaps(
            self.exx,
            self.eyy,
            self.exy,
            self.rotation,
            np.isfinite(self.exx),
            first.g,
            first.resolution,
            grains=self.grains,
        )

    def summary(self) -> dict:
        """The grains: how many, their orientations (deg) and the common cell (px)."""
        return {
            "count": len(self.orientation),
            "orientation_deg": [round(float(t), 1) for t in self.orientation],
            "common_cell_px": round(self.period, 4),
            "symmetry": self.symmetry,
        }


def grain_strain_maps(
    image,
    symmetry: int = 4,
    period: float | None = None,
    mask_share: float = MASK_SHARE,
    region=None,
) -> GrainStrain:
    """Strain (%) and rotation (deg) of every grain of a square (4) or hexagonal (6) lattice.

    ``region`` (row0, col0, row1, col1), where the specimen is unstrained, sets the common
    cell: the median lattice of the grains there (default: the median of every grain's).

    Raises
    ------
    InputError
        For another symmetry, an image with no lattice fringes, no grain large enough, or
        a reference region on no measured grain.

    Examples
    --------
    >>> from shiftvae.synthetic.grains import polycrystal
    >>> img, truth = polycrystal(size=256, cell=10.0, grains=3, seed=1)
    >>> maps = grain_strain_maps(img)
    >>> len(maps.orientation) >= 2, bool(np.nanpercentile(np.abs(maps.exx), 99) < 1.0)
    (True, True)
    """
    if symmetry not in (4, 6):
        raise InputError(f"symmetry must be 4 (square) or 6 (hexagonal), got {symmetry!r}")
    data = np.asarray(image.data if isinstance(image, Image) else image, dtype=np.float64)
    if data.ndim != 2:
        raise InputError("grain_strain_maps needs a 2D image")
    p = float(ring_period(data) if period is None else period)
    fold = 360.0 / symmetry
    bins = round(fold / STEP_DEG)
    angles = np.arange(0.0, 180.0, STEP_DEG)
    sigma = p / (2 * np.pi * mask_share)
    step = max(1, int(sigma // 4))  # the averaged fringes vary over sigma: a coarse grid
    amplitude = _fringe_amplitudes(data - data.mean(), p, angles, sigma, step)  # (A, h, w)
    # each orientation's strength: all of its fringes (theta, theta + fold, ... mod 180)
    folded = np.stack([_folded(amplitude, angles, a, fold) for a in angles[:bins]])
    best = folded.argmax(0)
    strength = folded.max(0)
    border = int(np.ceil(2 * sigma / step))
    inside = np.zeros(best.shape, bool)
    inside[border:-border, border:-border] = True
    if not inside.any():
        raise InputError("the image is too small for its fringes to be averaged: no grains")
    clear = inside & (strength >= CLEAR * np.median(strength[inside]))
    centres = _orientations(best[clear], strength[clear], bins)
    if not centres:
        raise InputError("no grain: the image shows no clear lattice fringes of one period")
    coarse = _label(best, clear, inside, centres, bins, sigma / step, p / step)
    rows = np.minimum(np.arange(data.shape[0]) // step, coarse.shape[0] - 1)
    cols = np.minimum(np.arange(data.shape[1]) // step, coarse.shape[1] - 1)
    labels = coarse[np.ix_(rows, cols)]
    if labels.max() < 0:
        raise InputError("no grain covers enough cells to measure its strain")
    orientation, periods = [], []
    for k in range(labels.max() + 1):  # each grain's own median lattice, then one cell
        theta = float(np.median(best[coarse == k])) * STEP_DEG
        maps = strain_maps(
            data, _cell(p, theta, symmetry), errors=False, region=labels == k, mask_share=mask_share
        )
        orientation.append(theta)
        periods.append(float(1 / np.linalg.norm(maps.g, axis=1).mean()))
    common = float(np.median(periods))
    if region is not None:
        common = _region_period(data, region, labels, orientation, p, symmetry)
    exx, eyy, exy, turn = (np.full(data.shape, np.nan, np.float32) for _ in range(4))
    found = []
    for k, theta in enumerate(orientation):
        mask = labels == k
        cell = _cell(common, theta, symmetry)
        maps = strain_maps(
            data, _cell(p, theta, symmetry), reference=cell, errors=False, mask_share=mask_share
        )
        keep = mask & maps.clear
        for out, key in zip((exx, eyy, exy, turn), ("exx", "eyy", "exy", "rotation")):
            out[keep] = getattr(maps, key)[keep]
        found.append(maps)
    return GrainStrain(
        exx, eyy, exy, turn, labels, np.array(orientation), common, symmetry, tuple(found)
    )


def _region_period(data, region, labels, orientation, period, symmetry) -> float:
    """The lattice parameter (px) of the grains inside the rectangle ``region``: the
    median of each grain's there, weighted by its pixels."""
    r0, c0, r1, c1 = rectangle(region)
    inside = np.zeros(labels.shape, bool)
    inside[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)] = True
    found, weights = [], []
    for k, theta in enumerate(orientation):
        mask = inside & (labels == k)
        if mask.sum() < 16:
            continue
        cell = _cell(period, theta, symmetry)
        maps = strain_maps(data, cell, errors=False, region=mask, mask_share=MASK_SHARE)
        found.append(float(1 / np.linalg.norm(maps.g, axis=1).mean()))
        weights.append(int(mask.sum()))
    if not found:
        raise InputError(
            f"the reference region {r0},{c0},{r1},{c1} lies on no measured grain (grains are "
            "measured two resolutions from their boundaries and the image's edge)"
        )
    order = np.argsort(found)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(found)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def ring_period(data: np.ndarray) -> float:
    """The period (px) of the strongest ring of the power spectrum, averaged over all
    directions: a polycrystal's fringes spread over many angles, so no single peak of
    :func:`~shiftvae.data.patches.estimate_period` need stand out."""
    power = np.abs(np.fft.fftshift(np.fft.fft2(_periodic(data - data.mean())))) ** 2
    fr = np.fft.fftshift(np.fft.fftfreq(data.shape[0]))[:, None]
    fc = np.fft.fftshift(np.fft.fftfreq(data.shape[1]))[None, :]
    radius = np.hypot(fr, fc)
    width = 1.0 / max(data.shape)
    ring = np.rint(radius / width).astype(int)
    profile = np.bincount(ring.ravel(), power.ravel()) / np.maximum(np.bincount(ring.ravel()), 1)
    low, high = int(np.ceil(4 / min(data.shape) / width)), int(0.25 / width)
    if high <= low + 2:
        raise InputError("the image is too small to find the period of its fringes")
    k = low + int(np.argmax(profile[low:high]))
    if profile[k] < RING_CONTRAST * np.median(profile[low:high]):
        raise InputError("the power spectrum shows no ring of lattice fringes: no grains")
    a, b, c = np.log(profile[k - 1 : k + 2] + 1e-300)
    offset = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c < 0 else 0.0
    return float(1.0 / ((k + offset) * width))


def _fringe_amplitudes(centred, period, angles, sigma, step) -> np.ndarray:
    """|image demodulated by fringes of ``period`` at each angle, Gaussian-averaged|, on
    every ``step``-th pixel."""
    rows, cols = np.mgrid[: centred.shape[0], : centred.shape[1]].astype(np.float64)
    coarse = centred[::step, ::step].shape
    out = np.empty((len(angles), *coarse), np.float32)
    for i, a in enumerate(np.radians(angles)):
        g = np.array([-np.sin(a), np.cos(a)]) / period  # (row, col): a ccw as displayed
        wave = centred * np.exp(-2j * np.pi * (g[0] * rows + g[1] * cols))
        re = ndimage.gaussian_filter(wave.real, sigma)[::step, ::step]
        im = ndimage.gaussian_filter(wave.imag, sigma)[::step, ::step]
        out[i] = np.hypot(re, im)
    return out


def _folded(amplitude, angles, a, fold) -> np.ndarray:
    """The product of the fringes at a, a + fold, ... (mod 180): all the lattice's
    fringes must be there (a single set of planes is no grain)."""
    total = np.ones(amplitude.shape[1:], np.float32)
    for k in range(round(180 / fold)):
        i = round(((a + k * fold) % 180) / STEP_DEG) % len(angles)
        total = total * amplitude[i]
    return total ** (fold / 180)


def _orientations(best, weight, period_bins: int) -> list[int]:
    """The orientation bins that peak in the amplitude-weighted histogram (circular)."""
    hist = np.bincount(best, weights=weight, minlength=period_bins).astype(np.float64)
    smooth = ndimage.gaussian_filter1d(hist, 1.0, mode="wrap")
    peaks = [
        i
        for i in range(period_bins)
        if smooth[i] >= smooth[i - 1]
        and smooth[i] > smooth[(i + 1) % period_bins]
        and smooth[i] >= MIN_SHARE * smooth.sum()
    ]
    return peaks


def _label(best, clear, inside, centres, period_bins, sigma, period) -> np.ndarray:
    """Each clear pixel's grain: the nearest orientation peak, split into connected
    regions of at least MIN_CELLS cells, less two resolutions at each boundary (``sigma``
    and ``period`` in pixels of this grid)."""
    centres = np.asarray(centres)
    gap = np.abs(best[..., None] - centres)
    gap = np.minimum(gap, period_bins - gap)
    nearest = gap.argmin(-1)
    labels = np.full(best.shape, -1)
    count = 0
    for k in range(len(centres)):
        region, n = ndimage.label(clear & (nearest == k))
        sizes = ndimage.sum(np.ones_like(region), region, index=np.arange(1, n + 1))
        for j in np.flatnonzero(sizes >= MIN_CELLS * period**2) + 1:
            mask = region == j
            # away from every other grain and unclear pixel (not from the image's edge,
            # which the maps leave out on their own)
            core = mask & (ndimage.distance_transform_edt(~(inside & ~mask)) > EDGE * sigma)
            if core.sum() >= MIN_CELLS * period**2 / 4:
                labels[core] = count
                count += 1
    return labels


def _cell(period: float, theta_deg: float, symmetry: int) -> np.ndarray:
    """Real-space vectors (rows a1, a2; (row, col) px) of the lattice whose fringes of
    ``period`` run at ``theta_deg`` and theta + 360/n."""
    angles = np.radians([theta_deg, theta_deg + 360.0 / symmetry])
    g = np.column_stack([-np.sin(angles), np.cos(angles)]) / period  # fringes (row, col)
    return np.linalg.inv(g).T
