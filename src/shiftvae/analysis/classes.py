"""What a fit with classes found: counts, confidence, boundaries between classes.

The class of a cell is its most probable one under q(c | x) (:class:`~shiftvae.types.LatentMaps`
``class_probs``); a cell is *uncertain* where that probability is below ``CONFIDENT``, and on
a *boundary* where one of its four neighbours has another class (a domain wall, an interface,
the rim of a defect).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CONFIDENT", "class_boundaries", "class_summary", "class_uncertainty"]

CONFIDENT = 0.9  # a cell's class is called uncertain below this probability


def class_uncertainty(probs: np.ndarray) -> np.ndarray:
    """1 - the most probable class's probability, per cell: (K, rows, cols) -> (rows, cols).

    Examples
    --------
    >>> class_uncertainty(np.array([[[0.9]], [[0.1]]])).round(2).tolist()
    [[0.1]]
    """
    return 1.0 - np.asarray(probs).max(axis=0)


def class_boundaries(classes: np.ndarray) -> np.ndarray:
    """True where a cell's class differs from one of its four neighbours' (rows, cols).

    Examples
    --------
    >>> class_boundaries(np.array([[0, 0, 1]])).tolist()
    [[False, True, True]]
    """
    c = np.asarray(classes)
    edge = np.zeros(c.shape, dtype=bool)
    across_rows = c[1:] != c[:-1]
    across_cols = c[:, 1:] != c[:, :-1]
    edge[1:] |= across_rows
    edge[:-1] |= across_rows
    edge[:, 1:] |= across_cols
    edge[:, :-1] |= across_cols
    return edge


def class_summary(probs: np.ndarray) -> dict[str, Any]:
    """Counts and shares per class, the mean probability of the chosen class, and how many
    cells are uncertain or on a boundary, for probabilities (K, rows, cols)."""
    probs = np.asarray(probs)
    k = probs.shape[0]
    classes = probs.argmax(0)
    counts = np.bincount(classes.ravel(), minlength=k)
    total = int(classes.size)
    return {
        "classes": k,
        "counts": counts.tolist(),
        "shares": [round(float(n) / total, 4) for n in counts],
        "mean_probability": round(float(probs.max(0).mean()), 4),
        "uncertain_cells": int((probs.max(0) < CONFIDENT).sum()),
        "boundary_cells": int(class_boundaries(classes).sum()),
        "cells": total,
    }
