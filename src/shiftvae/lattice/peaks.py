"""Sub-pixel positions of local maxima: the one step shared by the lattice estimate (Fourier
peaks) and the patch centres (atom columns)."""

from __future__ import annotations

import numpy as np

__all__ = ["refine_maxima"]


def refine_maxima(smooth: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Sub-pixel (row, col) of local maxima by a least-squares quadratic on their 3 x 3.

    Parameters
    ----------
    smooth : ndarray (rows, cols)
        A smooth image (e.g. Gaussian-filtered).
    pixels : ndarray (N, 2) of int
        Maxima, at least one pixel away from the border.

    Returns
    -------
    ndarray (N, 2), float64
        Positions, each within one pixel of its input (offsets clipped to +-1; a pixel whose
        quadratic has no maximum stays where it is).

    Examples
    --------
    >>> r, c = np.mgrid[0:9, 0:9]
    >>> img = np.exp(-((r - 4.3) ** 2 + (c - 3.8) ** 2) / 8)
    >>> refine_maxima(img, np.array([[4, 4]])).round(1).tolist()
    [[4.3, 3.8]]
    """
    pixels = np.asarray(pixels, dtype=np.intp).reshape(-1, 2)
    d = np.arange(-1, 2)
    z = smooth[pixels[:, 0, None, None] + d[:, None], pixels[:, 1, None, None] + d[None, :]]
    # least-squares z = c + g . x + x' H x / 2 on the 3 x 3 neighbourhood
    g_row = (z[:, 2, :].sum(1) - z[:, 0, :].sum(1)) / 6
    g_col = (z[:, :, 2].sum(1) - z[:, :, 0].sum(1)) / 6
    h_rr = (z[:, 0, :].sum(1) + z[:, 2, :].sum(1) - 2 * z[:, 1, :].sum(1)) / 3
    h_cc = (z[:, :, 0].sum(1) + z[:, :, 2].sum(1) - 2 * z[:, :, 1].sum(1)) / 3
    h_rc = (z[:, 2, 2] - z[:, 2, 0] - z[:, 0, 2] + z[:, 0, 0]) / 4
    det = h_rr * h_cc - h_rc**2
    peak = (h_rr < 0) & (det > 0)  # a true maximum of the quadratic
    safe = np.where(peak, det, 1.0)
    off_row = np.where(peak, (-h_cc * g_row + h_rc * g_col) / safe, 0.0)
    off_col = np.where(peak, (h_rc * g_row - h_rr * g_col) / safe, 0.0)
    return pixels + np.clip(np.stack([off_row, off_col], axis=1), -1.0, 1.0)
