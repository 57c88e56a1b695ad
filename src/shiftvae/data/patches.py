"""Cut an image into square patches on a regular grid (the paper's feature set).

The grid knows nothing about atom positions: patches of ``window`` pixels are taken every
``step`` pixels, and the grid is centred in the image (the leftover border is split evenly,
the extra pixel of an odd leftover going to the bottom / right).  Patch ``i`` sits at grid cell
``divmod(i, cols)``; its centre is ``top_left + (window - 1) / 2`` in (row, col) pixels.

Intensities are brought to [0, 1] (the Bernoulli likelihood needs it):

* ``normalize="image"``: clip the whole image to the ``clip_percentiles`` and scale globally;
* ``normalize="patch"``: clip the whole image likewise, then min-max scale each patch on its
  own (the paper needed this for graphene STM); a flat patch (range below 1e-6 of the image
  range) becomes a uniform 0.5, the value that carries no contrast either way;
* ``normalize=None``: the image must already lie in [0, 1].

Patches are read through :func:`numpy.lib.stride_tricks.sliding_window_view`, so only the
selected grid is ever copied; :func:`iter_patch_batches` copies one batch at a time for images
whose patches do not fit in memory.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy import ndimage

from shiftvae.errors import InputError
from shiftvae.io.validate import check_image
from shiftvae.types import Image, Patches

__all__ = [
    "PatchGrid",
    "estimate_period",
    "extract_patches",
    "iter_patch_batches",
    "patch_grid",
]

logger = logging.getLogger(__name__)

Normalize = Literal["image", "patch"]

MIN_WINDOW = 8  # smallest window chosen automatically, in pixels
WINDOW_PERIODS = 2.5  # automatic window = 2.5 lattice periods (the paper: 2-3 unit cells)
CLIP_PERCENTILES = (0.1, 99.9)  # default intensity clipping before scaling to [0, 1]
_FLAT_PATCH = 1e-6  # a patch whose range is below this (image scaled to [0, 1]) is flat
_BY_HAND = "; give the window by hand (window= in Python, --window on the command line)"


@dataclass(frozen=True)
class PatchGrid:
    """Where the patches of an image lie.

    Attributes
    ----------
    origin : (row, col)
        Top-left pixel of the first patch.
    shape : (rows, cols)
        Number of patches along each axis.
    window, step : int
        Patch side and grid step in pixels.
    """

    origin: tuple[int, int]
    shape: tuple[int, int]
    window: int
    step: int

    def __len__(self) -> int:
        return self.shape[0] * self.shape[1]

    def centers(self) -> np.ndarray:
        """Patch centres (N, 2), float64 (row, col) pixels, in patch order."""
        half = (self.window - 1) / 2
        rows = self.origin[0] + self.step * np.arange(self.shape[0]) + half
        cols = self.origin[1] + self.step * np.arange(self.shape[1]) + half
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        return np.stack([rr.ravel(), cc.ravel()], axis=1)


def _as_image_array(image: Image | np.ndarray) -> tuple[np.ndarray, float | None, str]:
    """Validated image data as float32 (rows, cols), with its pixel size and unit."""
    pixel_size, unit = None, "px"
    if isinstance(image, Image):
        image, pixel_size, unit = image.data, image.pixel_size, image.unit
    if hasattr(image, "detach"):  # a torch tensor
        image = image.detach().cpu().numpy()
    return check_image(image, "the image"), pixel_size, unit  # the one image check


def _positive_int(value: Any, name: str) -> int:
    """``value`` as a positive int, or an InputError naming it."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a positive integer number of pixels, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise InputError(
            f"{name} must be a positive integer number of pixels, got {value!r}"
        ) from None
    if out <= 0:
        raise InputError(f"{name} must be a positive integer number of pixels, got {out}")
    return int(out)


def patch_grid(image_shape: tuple[int, int], window: int, step: int | None = None) -> PatchGrid:
    """The centred square grid of ``window``-pixel patches every ``step`` pixels.

    Parameters
    ----------
    image_shape : (rows, cols)
        Shape of the image.
    window : int
        Patch side in pixels.
    step : int, optional
        Grid step in pixels (default ``window // 2``; larger than ``window`` is allowed).

    Returns
    -------
    PatchGrid

    Examples
    --------
    >>> g = patch_grid((100, 80), window=32, step=16)
    >>> g.shape, g.origin
    ((5, 4), (2, 0))
    """
    window = _positive_int(window, "window")
    step = max(1, window // 2) if step is None else _positive_int(step, "step")
    height, width = (int(s) for s in image_shape)
    if window > height or window > width:
        raise InputError(
            f"image of {height} x {width} px is smaller than the window of {window} px"
        )
    rows = (height - window) // step + 1
    cols = (width - window) // step + 1
    top = (height - window - (rows - 1) * step) // 2
    left = (width - window - (cols - 1) * step) // 2
    return PatchGrid(origin=(top, left), shape=(rows, cols), window=window, step=step)


def scale_image(
    data: np.ndarray, normalize: Normalize | None, clip_percentiles: tuple[float, float]
) -> np.ndarray:
    """The image as float32 in [0, 1] (a new array), clipped and scaled as asked."""
    if normalize is None:
        lo, hi = float(data.min()), float(data.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise InputError(
                f"normalize=None needs an image in [0, 1], but its values span [{lo:.4g}, "
                f"{hi:.4g}]; use normalize='image' (or 'patch'), or scale it with "
                "(x - x.min()) / (x.max() - x.min())"
            )
        return np.clip(data, 0.0, 1.0, dtype=np.float32)
    if normalize not in ("image", "patch"):
        raise InputError(f"normalize must be 'image', 'patch' or None, got {normalize!r}")
    try:
        p_lo, p_hi = (float(p) for p in clip_percentiles)
    except (TypeError, ValueError):
        raise InputError(
            f"clip_percentiles must be two numbers (low, high), got {clip_percentiles!r}"
        ) from None
    if not 0 <= p_lo < p_hi <= 100:
        raise InputError(
            f"clip_percentiles must satisfy 0 <= low < high <= 100, got {clip_percentiles!r}"
        )
    lo, hi = (float(v) for v in np.percentile(data, [p_lo, p_hi]))
    if hi <= lo:  # mostly-flat image: the percentiles coincide, fall back to the full range
        logger.info("clip percentiles %s coincide; scaling by the full range", clip_percentiles)
        lo, hi = float(data.min()), float(data.max())
    out = np.clip(data, lo, hi, dtype=np.float32)
    out -= np.float32(lo)
    out /= np.float32(hi - lo)
    return np.clip(out, 0.0, 1.0, out=out)


def minmax_patches(batch: np.ndarray) -> np.ndarray:
    """Scale each patch of ``batch`` (B, h, w) to [0, 1] in place; flat patches become 0.5."""
    lo = batch.min(axis=(1, 2), keepdims=True)
    span = batch.max(axis=(1, 2), keepdims=True) - lo
    flat = span <= _FLAT_PATCH
    batch -= lo
    batch /= np.where(flat, np.float32(1), span)
    batch[flat[:, 0, 0]] = 0.5
    return np.clip(batch, 0.0, 1.0, out=batch)


def _choose_window(data: np.ndarray) -> int:
    """Automatic window: about 2.5 lattice periods, even, within [8, smallest side]."""
    side = min(data.shape)
    if side < MIN_WINDOW:
        raise InputError(
            f"image of {data.shape[0]} x {data.shape[1]} px is smaller than the smallest "
            f"automatic window of {MIN_WINDOW} px"
        )
    try:
        period = estimate_period(data)
    except InputError as exc:
        raise InputError(f"cannot choose the window automatically: {exc}") from exc
    window = min(max(2 * round(WINDOW_PERIODS * period / 2), MIN_WINDOW), side)
    logger.info("lattice period %.2f px: window of %d px chosen", period, window)
    return window


def _prepare(image, window, step, normalize, clip_percentiles):
    """Validated image, grid and the sliding-window view (rows, cols, h, w) of the grid."""
    data, pixel_size, unit = _as_image_array(image)
    window = _choose_window(data) if window is None else _positive_int(window, "window")
    grid = patch_grid(data.shape, window, step)
    scaled = scale_image(data, normalize, clip_percentiles)
    (top, left), (rows, cols), s = grid.origin, grid.shape, grid.step
    view = sliding_window_view(scaled, (window, window))[top::s, left::s][:rows, :cols]
    return data.shape, grid, view, pixel_size, unit


def extract_patches(
    image: Image | np.ndarray,
    window: int | None = None,
    step: int | None = None,
    normalize: Normalize | None = "image",
    clip_percentiles: tuple[float, float] = (0.1, 99.9),
) -> Patches:
    """Square patches of ``image`` on a centred regular grid, scaled to [0, 1].

    Parameters
    ----------
    image : Image or ndarray (rows, cols)
        The image (finite, not constant).  A plain array is taken as uncalibrated.
    window : int, optional
        Patch side in pixels.  Default: ``2.5 * estimate_period(image)`` rounded to an even
        number and kept within [8, smallest image side] (logged at INFO level).
    step : int, optional
        Grid step in pixels, default ``window // 2``.
    normalize : {"image", "patch", None}
        Intensity scaling (see the module docstring): global after percentile clipping,
        per patch after percentile clipping, or none (the image must be in [0, 1]).
    clip_percentiles : (low, high)
        Percentiles of the image to clip to before scaling (outlier pixels, hot spots).

    Returns
    -------
    Patches
        ``data`` (N, window, window) float32 in [0, 1], ``centers`` (N, 2), ``grid_shape``,
        and the window, step, image shape, calibration and normalisation used.

    Raises
    ------
    InputError
        Image not 2D, non-finite, constant or smaller than the window; window or step not a
        positive integer; no detectable lattice when ``window`` is None.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = extract_patches(rng.random((100, 80)), window=32, step=16)
    >>> p.data.shape, p.grid_shape
    ((20, 32, 32), (5, 4))
    """
    shape, grid, view, pixel_size, unit = _prepare(image, window, step, normalize, clip_percentiles)
    rows, cols = grid.shape
    out = np.empty((rows * cols, grid.window, grid.window), np.float32)
    out.reshape(rows, cols, grid.window, grid.window)[...] = view  # the only copy
    if normalize == "patch":
        minmax_patches(out)
    return Patches(
        data=out,
        centers=grid.centers(),
        grid_shape=grid.shape,
        window=grid.window,
        step=grid.step,
        image_shape=(int(shape[0]), int(shape[1])),
        pixel_size=pixel_size,
        unit=unit,
        normalize=normalize,
    )


def iter_patch_batches(
    image: Image | np.ndarray,
    window: int,
    step: int | None = None,
    batch_size: int = 4096,
    normalize: Normalize | None = "image",
    clip_percentiles: tuple[float, float] = (0.1, 99.9),
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield the patches of :func:`extract_patches` in batches, without holding them all.

    Memory is one scaled copy of the image plus one batch, whatever the number of patches
    (a 4096 x 4096 image with ``window=32, step=8`` has about 260,000 patches, 1 GiB).
    Inputs are checked when this function is called, not at the first batch.

    Parameters
    ----------
    image, window, step, normalize, clip_percentiles
        As in :func:`extract_patches`.
    batch_size : int
        Patches per batch (the last batch may be smaller).

    Yields
    ------
    start : int
        Index of the batch's first patch in the patch order of :func:`extract_patches`.
    batch : ndarray (B, window, window), float32 in [0, 1]

    Examples
    --------
    >>> img = np.random.default_rng(0).random((64, 64))
    >>> [(start, b.shape) for start, b in iter_patch_batches(img, 32, 16, batch_size=4)]
    [(0, (4, 32, 32)), (4, (4, 32, 32)), (8, (1, 32, 32))]
    """
    batch_size = _positive_int(batch_size, "batch_size")
    _, grid, view, _, _ = _prepare(image, window, step, normalize, clip_percentiles)
    return _batches(view, grid.shape[1], len(grid), batch_size, normalize == "patch")


def _batches(
    view: np.ndarray, cols: int, total: int, batch_size: int, per_patch: bool
) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, total, batch_size):
        rows_idx, cols_idx = np.divmod(np.arange(start, min(start + batch_size, total)), cols)
        batch = view[rows_idx, cols_idx]  # fancy indexing copies just this batch
        if per_patch:
            minmax_patches(batch)
        yield start, batch


# --- lattice period -------------------------------------------------------------------------

MAX_PERIOD_FFT_SIDE = 2048  # larger images: the period is estimated on a central crop
_MIN_CYCLES = 4  # a lattice needs >= 4 periods across the (cropped) image's smaller side
_MAX_FREQUENCY = 0.25  # and >= 4 px per period: faster "lattices" are scan noise


def estimate_period(image: Image | np.ndarray) -> float:
    """The lattice period in pixels: the wavelength of the strongest Fourier peak.

    Method: subtract the mean, apply a 2D Hann window (no edge leakage), take the power
    spectrum |FFT|^2 and find its strongest local maximum among spatial frequencies f with
    ``4 / min(rows, cols) <= |f| <= 0.25`` cycles/px (at least 4 periods across the image, so
    DC leakage and slow background are out; at least 4 px per period, so scan-line and pixel
    noise are out).  The peak position is refined by a parabola through the log power of its
    neighbours along each axis, and the period is 1 / |f|.  Images larger than
    2048 px per side are analysed on their central 2048 x 2048 crop.

    The period is that of the strongest lattice planes; for a centred motif (e.g. the
    perovskite B site) this can be a fraction (1/sqrt(2)) of the unit-cell edge.

    There is no fallback value: when the peak is not significant, that is at most
    ``2 * log2(M)`` times the median power of frequencies of the same magnitude (M = number of
    searched frequencies; pure noise reaches that level with probability about 1/M), an
    :class:`InputError` is raised and the caller should choose the window by hand.

    Parameters
    ----------
    image : Image or ndarray (rows, cols)
        At least 16 px per side, finite, not constant.

    Returns
    -------
    float
        Period in pixels of ``image``.

    Examples
    --------
    >>> r, c = np.mgrid[0:128, 0:128]
    >>> img = np.cos(2 * np.pi * r / 12) + np.cos(2 * np.pi * c / 12)
    >>> round(estimate_period(img), 1)
    12.0
    """
    data, _, _ = _as_image_array(image)
    smallest = 4 * _MIN_CYCLES
    if min(data.shape) < smallest:
        raise InputError(
            f"image of {data.shape[0]} x {data.shape[1]} px is too small to estimate a "
            f"lattice period (needs at least {smallest} px per side){_BY_HAND}"
        )
    power, radius, region = _power_spectrum(_central_crop(data, MAX_PERIOD_FFT_SIDE))
    peaks = region & (ndimage.maximum_filter(power, size=3, mode="wrap") == power)
    peaks &= power > 0
    if not peaks.any():
        raise InputError(
            f"the image has no Fourier peak between 4 and 1/4 cycles per pixel{_BY_HAND}"
        )
    peak = np.unravel_index(np.argmax(np.where(peaks, power, -1.0)), power.shape)
    side = min(power.shape)
    shell = region & (np.abs(radius - radius[peak]) <= 2 / side)
    contrast = float(power[peak] / max(np.median(power[shell]), np.finfo(float).tiny))
    threshold = 2 * np.log2(max(int(region.sum()), 2))
    if contrast <= threshold:
        raise InputError(
            f"no clear lattice periodicity: the strongest Fourier peak (period "
            f"{1 / radius[peak]:.3g} px) is only {contrast:.3g} times the median power at "
            f"that frequency (needs > {threshold:.3g}){_BY_HAND}"
        )
    return float(1.0 / _refined_frequency(power, peak))


def _central_crop(data: np.ndarray, size: int) -> np.ndarray:
    top = max(0, (data.shape[0] - size) // 2)
    left = max(0, (data.shape[1] - size) // 2)
    return data[top : top + size, left : left + size]


def _power_spectrum(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hann-windowed power (float64), |f| in cycles/px, and the searched region."""
    rows, cols = data.shape
    x = data - np.float32(data.mean(dtype=np.float64))
    x *= np.outer(np.hanning(rows), np.hanning(cols)).astype(np.float32)
    power = np.abs(sp_fft.fft2(x)).astype(np.float64) ** 2
    radius = np.hypot(np.fft.fftfreq(rows)[:, None], np.fft.fftfreq(cols)[None, :])
    region = (radius >= _MIN_CYCLES / min(rows, cols)) & (radius <= _MAX_FREQUENCY)
    return power, radius, region


def _refined_frequency(power: np.ndarray, peak: tuple[int, int]) -> float:
    """|f| of the peak, refined by a parabola through the log power along each axis."""
    rows, cols = power.shape
    i, j = (int(v) for v in peak)

    def offset(before: float, centre: float, after: float) -> float:
        lb, lc, la = np.log([max(v, np.finfo(float).tiny) for v in (before, centre, after)])
        curvature = lb - 2 * lc + la
        return 0.0 if curvature >= 0 else float(np.clip(0.5 * (lb - la) / curvature, -0.5, 0.5))

    di = offset(power[(i - 1) % rows, j], power[i, j], power[(i + 1) % rows, j])
    dj = offset(power[i, (j - 1) % cols], power[i, j], power[i, (j + 1) % cols])
    f_row = np.fft.fftfreq(rows)[i] + di / rows
    f_col = np.fft.fftfreq(cols)[j] + dj / cols
    return float(np.hypot(f_row, f_col))
