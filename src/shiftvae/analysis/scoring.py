"""Score maps against a known order parameter: best |Spearman rho| and best AUC over maps.

A latent's sign and scale are arbitrary, so both scores are taken up to sign and rank: the
absolute Spearman correlation with a continuous truth, and max(AUC, 1 - AUC) against a 0/1
label. Over several candidate maps (latents, principal components) the best one is reported,
with its index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from shiftvae.errors import InputError

__all__ = ["auc", "best_auc", "best_spearman", "score_maps", "spearman"]


def _maps_and_target(maps: np.ndarray, target: np.ndarray, name: str):
    """``maps`` as a finite (K, N) float array and ``target`` as (N,), or an InputError."""
    m = np.asarray(maps, dtype=float)
    m = m[None, :] if m.ndim == 1 else m
    t = np.asarray(target, dtype=float).ravel()
    if m.ndim != 2 or m.shape[1] != t.size:
        raise InputError(f"maps must have shape (K, {t.size}) to match {name}, got {m.shape}")
    if t.size < 2 or not (np.isfinite(m).all() and np.isfinite(t).all()):
        raise InputError(f"maps and {name} need at least 2 finite values each")
    return m, t


def spearman(maps: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Spearman rho of each map (K, N) with ``truth`` (N,): (K,), 0 for a constant map.

    rho = Pearson correlation of the ranks (ties get their average rank, as in scipy).

    Examples
    --------
    >>> spearman(np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]]), np.array([1.0, 4.0, 9.0]))
    array([ 1. , -0.5])
    """
    m, t = _maps_and_target(maps, truth, "truth")
    rm = rankdata(m, axis=1)
    rm -= rm.mean(axis=1, keepdims=True)
    rt = rankdata(t) - (t.size + 1) / 2
    norm = np.linalg.norm(rm, axis=1) * np.linalg.norm(rt)
    # a constant map (or truth) carries no ranking: score it 0 rather than NaN
    return np.divide(rm @ rt, norm, out=np.zeros(len(m)), where=norm > 0)


def auc(maps: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each map (K, N) as a score for ``labels`` (N,) in {0, 1}.

    AUC = P(value of a 1 > value of a 0) + P(tie) / 2, from the Mann-Whitney U of the ranks:
    AUC = (sum of the ranks of the 1s - n1 (n1 + 1) / 2) / (n1 n0).

    Examples
    --------
    >>> auc(np.array([[0.1, 0.4, 0.35, 0.8]]), np.array([0, 0, 1, 1]))
    array([0.75])
    """
    m, y = _maps_and_target(maps, labels, "labels")
    if not np.isin(y, (0, 1)).all():
        raise InputError("labels must be 0 or 1")
    positive = y == 1
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if n1 == 0 or n0 == 0:
        raise InputError(f"labels need both classes, got {n1} ones and {n0} zeros")
    ranks = rankdata(m, axis=1)
    return (ranks[:, positive].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def best_spearman(maps: np.ndarray, truth: np.ndarray) -> tuple[float, int]:
    """Best |Spearman rho| over the maps (K, N) against ``truth`` (N,), and that map's index.

    Examples
    --------
    >>> rho, index = best_spearman(np.array([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0]]), [1.0, 2.0, 3.0])
    >>> round(rho, 6), index
    (1.0, 0)
    """
    rho = np.abs(spearman(maps, truth))
    index = int(np.argmax(rho))
    return float(rho[index]), index


def best_auc(maps: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """Best max(AUC, 1 - AUC) over the maps (K, N) against ``labels`` (N,), and its index.

    The sign of a latent is arbitrary, so a map that ranks the 0s above the 1s scores as well
    as its negative; 0.5 is chance, 1 a perfect separation.

    Examples
    --------
    >>> best_auc(np.array([[0.0, 0.0, 1.0, 1.0], [4.0, 3.0, 2.0, 1.0]]), np.array([0, 0, 1, 1]))
    (1.0, 0)
    """
    a = auc(maps, labels)
    a = np.maximum(a, 1 - a)
    index = int(np.argmax(a))
    return float(a[index]), index


def score_maps(maps: np.ndarray, centers: np.ndarray, truth: Any) -> dict[str, float | int | None]:
    """Score maps (K, N) sampled at ``centers`` (N, 2) against a case's truth.

    Parameters
    ----------
    maps : ndarray (K, N)
        K candidate maps, each with one value per centre (e.g. ``scores.T`` of a PCA).
    centers : ndarray (N, 2)
        (row, col) px of the values.
    truth : CrystalTruth
        Anything with ``field(points)`` and ``label(points)`` returning arrays or None.

    Returns
    -------
    dict
        ``spearman`` / ``spearman_index`` (None without a field) and ``auc`` / ``auc_index``
        (None without a label, or when the centres hold only one class).

    Examples
    --------
    >>> from shiftvae.synthetic.crystals import two_phase_crystal
    >>> image, truth = two_phase_crystal(size=128, seed=0)
    >>> centers = truth.sites["A"]
    >>> score_maps(truth.label(centers)[None, :], centers, truth)["auc"]
    1.0
    """
    centers = np.asarray(centers, dtype=float).reshape(-1, 2)
    out: dict[str, float | int | None] = dict.fromkeys(
        ("spearman", "spearman_index", "auc", "auc_index")
    )
    field = truth.field(centers)
    if field is not None:
        out["spearman"], out["spearman_index"] = best_spearman(maps, field)
    labels = truth.label(centers)
    if labels is not None and 0 < labels.sum() < labels.size:
        out["auc"], out["auc_index"] = best_auc(maps, labels)
    return out
