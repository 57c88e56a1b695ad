"""Sine fits of decoded signals (analysis/sinefit.py): known parameters come back."""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.analysis.sinefit import fit_sines, sine_model
from shiftvae.errors import InputError

X = np.linspace(-10, 10, 100)


def _sines(rng, n=200):
    """Random sines in the paper's range: mu in [-3, 3], sigma in [1, 2.4]."""
    mu = rng.uniform(-3, 3, n)
    sigma = rng.choice(np.round(np.arange(1.0, 2.41, 0.2), 1), n)
    delta = rng.uniform(0.3, 1.5, n)
    c = rng.uniform(-0.5, 0.5, n)
    y = delta[:, None] * np.sin((X[None] - mu[:, None]) / sigma[:, None]) + c[:, None]
    return y, mu, sigma, delta, c


def test_clean_sines_are_recovered_exactly(rng):
    y, mu, sigma, delta, c = _sines(rng)
    fit = fit_sines(X, y)
    np.testing.assert_allclose(fit.mu, mu, atol=1e-6)
    np.testing.assert_allclose(fit.sigma, sigma, atol=1e-6)
    np.testing.assert_allclose(fit.delta, delta, atol=1e-6)
    np.testing.assert_allclose(fit.offset, c, atol=1e-6)
    assert np.all(fit.r2 > 1 - 1e-9)


def test_noisy_sines_are_recovered_within_noise(rng):
    y, mu, sigma, delta, _ = _sines(rng)
    noisy = y + 0.2 * rng.standard_normal(y.shape)
    fit = fit_sines(X, noisy)
    assert np.median(np.abs(fit.mu - mu)) < 0.1
    assert np.median(np.abs(fit.sigma - sigma)) < 0.05
    assert np.median(np.abs(fit.delta - delta)) < 0.05
    assert np.median(fit.r2) > 0.8


def test_linear_scan_alone_is_close(rng):
    y, mu, sigma, _, _ = _sines(rng, n=50)
    fit = fit_sines(X, y, refine=False)
    assert np.median(np.abs(fit.sigma - sigma)) < 0.02
    assert np.median(np.abs(fit.mu - mu)) < 0.1


def test_parameters_are_canonical():
    # a negative amplitude is the same sine half a period later
    y = -0.7 * np.sin((X - 0.5) / 1.2)
    fit = fit_sines(X, y[None])
    assert fit.delta[0] == pytest.approx(0.7, abs=1e-6)
    assert fit.mu[0] == pytest.approx(0.5 - np.pi * 1.2, abs=1e-6)  # inside [-pi s, pi s)
    np.testing.assert_allclose(
        sine_model(X, fit.mu[0], fit.sigma[0], fit.delta[0], 0), y, atol=1e-6
    )
    assert -np.pi * fit.sigma[0] <= fit.mu[0] < np.pi * fit.sigma[0]


def test_grid_shape_is_kept_and_constant_signals_give_nan(rng):
    y, *_ = _sines(rng, n=12)
    grid = y.reshape(3, 4, -1).copy()
    grid[0, 0] = 0.25  # a flat decoded signal: no shift or period to fit
    fit = fit_sines(X, grid)
    assert fit.mu.shape == fit.r2.shape == (3, 4)
    assert np.isnan(fit.mu[0, 0]) and np.isnan(fit.r2[0, 0]) and fit.delta[0, 0] == 0
    assert np.isfinite(fit.mu[1:]).all()
    assert set(fit.as_maps()) == {"mu", "sigma", "delta", "offset", "r2"}


@pytest.mark.parametrize("signals", [np.zeros((3, 7)), np.full((2, 100), np.nan)])
def test_bad_signals_are_refused(signals):
    with pytest.raises(InputError):
        fit_sines(X, signals)
