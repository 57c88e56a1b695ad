"""Maps averaged over neighbouring cells: less noise, steps kept, honest error bars."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from shiftvae.analysis.smoothing import smooth_over_cells
from shiftvae.errors import InputError

STEP, WINDOW, CELL = 4.0, 12, 8.0  # px: overlapping patches, as a fit's grid has


def grid(n: int = 48) -> np.ndarray:
    return np.stack(np.mgrid[:n, :n], -1).reshape(-1, 2) * STEP


def patch_noise(n: int, std: float, seed: int) -> np.ndarray:
    """Noise of patches that share pixels: white noise per pixel, averaged over each window."""
    rng = np.random.default_rng(seed)
    pixels = rng.normal(0, 1, (n * int(STEP) + WINDOW, n * int(STEP) + WINDOW))
    averaged = uniform_filter(pixels, WINDOW)[WINDOW // 2 :: int(STEP), WINDOW // 2 :: int(STEP)]
    averaged = averaged[:n, :n].ravel()
    return std * averaged / averaged.std()


def test_a_smooth_field_loses_most_of_its_noise_and_the_error_bars_are_honest():
    centers = grid()
    field = np.sin(centers[:, 0] / 60) + np.cos(centers[:, 1] / 45)
    ratios, gains = [], []
    for seed in range(4):
        noisy = field + patch_noise(48, 0.3, seed)
        out = smooth_over_cells(noisy[None], centers, CELL, WINDOW)
        error = out.values[0] - field
        ratios.append(np.sqrt(np.mean(error**2)) / np.sqrt(np.mean(out.std[0] ** 2)))
        gains.append(np.std(noisy - field) / np.sqrt(np.mean(error**2)))
        assert out.noise[0] == pytest.approx(0.3, rel=0.25)  # the field adds a little
    assert min(gains) > 2.0
    assert 0.7 <= min(ratios) and max(ratios) <= 1.4


def test_a_step_stays_a_step():
    centers = grid()
    step = (centers[:, 1] > centers[:, 1].mean()).astype(float)
    noisy = step + patch_noise(48, 0.3, 0)
    out = smooth_over_cells(noisy[None], centers, CELL, WINDOW)
    assert out.scale_cells[0] <= 1.0  # the wall pulls the width down
    far = np.abs(centers[:, 1] - centers[:, 1].mean()) > 2 * CELL
    assert np.mean(np.abs(out.values[0] - step)[far]) < np.mean(np.abs(noisy - step)[far])
    profile = out.values[0].reshape(48, 48).mean(axis=0)  # across the wall
    rise = np.flatnonzero((profile > 0.1) & (profile < 0.9))
    assert len(rise) * STEP <= 2 * CELL  # the wall's 10-90% rise within two cells


def test_each_map_gets_its_own_width_and_any_arrangement_of_centres_works():
    rng = np.random.default_rng(3)
    centers = rng.uniform(0, 200, (900, 2))  # columns, not a grid
    slow = centers[:, 0] / 200
    step = (centers[:, 1] > 100).astype(float)
    noisy = np.stack([slow, step]) + rng.normal(0, 0.2, (2, len(centers)))
    out = smooth_over_cells(noisy, centers, CELL, WINDOW)
    assert out.values.shape == out.std.shape == noisy.shape
    assert out.scale_cells[0] > out.scale_cells[1]
    assert np.all(out.std > 0)


def test_cells_left_out_are_filled_from_their_neighbours_and_give_nothing():
    # cells whose patch straddles an antiphase boundary carry latents of neither side
    centers = grid()
    field = centers[:, 0] / centers[:, 0].max()
    noisy = field + patch_noise(48, 0.1, 1)
    wall = np.abs(centers[:, 1] - 100) < 8
    noisy[wall] += 3.0
    out = smooth_over_cells(noisy[None], centers, CELL, WINDOW, sources=~wall)
    assert np.abs(out.values[0] - field).max() < 0.2
    spoiled = smooth_over_cells(noisy[None], centers, CELL, WINDOW)
    assert np.abs(spoiled.values[0] - field)[wall].min() > 0.5


@pytest.mark.parametrize(
    "values, centers, cell, window",
    [
        (np.zeros((1, 5)), np.zeros((4, 2)), 8.0, 12),
        (np.full((1, 4), np.nan), np.zeros((4, 2)), 8.0, 12),
        (np.zeros((1, 4)), np.zeros((4, 2)), 0.0, 12),
    ],
)
def test_bad_input_is_refused_in_one_sentence(values, centers, cell, window):
    with pytest.raises(InputError):
        smooth_over_cells(values, centers, cell, window)
