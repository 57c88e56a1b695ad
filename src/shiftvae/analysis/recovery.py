"""How well latents recover known factors: shift regression, collapse, correlations."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ShiftRecovery:
    """Linear fit ``encoded = slope * true + intercept`` and its coefficient of determination."""

    slope: float
    intercept: float
    r2: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def shift_recovery(encoded: np.ndarray, true: np.ndarray) -> ShiftRecovery:
    """Regress an encoded shift on the true one (both 1D arrays, same units).

    Examples
    --------
    >>> shift_recovery(np.array([0.0, 1.1, 1.9]), np.array([0.0, 1.0, 2.0])).slope
    0.95
    """
    x = np.asarray(true, float).ravel()
    y = np.asarray(encoded, float).ravel()
    slope, intercept = np.polyfit(x, y, 1)
    r = np.corrcoef(x, y)[0, 1]
    return ShiftRecovery(float(slope), float(intercept), float(r * r))


def latent_spread(z_mean: np.ndarray) -> np.ndarray:
    """Standard deviation of each latent's means: below ~0.1 the latent has collapsed."""
    return np.asarray(z_mean, float).std(axis=0)


def factor_correlations(z_mean: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Pearson r between each latent and a factor (NaN for a constant latent)."""
    z = np.asarray(z_mean, float)
    f = np.asarray(factor, float)
    out = np.full(z.shape[1], np.nan)
    for j in range(z.shape[1]):
        if z[:, j].std() > 0 and f.std() > 0:
            out[j] = np.corrcoef(z[:, j], f)[0, 1]
    return out


def collapse_summary(z_mean: np.ndarray, threshold: float = 0.1) -> dict[str, object]:
    """Spread of each conventional latent and how many collapsed (std of means < threshold)."""
    spread = latent_spread(z_mean)
    return {
        "std": spread.tolist(),
        "collapsed": int((spread < threshold).sum()),
        "threshold": threshold,
    }
