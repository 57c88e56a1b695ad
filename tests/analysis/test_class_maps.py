"""Counts, uncertainty and boundaries of a class map."""

from __future__ import annotations

import numpy as np

from shiftvae.analysis.classes import class_boundaries, class_summary, class_uncertainty


def test_a_straight_wall_marks_the_cells_on_both_sides():
    classes = np.zeros((4, 6), int)
    classes[:, 3:] = 1
    edge = class_boundaries(classes)
    assert edge[:, 2:4].all() and not edge[:, [0, 1, 4, 5]].any()
    assert not class_boundaries(np.zeros((3, 3), int)).any()


def test_the_summary_counts_classes_and_uncertain_cells():
    probs = np.zeros((3, 2, 2))
    probs[0] = [[1.0, 0.6], [0.0, 0.0]]
    probs[1] = [[0.0, 0.4], [1.0, 0.0]]
    probs[2] = [[0.0, 0.0], [0.0, 1.0]]
    s = class_summary(probs)
    assert s["counts"] == [2, 1, 1] and s["cells"] == 4 and s["uncertain_cells"] == 1
    assert s["boundary_cells"] == 4 and s["mean_probability"] == 0.9
    np.testing.assert_allclose(class_uncertainty(probs), [[0.0, 0.4], [0.0, 0.0]])
