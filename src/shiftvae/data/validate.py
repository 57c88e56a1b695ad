"""Checks on a single image, shared by the file readers and the command line.

:func:`check_image` is the one place that decides whether an array is a usable image (2D,
numeric, not empty, finite, not constant); :func:`fill_nan` is the repair offered for
missing pixels (``shiftvae fit --fill-nan``).
"""

from __future__ import annotations

import logging

import numpy as np

from shiftvae.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["check_image", "fill_nan"]


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
    if arr.ndim != 2:
        kind = f"a {arr.ndim}D array" if arr.ndim else "a single number"
        raise error(f"{source} holds {kind} of shape {arr.shape}, not a 2D image")
    if arr.size == 0:
        raise error(f"{source} holds an empty image (shape {arr.shape})")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
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
