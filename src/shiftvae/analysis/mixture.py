"""Gaussian mixtures on latent means: fitted quietly, and scored by how well they separate.

Used for the phases of :func:`~shiftvae.analysis.maps.latent_maps` and to start the classes
of :class:`~shiftvae.model.classes.MixturePrior`.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

__all__ = ["fit_mixture", "separation"]

log = logging.getLogger(__name__)


def separation(x: np.ndarray, labels: np.ndarray, seed: int, most: int = 3000) -> float:
    """The mean silhouette of the classes ``labels`` of points ``x`` (N, d), on at most
    ``most`` of them (-1 for a single class)."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return -1.0
    pick = np.random.default_rng(seed).permutation(len(x))[:most]
    if len(np.unique(labels[pick])) < 2:
        return -1.0
    return float(silhouette_score(x[pick], labels[pick]))


def fit_mixture(x: np.ndarray, k: int, seed: int, covariance: str = "full", means_init=None):
    """A Gaussian mixture of ``k`` components fitted to ``x`` (N, d); non-convergence is
    logged, not raised."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(
        n_components=k,
        covariance_type=covariance,
        random_state=seed,
        means_init=means_init,
        reg_covar=1e-4 if covariance == "diag" else 1e-6,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x)
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            log.info("Gaussian mixture with %d components: %s", k, w.message)
        else:  # anything else is not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model
