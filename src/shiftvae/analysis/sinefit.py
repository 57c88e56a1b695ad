"""Sine fits of decoded signals: the paper's Fig. 3 maps of fitted shift, period and amplitude.

Every signal is fitted with

    y(x) = delta * sin((x - mu) / sigma) + c

in two stages.  First, for a dense grid of trial frequencies w = 1 / sigma spanning the
frequencies that the samples can represent (from a quarter period over the window to
Nyquist), the model is linear in (a, b, c) with ``y = a sin(w x) + b cos(w x) + c``; all
signals are solved at once by least squares, which is the exact (non-tapered) periodogram
and gives robust starting values even for signals that span barely one period.  The best
trial is then polished per signal with :func:`scipy.optimize.curve_fit` (Levenberg-Marquardt).

Conventions: ``delta >= 0`` and ``mu`` in [-pi sigma, pi sigma), so the parameters are
unique (the sine is periodic in mu with period 2 pi sigma).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from shiftvae.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class SineFit:
    """Fitted parameters of ``y = delta * sin((x - mu) / sigma) + c``, one per signal.

    Every attribute has the leading shape of the signals passed to :func:`fit_sines`
    (e.g. ``(n, n)`` for a decoded latent grid).

    Attributes
    ----------
    mu : ndarray
        Fitted shift, in units of ``x``, wrapped into [-pi sigma, pi sigma).
    sigma : ndarray
        Fitted period parameter (the period is 2 pi sigma), units of ``x``.
    delta : ndarray
        Fitted amplitude (>= 0).
    offset : ndarray
        Fitted constant ``c``.
    r2 : ndarray
        Coefficient of determination of the fit (NaN for a constant signal).
    """

    mu: np.ndarray
    sigma: np.ndarray
    delta: np.ndarray
    offset: np.ndarray
    r2: np.ndarray

    def as_maps(self) -> dict[str, np.ndarray]:
        """The parameters as a name -> array dict (for plotting and JSON)."""
        return {
            "mu": self.mu,
            "sigma": self.sigma,
            "delta": self.delta,
            "offset": self.offset,
            "r2": self.r2,
        }


def sine_model(x: np.ndarray, mu: float, sigma: float, delta: float, c: float) -> np.ndarray:
    """``delta * sin((x - mu) / sigma) + c`` (the fitted function).

    Examples
    --------
    >>> float(sine_model(np.array([0.0]), 0.0, 1.0, 2.0, 0.5)[0])
    0.5
    """
    return delta * np.sin((x - mu) / sigma) + c


def trial_frequencies(x: np.ndarray, n: int = 400) -> np.ndarray:
    """Angular frequencies w = 1/sigma tried in the linear scan (geometric spacing).

    From a quarter of a period over the span of ``x`` up to 0.95 of the Nyquist frequency.
    """
    span = float(x.max() - x.min())
    dx = span / (len(x) - 1)
    return np.geomspace(np.pi / (2 * span), 0.95 * np.pi / dx, n)


def _linear_scan(x: np.ndarray, Y: np.ndarray, omegas: np.ndarray) -> tuple[np.ndarray, ...]:
    """Best (w, a, b, c) per row of ``Y`` (M, L) over the trial frequencies."""
    best_sse = np.full(len(Y), np.inf)
    best = np.zeros((len(Y), 4))
    for w in omegas:
        A = np.column_stack([np.sin(w * x), np.cos(w * x), np.ones_like(x)])  # (L, 3)
        coef, *_ = np.linalg.lstsq(A, Y.T, rcond=None)  # (3, M)
        sse = ((Y - (A @ coef).T) ** 2).sum(axis=1)
        better = sse < best_sse
        best_sse[better] = sse[better]
        best[better] = np.column_stack([np.full(better.sum(), w), coef[:, better].T])
    return best[:, 0], best[:, 1], best[:, 2], best[:, 3]


def _canonical(mu, sigma, delta):
    """Make delta >= 0, sigma > 0 and mu in [-pi sigma, pi sigma)."""
    mu, sigma, delta = np.asarray(mu, float), np.asarray(sigma, float), np.asarray(delta, float)
    flip = sigma < 0  # sin((x - mu) / -s) = -sin((x - mu) / s)
    sigma = np.abs(sigma)
    delta = np.where(flip, -delta, delta)
    neg = delta < 0  # -sin(t) = sin(t + pi): move mu by half a period
    mu = np.where(neg, mu - np.pi * sigma, mu)
    delta = np.abs(delta)
    period = 2 * np.pi * sigma
    mu = (mu + np.pi * sigma) % period - np.pi * sigma
    return mu, sigma, delta


def _polish(x: np.ndarray, y: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """Levenberg-Marquardt refinement of one fit; the start is kept if it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)  # covariance not needed here
        try:
            p, _ = curve_fit(sine_model, x, y, p0=p0, maxfev=2000)
        except (RuntimeError, ValueError):
            return p0
    return p if np.all(np.isfinite(p)) and p[1] != 0 else p0


def fit_sines(
    x: np.ndarray, signals: np.ndarray, refine: bool = True, n_trials: int = 400
) -> SineFit:
    """Fit ``y = delta * sin((x - mu) / sigma) + c`` to every signal.

    Parameters
    ----------
    x : ndarray (L,)
        Sample positions shared by all signals (e.g. the synthetic grid on [-10, 10]).
    signals : ndarray (..., L)
        Signals to fit; any leading shape (a decoded ``(n, n, L)`` latent grid works).
    refine : bool
        Polish the linear-scan estimate with ``curve_fit`` (about 1 ms per signal).
    n_trials : int
        Number of trial frequencies of the linear scan.

    Returns
    -------
    SineFit
        Arrays of the leading shape of ``signals``.

    Examples
    --------
    >>> x = np.linspace(-10, 10, 100)
    >>> fit = fit_sines(x, 0.8 * np.sin((x - 1.0) / 1.5)[None])
    >>> [round(float(v), 3) for v in (fit.mu[0], fit.sigma[0], fit.delta[0])]
    [1.0, 1.5, 0.8]
    """
    x = np.asarray(x, float).ravel()
    S = np.asarray(signals, float)
    if S.ndim < 1 or S.shape[-1] != len(x) or len(x) < 5:
        raise InputError(
            f"signals must end in the {len(x)} samples of x (at least 5), got shape {S.shape}"
        )
    lead = S.shape[:-1]
    Y = S.reshape(-1, len(x))
    if not np.all(np.isfinite(Y)):
        raise InputError("signals contain NaN or infinite values")
    w, a, b, c = _linear_scan(x, Y, trial_frequencies(x, n_trials))
    # a sin(wx) + b cos(wx) = delta sin(w (x - mu)) with delta cos(w mu) = a, delta sin(w mu) = -b
    delta = np.hypot(a, b)
    sigma = 1.0 / w
    mu = np.arctan2(-b, a) * sigma
    params = np.column_stack([mu, sigma, delta, c])
    if refine:
        for i in range(len(Y)):
            if delta[i] > 1e-6 * max(1.0, np.abs(Y[i]).max()):
                params[i] = _polish(x, Y[i], params[i])
    mu, sigma, delta = _canonical(params[:, 0], params[:, 1], params[:, 2])
    fitted = delta[:, None] * np.sin((x[None] - mu[:, None]) / sigma[:, None]) + params[:, 3:4]
    resid = Y - fitted
    ss_tot = ((Y - Y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1 - (resid**2).sum(axis=1) / ss_tot, np.nan)
    flat = ss_tot == 0  # a constant signal has no shift or period
    mu, sigma, delta = np.where(flat, np.nan, mu), np.where(flat, np.nan, sigma), delta * ~flat
    log.debug("fitted %d sines", len(Y))
    return SineFit(
        mu.reshape(lead),
        sigma.reshape(lead),
        delta.reshape(lead),
        params[:, 3].reshape(lead),
        r2.reshape(lead),
    )
