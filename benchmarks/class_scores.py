"""Scores of a class map against the truth, shared by the peers' scripts (no heavy imports:
each runs in its peer's own environment)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score


def matched_accuracy(truth: np.ndarray, found: np.ndarray, k: int) -> float:
    """Share of cells right once the found classes are matched to the true ones."""
    table = np.zeros((k, k))
    np.add.at(table, (truth, found), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(truth))


def unsupervised(truth: np.ndarray, found: np.ndarray, clear: np.ndarray, k: int) -> dict:
    """ARI and matched accuracy over all cells and over the clear cells."""
    return {
        "ari": round(float(adjusted_rand_score(truth, found)), 3),
        "accuracy": round(matched_accuracy(truth, found, k), 3),
        "clear": {
            "ari": round(float(adjusted_rand_score(truth[clear], found[clear])), 3),
            "accuracy": round(matched_accuracy(truth[clear], found[clear], k), 3),
        },
    }
