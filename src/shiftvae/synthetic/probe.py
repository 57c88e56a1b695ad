"""The STEM probe: how one column looks through an aberration-free probe of finite size.

For incoherent (HAADF) imaging the image is the specimen's columns convolved with the probe's
intensity.  An aberration-free probe of convergence semi-angle alpha is an Airy disc,
``(2 J1(v) / v)^2`` with ``v = 2 pi alpha r / lambda`` (first zero at 0.61 lambda / alpha:
72 pm at 200 kV and 21.4 mrad); the finite source blurs it by a Gaussian.  A column's own
spread (thermal vibration, channelling) is a Gaussian too, so one column's spot is the Airy
disc convolved with one Gaussian of the two widths added in quadrature, tabulated once on a
fine grid and interpolated wherever a column lands.
"""

from __future__ import annotations

import numpy as np
from scipy import signal, special
from scipy.interpolate import RegularGridInterpolator

__all__ = ["airy_spot", "wavelength_pm"]

STEP = 0.125  # px, the table's grid
RINGS = 3  # the spot is kept out to this many Airy zeros (the third ring holds 0.3% of the peak)


def wavelength_pm(kv: float) -> float:
    """The relativistic electron wavelength in pm at ``kv`` kilovolts (2.508 pm at 200)."""
    volts = kv * 1e3
    return 1226.39 / np.sqrt(volts * (1 + 0.97845e-6 * volts))


def airy_spot(
    width, convergence_mrad: float, kv: float, source_pm: float, pixel_pm: float
) -> tuple[RegularGridInterpolator, int]:
    """One column's spot through the probe, peak 1, and how far (px) it reaches.

    ``width``: the column's own Gaussian std in px, or a pair (along rows, along columns);
    ``source_pm``: the source's Gaussian std.  The interpolator takes (..., 2) offsets
    (row, col) in px and gives 0 beyond the table.
    """
    wr, wc = np.broadcast_to(np.asarray(width, dtype=float), (2,))
    source = source_pm / pixel_pm
    sr, sc = np.hypot(wr, source), np.hypot(wc, source)
    zero = 0.61 * wavelength_pm(kv) / (convergence_mrad * 1e-3) / pixel_pm  # first zero, px
    reach = int(np.ceil(4 * max(sr, sc) + RINGS * zero)) + 1
    x = np.arange(-reach, reach + STEP / 2, STEP)
    dr, dc = np.meshgrid(x, x, indexing="ij")
    v = np.hypot(dr, dc) * (3.8317 / zero)  # the Airy disc's first zero is at v = 3.8317
    safe = np.where(v > 0, v, 1.0)
    airy = np.where(v > 0, (2 * special.j1(safe) / safe) ** 2, 1.0)
    blur = np.exp(-0.5 * ((dr / sr) ** 2 + (dc / sc) ** 2))
    spot = signal.fftconvolve(airy, blur, mode="same")
    spot /= spot.max()
    return RegularGridInterpolator((x, x), spot, bounds_error=False, fill_value=0.0), reach
