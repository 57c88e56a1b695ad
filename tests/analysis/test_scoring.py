"""Scoring: Spearman and AUC agree with scipy / scikit-learn, ignore sign, and handle edges."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from shiftvae.analysis.scoring import auc, best_auc, best_spearman, score_maps, spearman
from shiftvae.errors import InputError
from shiftvae.synthetic.crystals import intensity_ratio_crystal, two_phase_crystal


def test_spearman_matches_scipy_with_ties(rng):
    maps = rng.integers(0, 5, size=(6, 200)).astype(float)  # many ties
    truth = rng.normal(size=200) + maps[2]
    expected = [spearmanr(m, truth).statistic for m in maps]
    np.testing.assert_allclose(spearman(maps, truth), expected, atol=1e-12)
    rho, index = best_spearman(maps, truth)
    assert index == 2 and rho == pytest.approx(abs(expected[2]))


def test_auc_matches_sklearn_with_ties(rng):
    labels = rng.integers(0, 2, size=300)
    maps = np.round(rng.normal(size=(5, 300)) + labels * np.arange(5)[:, None] * 0.3, 1)
    expected = [roc_auc_score(labels, m) for m in maps]
    np.testing.assert_allclose(auc(maps, labels), expected, atol=1e-12)
    best, index = best_auc(maps, labels)
    assert index == 4 and best == pytest.approx(max(max(e, 1 - e) for e in expected))


def test_scores_ignore_the_sign_of_a_map(rng):
    labels = rng.integers(0, 2, size=100)
    maps = rng.normal(size=(3, 100)) + labels
    truth = maps[1] + rng.normal(size=100)
    assert best_auc(-maps, labels) == pytest.approx(best_auc(maps, labels))
    assert best_spearman(-maps, truth) == pytest.approx(best_spearman(maps, truth))
    assert best_auc(-maps[:1], labels)[0] >= 0.5


def test_perfect_chance_and_constant_maps(rng):
    labels = np.repeat([0, 1], 2000)
    truth = np.arange(4000.0)
    assert best_auc(labels[None] * 2.0 - 7, labels) == (1.0, 0)
    assert best_spearman(np.exp(truth / 1000)[None], truth)[0] == pytest.approx(1.0)
    noise = rng.normal(size=(1, 4000))
    assert best_auc(noise, labels)[0] < 0.55
    assert best_spearman(noise, truth)[0] < 0.05
    flat = np.ones((1, 4000))
    assert best_auc(flat, labels) == (0.5, 0)
    assert best_spearman(flat, truth) == (0.0, 0)


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="both classes"):
        best_auc(np.ones((2, 4)), np.zeros(4))
    with pytest.raises(InputError, match="0 or 1"):
        best_auc(np.ones((2, 4)), np.array([0, 1, 2, 1]))
    with pytest.raises(InputError, match=r"\(K, 5\)"):
        best_spearman(np.ones((2, 4)), np.arange(5.0))
    with pytest.raises(InputError, match="finite"):
        best_spearman(np.array([[1.0, np.nan, 2.0]]), np.arange(3.0))


def test_score_maps_uses_the_truth_at_the_centres():
    _, truth = intensity_ratio_crystal(size=192, seed=0)
    centers = truth.sites["B"]
    maps = np.vstack([np.zeros(len(centers)), -truth.field(centers)])
    score = score_maps(maps, centers, truth)
    assert score["spearman"] == pytest.approx(1.0) and score["spearman_index"] == 1
    assert score["auc"] == 1.0 and score["auc_index"] == 1
    _, truth = two_phase_crystal(size=192, seed=0)
    score = score_maps(np.ones((1, 3)), truth.sites["A"][:3], truth)
    assert score["spearman"] is None and score["spearman_index"] is None
    inside = truth.sites["A"][truth.label(truth.sites["A"]) == 1]
    assert score_maps(np.ones((1, len(inside))), inside, truth)["auc"] is None  # one class
