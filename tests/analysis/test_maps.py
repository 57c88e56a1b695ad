"""Latent maps on the patch grid, Gaussian-mixture phases and their fractions."""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.analysis import maps as maps_module
from shiftvae.analysis.maps import latent_maps, phase_fractions
from shiftvae.errors import InputError
from shiftvae.types import Encoding, Patches


def grid_patches(rows=4, cols=5, step=8, pixel_size=0.05):
    n = rows * cols
    r, c = np.divmod(np.arange(n), cols)
    centers = np.stack([r * step + 7.5, c * step + 7.5], axis=1).astype(float)
    return Patches(
        data=np.zeros((n, 16, 16), np.float32),
        centers=centers,
        grid_shape=(rows, cols),
        window=16,
        step=step,
        pixel_size=pixel_size,
        unit="nm",
    )


def encoding(z, shift):
    return Encoding(z, np.ones_like(z), shift, np.ones_like(shift))


def test_latents_are_placed_on_the_grid():
    p = grid_patches()
    n = len(p)
    z = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(float)
    shift = np.random.default_rng(0).normal(size=(n, 2))
    m = latent_maps(encoding(z, shift), p, phases=None)
    assert m.z.shape == (2, 4, 5) and m.shift.shape == (2, 4, 5) and m.phases is None
    for i in range(n):
        r, c = divmod(i, 5)
        np.testing.assert_array_equal(m.z[:, r, c], z[i])
        np.testing.assert_array_equal(m.shift[:, r, c], shift[i])
        np.testing.assert_array_equal(m.centers[r, c], p.centers[i])
    assert (m.step, m.pixel_size, m.unit) == (8, 0.05, "nm")


def test_plain_vae_has_empty_shift_maps():
    p = grid_patches(3, 3)
    m = latent_maps(encoding(np.zeros((9, 2)), np.zeros((9, 0))), p, phases=None)
    assert m.shift.shape == (0, 3, 3) and m.z.shape == (2, 3, 3)


def two_clusters(rows=10, cols=10, seed=0):
    """Left 30 % of the grid in one tight cluster, the rest in another."""
    rng = np.random.default_rng(seed)
    n = rows * cols
    _, col = np.divmod(np.arange(n), cols)
    minority = col < 3
    z = rng.normal(scale=0.1, size=(n, 2)) + np.where(minority[:, None], 5.0, -5.0)
    return z, minority


def test_two_separated_clusters_give_two_phases_by_bic():
    z, minority = two_clusters()
    p = grid_patches(10, 10)
    m = latent_maps(encoding(z, np.zeros((100, 2))), p, phases="auto", seed=1)
    assert m.phases.shape == (10, 10)
    assert set(np.unique(m.phases)) == {0, 1}
    np.testing.assert_array_equal(m.phases.ravel(), minority.astype(int))  # 0 = larger phase
    assert phase_fractions(m) == {0: 0.7, 1: 0.3}
    again = latent_maps(encoding(z, np.zeros((100, 2))), p, phases="auto", seed=1)
    np.testing.assert_array_equal(again.phases, m.phases)


def test_fixed_number_of_phases_and_subsampled_fit(monkeypatch):
    z, minority = two_clusters(20, 20)
    p = grid_patches(20, 20)
    m3 = latent_maps(encoding(z, np.zeros((400, 2))), p, phases=3)
    assert len(np.unique(m3.phases)) == 3
    monkeypatch.setattr(maps_module, "MAX_GMM_SAMPLES", 50)
    m = latent_maps(encoding(z, np.zeros((400, 2))), p, phases="auto")
    np.testing.assert_array_equal(m.phases.ravel(), minority.astype(int))


def test_collapsed_or_few_distinct_latents_do_not_warn():
    p = grid_patches(4, 4)
    flat = latent_maps(encoding(np.full((16, 2), 0.3), np.zeros((16, 2))), p)
    assert np.all(flat.phases == 0)
    three = np.repeat(np.array([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]]), [6, 5, 5], axis=0)
    m = latent_maps(encoding(three, np.zeros((16, 2))), p, phases=6)
    assert len(np.unique(m.phases)) <= 3
    none = latent_maps(encoding(np.zeros((16, 0)), np.zeros((16, 2))), p)
    assert none.z.shape == (0, 4, 4) and np.all(none.phases == 0)


def test_mismatch_and_bad_options_raise_input_error():
    p = grid_patches(3, 3)
    with pytest.raises(InputError, match="10 samples but there are 9 patches"):
        latent_maps(encoding(np.zeros((10, 2)), np.zeros((10, 2))), p)
    with pytest.raises(InputError, match="shift_mean must have shape"):
        latent_maps(Encoding(np.zeros((9, 2)), np.ones((9, 2)), np.zeros((8, 2)), None), p)
    bad = np.zeros((9, 2))
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        latent_maps(encoding(bad, np.zeros((9, 2))), p)
    with pytest.raises(InputError, match="phases must be"):
        latent_maps(encoding(np.eye(9)[:, :2], np.zeros((9, 2))), p, phases=0)
    m = latent_maps(encoding(np.zeros((9, 2)), np.zeros((9, 2))), p, phases=None)
    with pytest.raises(InputError, match="no phases"):
        phase_fractions(m)
