"""The generated crystals of the class benchmark: their truths are what they draw."""

from __future__ import annotations

import numpy as np

from shiftvae.synthetic.class_crystals import (
    honeycomb_defects,
    interface_phases,
    polarisation_variants,
)
from shiftvae.synthetic.crystal_scene import Microscope

QUIET = Microscope(noise="none", scan_jitter=0.0, scan_drift=0.0)


def test_each_variant_moves_b_along_its_own_direction():
    image, truth = polarisation_variants(size=256, microscope=QUIET, seed=0)
    a, b = truth.sites["A"], truth.sites["B"]
    kinds = truth.classes(b)
    assert set(kinds.tolist()) == {0, 1, 2, 3}
    unit = truth.lattice_vectors / np.linalg.norm(truth.lattice_vectors, axis=1, keepdims=True)
    expected = 1.5 * np.stack([unit[0], -unit[0], unit[1], -unit[1]])
    centre = a[:, None] + truth.lattice_vectors.sum(0) / 2  # each A's cell centre
    for kind in range(4):
        moved = b[kinds == kind]
        nearest = centre.reshape(-1, 2)[
            np.argmin(np.linalg.norm(moved[:, None] - centre.reshape(-1, 2)[None], axis=-1), 1)
        ]
        np.testing.assert_allclose(np.median(moved - nearest, 0), expected[kind], atol=0.05)
    assert image.shape == (256, 256) and 0 <= image.min() and image.max() <= 1


def test_the_defects_are_where_and_what_the_truth_says():
    image, truth = honeycomb_defects(size=192, n_defects=(3, 3, 3), microscope=QUIET, seed=1)
    defects = truth.sites["defects"]
    kinds = truth.classes(defects)
    assert sorted(kinds.tolist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    at = np.round(defects).astype(int)
    peak = image[at[:, 0], at[:, 1]]
    pristine = image[tuple(np.round(truth.sites["C"][100]).astype(int))]
    assert (peak[kinds == 1] < 0.5 * pristine).all()  # the vacancy's atom is gone
    assert (peak[kinds == 2] > 1.5 * pristine).all()  # the substitution is brighter
    assert (peak[kinds == 3] > 1.2 * pristine).all()  # an atom at the hexagon's centre
    grid = np.stack(np.meshgrid(np.arange(0, 192, 4.0), np.arange(0, 192, 4.0)), -1)
    grid = grid.reshape(-1, 2)
    distance = np.linalg.norm(grid[:, None] - defects[None], axis=-1)
    near = distance.min(1) < 1.2 * 9.0
    assert (truth.classes(grid[~near]) == 0).all()
    assert (truth.classes(grid[near]) == kinds[distance[near].argmin(1)]).all()


def test_an_advancing_interface_grows_phase_one():
    points = np.stack(np.meshgrid(np.arange(0, 256, 8.0), np.arange(0, 256, 8.0)), -1)
    shares = []
    for advance in (-40.0, 0.0, 40.0):
        _, truth = interface_phases(size=256, microscope=QUIET, seed=0, advance=advance)
        shares.append(truth.classes(points.reshape(-1, 2)).mean())
    assert shares[0] < shares[1] < shares[2]
