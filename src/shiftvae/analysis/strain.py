"""Strain and rotation of a crystal image by geometric phase analysis (GPA), in % and degrees.

The standard method (Hytch, Snoeck and Kilaas, Ultramicroscopy 74, 1998): for a reciprocal
lattice vector g, the image filtered by a Gaussian mask around g is
``A_g(r) exp(2 pi i g.r + i P_g(r))``; a displacement field u shifts the fringes, so
``P_g = -2 pi g.u``.  With two independent vectors g_a, g_b (rows of G)::

    [grad P_ga; grad P_gb] = -2 pi G D,     D_ij = d u_i / d x_j
    strain  eps = (D + D^T) / 2,            rotation  omega = (D_col,row - D_row,col) / 2

The phase gradients come from the filtered fields themselves,
``grad P = Im(conj(e) grad e) / |e|^2``, which needs no phase unwrapping.  The reference
lattice is the image's median one (each g moved by the median of its phase gradient where
the fringes are clear), or one given (a substrate's cell).  What the phases give is the
gradient in the deformed frame, ``I - (I + D)^-1``; it is turned into D exactly, so that
the error does not grow with the strain (3% would otherwise read 2.91%).  The mask is
applied in real space, as a Gaussian average of the image demodulated by g (normalised at
the edges): a Fourier mask would wrap the lattice around the image's edges, where it is
not a whole number of cells, and read the jump as strain up to 70 px inside.

Axes: x along the columns (to the right), y along the rows (down), as the image is
displayed; ``exx``, ``eyy`` and ``exy`` are the tensor's components in these axes and
``rotation`` is positive counter-clockwise as displayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
from scipy import ndimage

from shiftvae.analysis.dislocations import Dislocation, find_dislocations
from shiftvae.errors import InputError
from shiftvae.types import Image

__all__ = ["StrainMaps", "strain_maps"]

MASK_SHARE = 0.1  # the mask's std in frequency, as a share of the shortest |g| used
AUTO_SHARES = (0.1, 0.14, 0.2)  # the masks mask_share="auto" chooses from
AUTO_SIDE = 512  # px: "auto" chooses on the image's central crop of at most this side
MIN_SHARE = 0.25  # reference and statistics: pixels whose fringe amplitude is this share of
# its median or more (defects, holes and the image border read noise)
MIN_BINS = 3.0  # the mask is at least this many frequency bins wide
BORDER = 2.0  # resolutions (the mask's std in real space) at the image's edge left out


@dataclass(frozen=True)
class StrainMaps:
    """Strain and rotation per pixel, relative to the image's median lattice.

    Attributes
    ----------
    exx, eyy, exy : ndarray (H, W), float32
        Strain tensor components in percent (x right, y down).
    rotation : ndarray (H, W), float32
        Lattice rotation in degrees, counter-clockwise as displayed.
    clear : ndarray (H, W), bool
        Where both fringes are clear (amplitude at least a quarter of its median).
    g : ndarray (2, 2)
        The two reciprocal vectors used, refined to the median lattice, (row, col) in
        cycles per pixel.
    resolution : float
        Standard deviation, in pixels, of the Gaussian that the maps are averaged over
        (the mask's width in real space).
    errors : ndarray (4, H, W), float32, or None
        Standard error of exx, eyy, exy (%) and rotation (deg) at each pixel.
    dislocations : tuple of Dislocation
        Cores around which the phases wind, with their Burgers vectors
        (:mod:`shiftvae.analysis.dislocations`).
    grains : ndarray (H, W) of int, or None
        For a polycrystal (:mod:`shiftvae.analysis.grain_strain`): each pixel's grain (-1
        where none), each measured against the common cell turned to it.
    """

    exx: np.ndarray
    eyy: np.ndarray
    exy: np.ndarray
    rotation: np.ndarray
    clear: np.ndarray
    g: np.ndarray
    resolution: float
    errors: np.ndarray | None = None
    dislocations: tuple[Dislocation, ...] = ()
    grains: np.ndarray | None = None

    def summary(self) -> dict[str, float]:
        """Median and 99th percentile of |value| of each map over the clear pixels, and
        the median standard error where the errors were measured."""
        out = {}
        for k, name in enumerate(("exx", "eyy", "exy", "rotation")):
            values = getattr(self, name)[self.clear]
            out[f"{name}_median"] = float(np.median(values)) if values.size else float("nan")
            out[f"{name}_p99_abs"] = (
                float(np.percentile(np.abs(values), 99)) if values.size else float("nan")
            )
            if self.errors is not None and values.size:
                out[f"{name}_error_median"] = float(np.median(self.errors[k][self.clear]))
        return out


def strain_maps(
    image,
    lattice,
    reference=None,
    mask_share: float | Literal["auto"] = "auto",
    errors: bool = True,
    region=None,
) -> StrainMaps:
    """Strain (%) and rotation (degrees) of ``image`` by GPA on two strong reflections.

    Parameters
    ----------
    image : Image or ndarray (H, W)
    lattice : Lattice or ndarray (2, 2)
        The lattice (rows a1, a2 in pixels, (row, col) each), e.g. from
        :func:`~shiftvae.lattice.estimate.estimate_lattice`.  Of g1, g2, g1 + g2,
        g1 - g2, 2 g1 and 2 g2, the two independent ones with the strongest fringes are
        used: a perovskite's full cell has weak fundamentals and strong sums.
    reference : Lattice or ndarray (2, 2), optional
        The unstrained lattice to measure against (the same cell, e.g. that of a substrate
        region); default: the image's median lattice.
    mask_share : float or "auto"
        Gaussian mask std in frequency as a share of the shorter |g|: resolution against
        noise.  0.1 averages over a Gaussian of std 1.6 lattice periods; on a perfect
        10 px lattice at 50 counts per column the 99th percentile of |strain| is then about
        0.15%, and 0.7% at 0.2.  "auto" (default) measures the maps with 0.1, 0.14 and 0.2
        on the central 512 x 512 px and keeps the one whose predicted error (the error
        bars below, noise and bias together) is smallest: a narrow mask where noise
        dominates, a wide one where the averaging's bias does (a 3% film at 1000 counts per
        column: 0.22% RMS error at 0.1, 0.09% at 0.2).
    region : (row0, col0, row1, col1) or ndarray (H, W) of bool, optional
        A rectangle of the image (px, end excluded), or a mask, whose median lattice is the
        reference: where the specimen is known to be unstrained (a substrate), or one grain.
        Not with ``reference``.
    errors : bool
        Also measure each pixel's standard error (``StrainMaps.errors``): half the local
        RMS difference between the maps of the even and of the odd scan lines (noise and
        line jitter), and in quadrature the averaging's bias where the field curves,
        ``(s^2 / 2) laplacian`` of the map (s the mask's std in real space), less the part
        of it the noise makes.

    Raises
    ------
    InputError
        For a lattice of fringes too fine for the image or a mask out of (0, 0.5].

    Examples
    --------
    >>> rows, cols = np.mgrid[:128, :128]
    >>> image = np.cos(2 * np.pi * rows / 8) + np.cos(2 * np.pi * cols / 8)
    >>> maps = strain_maps(image, np.eye(2) * 8)
    >>> bool(np.abs(maps.exx[maps.clear]).max() < 1e-6)
    True
    """
    data = np.asarray(image.data if isinstance(image, Image) else image, dtype=np.float64)
    vectors = np.asarray(getattr(lattice, "vectors", lattice), dtype=np.float64)
    if data.ndim != 2 or vectors.shape != (2, 2):
        raise InputError("strain_maps needs a 2D image and two lattice vectors (2, 2)")
    if isinstance(mask_share, str):
        if mask_share != "auto":
            raise InputError(f"mask_share must be 'auto' or in (0, 0.5], got {mask_share!r}")
        mask_share = _auto_share(data, vectors, reference)
    if not 0 < mask_share <= 0.5:
        raise InputError(f"mask_share must be in (0, 0.5], got {mask_share!r}")
    spectrum = np.fft.fft2(_periodic(data - data.mean()))
    fr = np.fft.fftfreq(data.shape[0])[:, None]
    fc = np.fft.fftfreq(data.shape[1])[None, :]
    grid = np.mgrid[: data.shape[0], : data.shape[1]].astype(np.float64)
    g, pair = _strongest_pair(spectrum, fr, fc, np.linalg.inv(vectors).T)
    width = mask_share * float(np.linalg.norm(g, axis=1).min())
    width = max(width, MIN_BINS / min(data.shape))  # a mask narrower than a few bins
    # picks one Fourier component, a plane wave that is not the lattice
    if np.linalg.norm(g, axis=1).min() < 2 * width:
        raise InputError(
            f"a {data.shape[0]} x {data.shape[1]} image holds too few cells of its lattice "
            f"(fringes of {1 / np.linalg.norm(g, axis=1).min():.1f} px) to measure strain"
        )
    sigma = 1 / (2 * np.pi * width)  # the mask's std in real space, px
    # normalised convolution: near the edges each pixel averages what the image has
    weight = ndimage.gaussian_filter(np.ones_like(data), sigma, mode="constant")
    waves = [np.exp(-2j * np.pi * (gv[0] * grid[0] + gv[1] * grid[1])) for gv in g]
    fields = _fields(data - data.mean(), waves, sigma, weight)
    amplitude = np.stack([np.abs(e) for e in fields])
    clear = np.all(amplitude >= MIN_SHARE * np.median(amplitude, axis=(1, 2))[:, None, None], 0)
    # within two resolutions of the edge a pixel averages part of a kernel, off centre: a
    # curved field reads biased there (1.2% at the 99th percentile for a 3% film), left out
    border = int(np.ceil(BORDER * sigma))
    edge = np.ones_like(clear)
    edge[border:-border, border:-border] = False
    clear &= ~edge
    if not clear.any():
        raise InputError("the lattice's fringes are nowhere clear in this image: no strain")
    # grad P (2 reflections, 2 derivatives: row, col), radians per pixel
    phi = np.stack([_phase_gradient(e) for e in fields])  # (2, 2, H, W)
    if region is not None and reference is not None:
        raise InputError("give the reference as a lattice or as a region, not both")
    if region is not None:
        drift = np.median(phi[:, :, _in_region(region, clear, g)], axis=-1)
    elif reference is None:  # the median lattice: its offset from g, per reflection and axis
        drift = np.median(phi[:, :, clear], axis=-1)
    else:
        cell = np.asarray(getattr(reference, "vectors", reference), dtype=np.float64)
        if cell.shape != (2, 2) or not np.isfinite(cell).all() or abs(np.linalg.det(cell)) < 1e-9:
            raise InputError("the reference must be two independent lattice vectors (2, 2)")
        drift = 2 * np.pi * (_combinations(np.linalg.inv(cell).T)[pair] - g)
    g = g + drift / (2 * np.pi)
    values = _components(phi - drift[:, :, None, None], g)
    spread = None
    if errors:  # the same measurement on the even and on the odd scan lines
        halves = [
            _components(
                np.stack([_phase_gradient(e) for e in _fields(half, waves, sigma, weight)])
                - drift[:, :, None, None],
                g,
            )
            for half in _line_halves(data - data.mean())
        ]
        window = 2 * sigma  # the local RMS of their difference, over two resolutions
        spread = []
        for v, a, b in zip(values, *halves):
            noise = 0.25 * ndimage.gaussian_filter((a - b) ** 2, window)
            # the averaging's own bias where the field curves, less what noise puts in it
            bias = ndimage.gaussian_filter(_bias(v, sigma) ** 2, window)
            bias -= ndimage.gaussian_filter(_bias(0.5 * (a - b), sigma) ** 2, window)
            spread.append(np.sqrt(noise + np.maximum(bias, 0.0)).astype(np.float32))
    return StrainMaps(
        *(v.astype(np.float32) for v in values),
        clear=clear,
        g=g,
        resolution=float(sigma),
        errors=None if spread is None else np.stack(spread),
        dislocations=tuple(find_dislocations(fields, g, clear, sigma, vectors)),
    )


def _auto_share(data: np.ndarray, vectors: np.ndarray, reference) -> float:
    """The mask of ``AUTO_SHARES`` whose maps have the smallest predicted error (RMS of the
    error bars of exx, eyy and exy, the worst of the three, over the pixels clear in all)
    on the central crop of at most ``AUTO_SIDE`` px."""
    rows, cols = data.shape
    r0, c0 = max(0, (rows - AUTO_SIDE) // 2), max(0, (cols - AUTO_SIDE) // 2)
    crop = data[r0 : r0 + AUTO_SIDE, c0 : c0 + AUTO_SIDE]
    tried = {}
    for share in AUTO_SHARES:
        try:
            tried[share] = strain_maps(crop, vectors, reference, share, errors=True)
        except InputError:  # a mask too wide or too narrow for this crop
            continue
    if not tried:
        return MASK_SHARE
    clear = np.logical_and.reduce([m.clear for m in tried.values()])
    if not clear.any():
        return MASK_SHARE

    def predicted(maps: StrainMaps) -> float:
        return max(
            float(np.sqrt(np.mean(e[clear].astype(np.float64) ** 2))) for e in maps.errors[:3]
        )

    return min(tried, key=lambda share: predicted(tried[share]))


def rectangle(region) -> tuple[int, int, int, int]:
    """``region`` as the integers row0, col0, row1, col1, or one sentence on why not."""
    try:
        r0, c0, r1, c1 = (int(v) for v in region)
    except (TypeError, ValueError):
        raise InputError(
            f"the reference region must be four integers row0, col0, row1, col1, got {region!r}"
        ) from None
    return r0, c0, r1, c1


def _in_region(region, clear: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The clear pixels of the rectangle (or boolean mask) ``region``, or one sentence on
    why it cannot serve as the reference."""
    if isinstance(region, np.ndarray) and region.dtype == bool:
        if region.shape != clear.shape:
            raise InputError(
                f"the reference mask is {region.shape}, the image {clear.shape}: they must match"
            )
        if not (region & clear).any():
            raise InputError("the lattice's fringes are clear nowhere in the reference mask")
        return region & clear
    r0, c0, r1, c1 = rectangle(region)
    h, w = clear.shape
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise InputError(
            f"the reference region {r0},{c0},{r1},{c1} is not a rectangle inside the "
            f"{h} x {w} image (row0 < row1 <= {h}, col0 < col1 <= {w})"
        )
    fringe = float(1 / np.linalg.norm(g, axis=1).min())
    if min(r1 - r0, c1 - c0) < 2 * fringe:
        raise InputError(
            f"the reference region {r0},{c0},{r1},{c1} is narrower than two lattice fringes "
            f"({2 * fringe:.0f} px): too small to set the reference lattice"
        )
    inside = np.zeros_like(clear)
    inside[r0:r1, c0:c1] = True
    inside &= clear
    if inside.sum() < 0.1 * (r1 - r0) * (c1 - c0):
        raise InputError(
            f"the lattice's fringes are clear in only {int(inside.sum())} pixels of the "
            f"reference region {r0},{c0},{r1},{c1} (it lies at the image's edge, where no "
            "strain is measured, or off the crystal): choose one further inside"
        )
    return inside


def _components(phi: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
    """exx, eyy, exy (%) and rotation (deg) from the phase gradients against ``g``."""
    measured = -np.einsum("ij,jkhw->ikhw", np.linalg.inv(g), phi) / (2 * np.pi)
    d = _lagrangian(measured)  # D[component, axis]
    return [
        100 * d[1, 1],
        100 * d[0, 0],
        50 * (d[0, 1] + d[1, 0]),
        np.degrees(0.5 * (d[1, 0] - d[0, 1])),
    ]


def _fields(centred: np.ndarray, waves, sigma: float, weight: np.ndarray) -> list[np.ndarray]:
    """The image demodulated by each reflection's plane wave and averaged by a Gaussian
    (normalised at the edges)."""
    out = []
    for wave in waves:
        demodulated = centred * wave
        smooth = ndimage.gaussian_filter(demodulated.real, sigma, mode="constant") + 1j * (
            ndimage.gaussian_filter(demodulated.imag, sigma, mode="constant")
        )
        out.append(smooth / weight)
    return out


def _line_halves(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image from its even scan lines only, and from its odd ones: each line of the
    other half replaced by a cubic interpolation of the four nearest lines of this half
    (-1, 9, 9, -1) / 16.  The two share no line, so no pixel noise and no line jitter."""
    n = data.shape[0]
    out = []
    for keep in (0, 1):
        half = data.copy()
        rows = np.arange(1 - keep, n, 2)

        near = data[_own_line(rows - 1, keep, n)] + data[_own_line(rows + 1, keep, n)]
        far = data[_own_line(rows - 3, keep, n)] + data[_own_line(rows + 3, keep, n)]
        half[rows] = (9 * near - far) / 16
        out.append(half)
    return out[0], out[1]


def _own_line(rows: np.ndarray, parity: int, n: int) -> np.ndarray:
    """``rows`` clipped to the image, each moved to a line of ``parity`` (inward)."""
    rows = np.clip(rows, 0, n - 1)
    inward = np.where(rows < n // 2, 1, -1)
    return np.where(rows % 2 == parity, rows, np.clip(rows + inward, 0, n - 1))


def _combinations(recip: np.ndarray) -> np.ndarray:
    """g1, g2, g1 + g2, g1 - g2, 2 g1, 2 g2 as rows (6, 2): a second sublattice halfway
    along a vector leaves that fundamental weak and its harmonic strong."""
    g1, g2 = recip[0], recip[1]
    return np.array([g1, g2, g1 + g2, g1 - g2, 2 * g1, 2 * g2])


def _strongest_pair(spectrum, fr, fc, recip: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Of g1, g2, g1 + g2, g1 - g2, 2 g1 and 2 g2 (rows of ``recip`` and their sums), the
    two independent ones whose spectral peaks are strongest, as rows (row, col) in cycles
    per pixel, and their indices among them."""
    candidates = _combinations(recip)
    shape = spectrum.shape
    power = []
    for gv in candidates:
        # the strongest bin within one bin of the expected peak
        i, j = np.rint(gv[0] * shape[0]), np.rint(gv[1] * shape[1])
        near = [
            abs(spectrum[int(i + di) % shape[0], int(j + dj) % shape[1]])
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
        ]
        fine = max(abs(gv[0]), abs(gv[1])) < 0.5
        power.append(max(near) if fine else 0.0)
    best = max(
        (
            p
            for p in combinations(range(len(candidates)), 2)
            if abs(np.linalg.det(np.array([candidates[p[0]], candidates[p[1]]]))) > 1e-12
        ),
        key=lambda p: min(power[p[0]], power[p[1]]),
    )
    return candidates[list(best)], list(best)


def _periodic(u: np.ndarray) -> np.ndarray:
    """The periodic component of ``u`` (Moisan's periodic plus smooth decomposition): the
    image less the smooth field that carries the jumps between its opposite edges, so the
    FFT sees no cross of bright lines from the edges, without tapering the image."""
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    rows, cols = u.shape
    q = np.arange(rows)[:, None]
    r = np.arange(cols)[None, :]
    denominator = 2 * np.cos(2 * np.pi * q / rows) + 2 * np.cos(2 * np.pi * r / cols) - 4
    denominator[0, 0] = 1.0
    smooth = np.fft.fft2(v) / denominator
    smooth[0, 0] = 0.0
    return u - np.real(np.fft.ifft2(smooth))


def _lagrangian(measured: np.ndarray) -> np.ndarray:
    """The distortion D of the reference lattice from the one GPA measures, (I + D)^-1 =
    I - measured (GPA reads the gradient in the deformed frame: 3% strain reads as 2.91%
    to first order), for (2, 2, H, W) fields."""
    a, b = 1 - measured[0, 0], -measured[0, 1]
    c, d = -measured[1, 0], 1 - measured[1, 1]
    det = a * d - b * c
    inverse = np.stack([np.stack([d, -b]), np.stack([-c, a])]) / det
    return inverse - np.eye(2)[:, :, None, None]


def _bias(values: np.ndarray, sigma: float) -> np.ndarray:
    """The first-order bias of a Gaussian average of std ``sigma`` on a field that curves:
    ``(sigma^2 / 2) laplacian``, of the field smoothed over half of it (the maps already
    hold the average; what is lost to it is about this much again)."""
    return 0.5 * sigma**2 * ndimage.laplace(ndimage.gaussian_filter(values, 0.5 * sigma))


def _phase_gradient(e: np.ndarray) -> np.ndarray:
    """(2, H, W) gradient (rows, cols) of the phase of the complex field ``e``, in radians per
    pixel, without unwrapping: Im(conj(e) grad e) / |e|^2."""
    grad = np.stack(np.gradient(e))
    return np.imag(np.conj(e) * grad) / np.maximum(np.abs(e) ** 2, 1e-300)
