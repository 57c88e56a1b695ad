"""The atom-centred PCA baseline: column finding, PCA scores, and an easy two-phase case."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from shiftvae.analysis.baseline import atom_pca, evaluate_baseline, local_maxima
from shiftvae.analysis.scoring import best_auc
from shiftvae.errors import InputError
from shiftvae.synthetic.crystals import Microscope, intensity_ratio_crystal, two_phase_crystal


def test_local_maxima_find_both_sublattices_or_the_bright_one():
    image, truth = intensity_ratio_crystal(size=192, seed=0)
    cell = np.linalg.norm(truth.lattice_vectors[0])
    found = local_maxima(image, 0.6 * cell, smooth_sigma=1.4, exclude_border=10)
    for name in ("A", "B"):
        sites = truth.sites[name]
        sites = sites[np.all((sites > 12) & (sites < 180), axis=1)]
        assert np.all(cKDTree(found).query(sites)[0] < 1.5), name
    assert np.all(cKDTree(found).query(found, k=2)[0][:, 1] >= 0.6 * cell)
    bright = local_maxima(image, 0.85 * cell, smooth_sigma=1.4, exclude_border=10)
    dist_a = cKDTree(truth.sites["A"]).query(bright)[0]
    assert np.all(dist_a < 1.5)  # only A columns survive
    assert np.all(found[:, 0] >= 10) and np.all(found[:, 0] < 182)


def test_local_maxima_keeps_one_of_a_plateau():
    image = np.zeros((30, 30))
    image[10, 10:12] = 1.0  # two equal pixels: one maximum
    image[20, 20] = 0.7
    np.testing.assert_array_equal(
        local_maxima(image, 3, smooth_sigma=0), [[10.0, 10.0], [20.0, 20.0]]
    )


def test_atom_pca_matches_the_svd_of_the_patches(rng):
    image = rng.random((80, 80))
    centers = rng.integers(10, 70, size=(50, 2)).astype(float)
    scores = atom_pca(image * 5 + 2, centers, window=7, n_components=3)  # global scaling only
    patches = np.stack(
        [image[r - 3 : r + 4, c - 3 : c + 4].ravel() for r, c in centers.astype(int)]
    )
    x = patches - patches.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    scale = 1 / (image.max() - image.min())
    np.testing.assert_allclose(np.abs(scores), np.abs(u[:, :3] * s[:3] * scale), atol=1e-9)
    assert np.allclose(scores.mean(axis=0), 0)
    np.testing.assert_allclose(scores, atom_pca(image, centers, 7, 3), atol=1e-9)  # signs fixed
    with pytest.raises(InputError, match="n_components"):
        atom_pca(image, centers[:2], window=7, n_components=3)


def test_baseline_separates_an_easy_two_phase_image():
    image, truth = two_phase_crystal(size=256, seed=0)
    result = evaluate_baseline(image, truth, sublattice="bright")
    assert result["auc"] > 0.9 and result["spearman"] is None
    assert result["window"] == 43 and result["n_centers"] > 40
    cell = np.linalg.norm(truth.lattice_vectors[0])
    centers = local_maxima(image, 0.6 * cell, cell / 20, exclude_border=22)
    scores = atom_pca(image, centers, window=43)
    assert best_auc(scores.T, truth.label(centers))[0] > 0.9


def test_baseline_finds_a_strong_ratio_field():
    mic = Microscope(noise_level=0.05)
    image, truth = intensity_ratio_crystal(size=256, microscope=mic, seed=1)
    assert evaluate_baseline(image, truth, sublattice="bright")["spearman"] > 0.8


def test_flattening_stops_a_component_from_reading_the_background_gradient():
    # a label that follows the background gradient, on a crystal with nothing else
    from shiftvae.synthetic.alike_crystals import alike_sublattice_crystal

    image, truth = alike_sublattice_crystal(size=256, ratio_range=(0.5, 0.5), seed=0)

    class SideOfTheGradient:
        lattice_vectors = truth.lattice_vectors

        def field(self, points):
            return None

        def label(self, points):
            return (points.sum(axis=1) > 256).astype(int)

    raw = evaluate_baseline(image, SideOfTheGradient(), sublattice="bright")
    flat = evaluate_baseline(image, SideOfTheGradient(), sublattice="bright", flatten=True)
    assert raw["auc"] > 0.9
    assert flat["auc"] < 0.7
    assert flat["smoothed"]["auc"] < 0.8
