"""Input checks shared by the readers, the API and the command line.

* :func:`check_image` decides whether an array is a usable image (numeric, 2D, not a colour
  image, not empty, finite, within float32, no wrapped-around integers, not constant);
* :func:`check_patches` refuses patch sets that are mostly blank;
* :func:`fill_nan` is the repair offered for missing pixels (``shiftvae fit --fill-nan``).

Every rejected input and its message is listed in ``docs/validation.md``.  File-level
checks (missing, unreadable, unknown or corrupt files) live with the readers in
:mod:`shiftvae.io.readers`, output-folder checks in :mod:`shiftvae.report.outdir`, and the
fit options' rules in :mod:`shiftvae.pipeline.options`.
"""

from __future__ import annotations

import logging

import numpy as np

from shiftvae.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["check_image", "check_patches", "fill_nan"]

FLOAT32_EXACT = 2**24  # integers above this are not all representable in float32
MAX_FLAT_SHARE = 0.5  # refuse patch sets in which at least this share has no contrast
_FLAT = 1e-6  # a patch whose range (data in [0, 1]) is below this has no contrast


def check_image(
    data: np.ndarray,
    source: str,
    allow_nonfinite: bool = False,
    error: type[InputError] = InputError,
) -> np.ndarray:
    """Return ``data`` as a float32 C-contiguous 2D image, or raise ``error``.

    Parameters
    ----------
    data : array-like
        The pixels.
    source : str
        What to call the image in messages (usually its file name).
    allow_nonfinite : bool
        Accept NaN/Inf pixels (to be repaired with :func:`fill_nan`).
    error : subclass of InputError
        Exception type raised (the readers use :class:`~shiftvae.errors.ReaderError`).

    Raises
    ------
    InputError
        Not numeric, not 2D, empty, NaN/Inf pixels (unless allowed), or constant.

    Examples
    --------
    >>> check_image(np.eye(3, dtype=int), "eye").dtype
    dtype('float32')
    """
    arr = np.asarray(data)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise error(f"{source} does not hold numeric pixel values (dtype {arr.dtype})")
    if np.iscomplexobj(arr):
        raise error(f"{source} holds complex values: take the modulus or the phase first")
    if colour_channels(arr.shape):
        raise error(
            f"{source} holds a colour image of {arr.shape[0]} x {arr.shape[1]} px with "
            f"{arr.shape[2]} channels (RGB{'A' if arr.shape[2] == 4 else ''}): convert it to "
            "grey or take one channel"
        )
    if arr.ndim != 2:
        kind = f"a {arr.ndim}D array" if arr.ndim else "a single number"
        raise error(f"{source} holds {kind} of shape {arr.shape}, not a 2D image")
    if arr.size == 0:
        raise error(f"{source} holds an empty image (shape {arr.shape})")
    arr = _as_float32(arr, source, error)
    finite = np.isfinite(arr)
    bad = int(arr.size - np.count_nonzero(finite))
    if bad and not allow_nonfinite:
        raise error(
            f"{source} has {bad} NaN or infinite pixels out of {arr.size}; replace them by the "
            "median with --fill-nan (fill_nan() in Python) or crop them away"
        )
    values = arr[finite] if bad else arr
    if values.size and float(values.min()) == float(values.max()):
        raise error(
            f"{source} is a constant image (every pixel is {float(values.flat[0]):.6g}): "
            "it holds no pattern to learn"
        )
    return arr


def colour_channels(shape: tuple[int, ...]) -> int:
    """3 or 4 when ``shape`` looks like (rows, cols, RGB[A]) colour pixels, else 0."""
    if len(shape) == 3 and shape[2] in (3, 4) and min(shape[:2]) > shape[2]:
        return int(shape[2])
    return 0


def _as_float32(arr: np.ndarray, source: str, error: type[InputError]) -> np.ndarray:
    """``arr`` as float32 without silent damage: wrapped integers and float overflow refused.

    Unsigned data of 32 or 64 bits where a minority of pixels sits in the top half of the
    range is what negative values look like after they wrapped around (e.g. a background
    subtraction stored as uint32): -1 becomes 4294967295.  Integers beyond 2^24 lose their
    last digits in float32, so such data are offset by their minimum first (the scale to
    [0, 1] that follows makes the offset irrelevant).
    """
    if arr.dtype.kind == "u" and arr.dtype.itemsize >= 4:
        half = 2 ** (8 * arr.dtype.itemsize - 1)
        high = int(np.count_nonzero(arr >= half))
        if 0 < high < arr.size / 2:
            raise error(
                f"{high} of the {arr.size} pixels of {source} ({arr.dtype}) are {half} or more "
                f"while the others are below: negative values that wrapped around (integer "
                f"overflow)? Save the data as signed integers or floats"
            )
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if max(abs(lo), abs(hi)) > FLOAT32_EXACT:
            log.info("%s: integer values up to %d offset by %d to keep them exact", source, hi, lo)
            shifted = arr.astype(np.float64)
            shifted -= lo
            return np.ascontiguousarray(shifted, dtype=np.float32)
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 4:
        finite = arr[np.isfinite(arr)]
        biggest = float(np.abs(finite).max()) if finite.size else 0.0
        if biggest > float(np.finfo(np.float32).max):
            raise error(
                f"{source} has values up to {biggest:.3g}, beyond the float32 range "
                f"({np.finfo(np.float32).max:.3g}): divide them by a common scale first"
            )
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_patches(data: np.ndarray, source: str = "the image") -> None:
    """Refuse patches (N, h, w) in [0, 1] of which at least half have no contrast at all.

    Blank patches (zero padding around a rotated or stitched image, a masked detector area,
    saturated regions) would teach the model nothing but "flat": refused when they are the
    majority, logged as a warning otherwise.

    Examples
    --------
    >>> check_patches(np.random.default_rng(0).random((4, 8, 8)))  # contrast: accepted
    """
    n = len(data)
    if n == 0:
        return
    span = data.max(axis=(1, 2)) - data.min(axis=(1, 2))
    flat = int(np.count_nonzero(span <= _FLAT))
    share = flat / n
    if share >= MAX_FLAT_SHARE:
        raise InputError(
            f"{flat} of the {n} patches of {source} ({share:.0%}) have no contrast at all "
            "(all zero or constant: padding, a blank or saturated region?); crop the image to "
            "the region with data"
        )
    if flat:
        log.warning("%d of the %d patches (%.0f%%) have no contrast at all", flat, n, 100 * share)


def fill_nan(data: np.ndarray) -> np.ndarray:
    """Replace NaN and infinite pixels by the median of the finite ones.

    Parameters
    ----------
    data : ndarray
        Image (any shape); not modified.

    Returns
    -------
    ndarray, float32
        A copy with every non-finite value replaced.

    Raises
    ------
    InputError
        When no pixel is finite (there is nothing to take a median of).

    Examples
    --------
    >>> fill_nan(np.array([[1.0, np.nan], [3.0, np.inf]]))
    array([[1., 2.],
           [3., 2.]], dtype=float32)
    """
    out = np.array(data, dtype=np.float32, order="C")
    finite = np.isfinite(out)
    bad = int(out.size - np.count_nonzero(finite))
    if bad == 0:
        return out
    if bad == out.size:
        raise InputError(
            f"every one of the {out.size} pixels is NaN or infinite: nothing to fill them from"
        )
    median = np.median(out[finite])
    out[~finite] = median
    log.info("replaced %d NaN/infinite pixels by the median %.6g", bad, median)
    return out
