"""What each conventional latent means in physical units.

Each latent is moved over the range the image's cells take (5th to 95th percentile of the
encoded means; the other latents at their medians), the motif is decoded at every step, and
the same columns are found on the decoded motif as on the image
(:mod:`shiftvae.analysis.columns`): each sublattice's displacement against sublattice 0 and
its brightness against sublattice 0's.  A straight line through the steps gives the change per
unit of the latent; times the range, the change over the image.  For example, "z1: sublattice
1 moves 48 pm along x over the image's range; its brightness changes -2%".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from shiftvae.analysis.columns import (
    Columns,
    find_columns,
    gaussian_vertex,
    nan_median,
    to_picometres,
)
from shiftvae.errors import InputError
from shiftvae.lattice.estimate import Lattice

__all__ = ["describe_meanings", "latent_meanings"]

STEPS = 7


def latent_meanings(model, encoding, image, binning: int = 1, steps: int = STEPS) -> list[dict]:
    """One entry per conventional latent: its range over the image and, per sublattice
    beyond the first, the displacement against sublattice 0 (row, col; pm where the image is
    calibrated, else px) and the brightness (% of sublattice 0) it changes, per unit and
    over the range.  Empty without a lattice in the model, or where the decoded motif shows
    fewer than two sublattices."""
    cell = getattr(model.config, "lattice", None)
    z = np.asarray(encoding.z_mean, dtype=np.float64)
    if cell is None or z.ndim != 2 or not z.size or len(model.data_shape) != 2:
        return []
    base = np.median(z, axis=0)
    patch = model.decode(base[None])[0].astype(np.float64)
    try:
        reference = find_columns(patch, Lattice(np.asarray(cell, float), _origin(patch, cell)))
    except InputError:
        return []
    if len(reference.sites) < 2:
        return []
    out = []
    for d in range(z.shape[1]):
        lo, hi = np.percentile(z[:, d], [5, 95])
        values = np.linspace(lo, hi, steps)
        grid = np.tile(base, (steps, 1))
        grid[:, d] = values
        decoded = model.decode(grid).astype(np.float64)
        entry: dict = {"latent": f"z{d + 1}", "range": [round(float(lo), 3), round(float(hi), 3)]}
        for site in range(1, len(reference.sites)):
            moved, bright = _measure(decoded, reference, site)
            moved_unit, unit = to_picometres(moved * binning, image)
            slope = [_slope(values, moved_unit[:, k]) for k in range(2)]
            span = float(hi - lo)
            per_unit = _slope(values, 100 * bright)
            entry[f"site{site}"] = {
                "displacement_per_unit": [round(s, 3) for s in slope],
                "displacement_over_range": [round(s * span, 3) for s in slope],
                "unit": unit,
                "brightness_percent_per_unit": round(per_unit, 3),
                "brightness_percent_over_range": round(per_unit * span, 3),
            }
        out.append(entry)
    return out


def describe_meanings(meanings: list[dict]) -> list[str]:
    """One sentence per latent, e.g. "z1: sublattice 1 moves 48.0 pm along x and 0.4 pm
    along y over the image's range of z1 (-1.2 to 1.1); its brightness changes -2.0%"."""
    lines = []
    for entry in meanings:
        name, (lo, hi) = entry["latent"], entry["range"]
        parts = []
        for key in sorted(k for k in entry if k.startswith("site")):
            m = entry[key]
            dy, dx = m["displacement_over_range"]
            parts.append(
                f"sublattice {key[4:]} moves {dx:+.1f} {m['unit']} along x and {dy:+.1f} along "
                f"y; its brightness changes {m['brightness_percent_over_range']:+.1f}%"
            )
        lines.append(f"{name} over the image's range ({lo:.2f} to {hi:.2f}): " + "; ".join(parts))
    return lines


def _origin(patch: np.ndarray, cell) -> np.ndarray:
    """A column of the decoded patch: its brightest point within a cell of the centre."""
    smooth = ndimage.gaussian_filter(patch, 1.0)
    reach = int(np.ceil(np.abs(np.asarray(cell, float)).max()))
    h, w = smooth.shape
    r0, c0 = h // 2, w // 2
    part = smooth[max(0, r0 - reach) : r0 + reach + 1, max(0, c0 - reach) : c0 + reach + 1]
    r, c = np.unravel_index(np.argmax(part), part.shape)
    return np.array([r + max(0, r0 - reach), c + max(0, c0 - reach)], dtype=np.float64)


def _measure(decoded: np.ndarray, reference: Columns, site: int):
    """(steps, 2) median displacement of ``site`` against sublattice 0, from where each sat
    in the reference motif, and (steps,) its median brightness over sublattice 0's (above
    the patch's floor), in each decoded patch.  Measured against the reference motif, not
    a cage: a decoded patch may hold no complete cage of four columns."""
    inside = reference.peaks[..., 0] >= 0
    moved, bright = [], []
    for patch in decoded:
        smooth = ndimage.gaussian_filter(patch, reference.smoothing)
        positions = np.full(reference.positions.shape, np.nan)
        positions[inside] = gaussian_vertex(smooth, reference.peaks[inside], reference.half)
        change = (positions - reference.positions).reshape(-1, *reference.positions.shape[2:])
        frame = nan_median(change[:, 0])  # how sublattice 0 moved, as a whole
        own = change[:, site]
        ok = np.isfinite(own).all(1)
        moved.append(np.median(own[ok], axis=0) - frame if ok.any() else [np.nan, np.nan])
        floor = float(np.percentile(smooth, 5))
        peak = reference.peaks
        height = np.full(reference.heights.shape, np.nan)
        height[inside] = smooth[peak[inside][:, 0], peak[inside][:, 1]] - floor
        ratio = nan_median(height[:, :, site].ravel()) / max(
            nan_median(height[:, :, 0].ravel()), 1e-12
        )
        bright.append(ratio)
    return np.asarray(moved, dtype=np.float64), np.asarray(bright, dtype=np.float64)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return float("nan")
    return float(np.polyfit(x[ok], y[ok], 1)[0])
