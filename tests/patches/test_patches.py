"""Patch grid, normalisation, batching and lattice-period estimation."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shiftvae.analysis.maps import latent_maps
from shiftvae.data.patches import (
    estimate_period,
    extract_patches,
    iter_patch_batches,
    patch_grid,
)
from shiftvae.errors import InputError
from shiftvae.types import Encoding, Image

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def gaussian_lattice(size, period, angle_deg=0.0, noise=0.0, seed=0):
    """Square lattice of 2D Gaussians (std period / 5), random offset, optional noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]].astype(float)
    a = np.deg2rad(angle_deg)
    u = (np.cos(a) * rows + np.sin(a) * cols) / period + rng.uniform()
    v = (-np.sin(a) * rows + np.cos(a) * cols) / period + rng.uniform()
    du, dv = (u % 1) - 0.5, (v % 1) - 0.5
    img = np.exp(-0.5 * (du**2 + dv**2) * 25.0)
    return img + noise * rng.standard_normal(img.shape)


@st.composite
def grids(draw):
    window = draw(st.integers(1, 24))
    step = draw(st.integers(1, 30))
    height = draw(st.integers(window, window + 50))
    width = draw(st.integers(max(window, 2), window + 50))  # >= 2 pixels: not constant
    return (height, width), window, step, draw(st.integers(0, 2**16))


def random_image(shape, seed):
    img = np.random.default_rng(seed).random(shape)
    img.flat[0], img.flat[-1] = 0.0, 1.0  # never constant
    return img


@settings(max_examples=60, deadline=None)
@given(grids())
def test_grid_geometry_and_crops(case):
    shape, window, step, seed = case
    img = random_image(shape, seed)
    p = extract_patches(img, window=window, step=step, normalize=None)
    rows, cols = p.grid_shape
    assert len(p) == rows * cols == p.centers.shape[0] >= 1
    assert p.data.shape[1:] == (window, window) and p.data.dtype == np.float32
    assert (p.window, p.step, p.image_shape) == (window, step, shape)
    half = (window - 1) / 2
    assert np.all(p.centers >= half) and np.all(p.centers <= np.array(shape) - 1 - half)
    # the grid is centred: the leftover border differs by at most one pixel per side
    top_left = p.centers[0] - half
    bottom_right = np.array(shape) - 1 - (p.centers[-1] + half)
    assert np.all(np.abs(top_left - bottom_right) <= 1)
    for i in {0, len(p) // 2, len(p) - 1}:
        r, c = divmod(i, cols)
        assert np.allclose(p.centers[i], p.centers[0] + step * np.array([r, c]))
        top, left = (p.centers[i] - half).astype(int)
        crop = img[top : top + window, left : left + window].astype(np.float32)
        np.testing.assert_array_equal(p.data[i], crop)


@settings(max_examples=30, deadline=None)
@given(grids())
def test_per_patch_values_round_trip_through_latent_maps(case):
    shape, window, step, seed = case
    p = extract_patches(random_image(shape, seed), window=window, step=step)
    value = p.data.mean(axis=(1, 2), dtype=np.float64)[:, None]
    enc = Encoding(value, np.ones_like(value), p.centers, np.ones_like(p.centers))
    maps = latent_maps(enc, p, phases=None)
    cols = p.grid_shape[1]
    for i in range(len(p)):
        r, c = divmod(i, cols)
        assert maps.z[0, r, c] == value[i, 0]
        np.testing.assert_array_equal(maps.shift[:, r, c], p.centers[i])
    np.testing.assert_array_equal(maps.centers.reshape(-1, 2), p.centers)


@settings(max_examples=30, deadline=None)
@given(grids(), st.sampled_from(["image", "patch", None]), st.integers(1, 40))
def test_batches_equal_extract_patches(case, normalize, batch_size):
    shape, window, step, seed = case
    img = random_image(shape, seed)
    whole = extract_patches(img, window, step, normalize=normalize)
    starts, parts = zip(*iter_patch_batches(img, window, step, batch_size, normalize=normalize))
    assert list(starts) == list(range(0, len(whole), batch_size))
    assert all(len(b) <= batch_size for b in parts)
    np.testing.assert_array_equal(np.concatenate(parts), whole.data)


def test_normalisation_ranges_and_flat_patches():
    img = random_image((60, 60), 1) * 1000.0 + 50.0
    img[:20, :20] = 7.0  # flat corner (below the clip percentile too)
    p_img = extract_patches(img, window=16, step=4, normalize="image", clip_percentiles=(0, 100))
    assert p_img.data.min() == 0.0 and p_img.data.max() == 1.0
    p = extract_patches(img, window=16, step=8, normalize="patch")
    assert p.normalize == "patch" and p.data.min() >= 0 and p.data.max() <= 1
    flat = np.ptp(p.data, axis=(1, 2)) == 0
    assert flat[0] and np.all(p.data[flat] == 0.5)
    ranged = p.data[~flat]
    assert np.allclose(ranged.min(axis=(1, 2)), 0) and np.allclose(ranged.max(axis=(1, 2)), 1)


def test_calibration_and_no_aliasing_of_the_input():
    img = random_image((40, 40), 2)
    p = extract_patches(Image(img, pixel_size=0.02, unit="nm"), window=40, normalize=None)
    assert (p.pixel_size, p.unit, p.grid_shape) == (0.02, "nm", (1, 1))
    p.data[...] = -1
    assert img.min() >= 0


def test_automatic_window_is_about_two_and_a_half_periods(caplog):
    img = gaussian_lattice((128, 128), 12.0, noise=0.05)
    with caplog.at_level(logging.INFO, logger="shiftvae.data.patches"):
        p = extract_patches(img)
    assert p.window == 30 and p.step == 15
    assert "window of 30 px" in caplog.text


@pytest.mark.parametrize(
    ("period", "angle", "noise", "size"),
    [(12.0, 0.0, 0.0, (128, 128)), (9.5, 17.0, 0.3, (150, 128)), (16.0, 45.0, 0.5, (256, 200))],
)
def test_estimate_period_of_a_gaussian_lattice(period, angle, noise, size):
    assert estimate_period(gaussian_lattice(size, period, angle, noise)) == pytest.approx(
        period, rel=0.05
    )


def test_estimate_period_refuses_noise():
    noise = np.random.default_rng(0).standard_normal((128, 128))
    with pytest.raises(InputError, match="no clear lattice periodicity"):
        estimate_period(noise)
    with pytest.raises(InputError, match=r"automatically: .*give the window by hand"):
        extract_patches(noise)


@pytest.mark.shared_data
def test_estimate_period_of_the_real_perovskite_image():
    path = SHARED_DATA / "perovskite_adf_atomap.hdf5"
    if not path.is_file():
        pytest.skip(f"real image {path.name} not available: ../shared/data is absent")
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as f:
        data = f["Experiments/__unnamed__/data"][()]
    assert 10 <= estimate_period(data) <= 40


@pytest.mark.parametrize(
    ("image", "kwargs", "phrase"),
    [
        (np.ones((10, 10, 3)), {"window": 4}, "colour image of 10 x 10 px with 3 channels"),
        (np.ones((2, 10, 10)), {"window": 4}, r"3D array of shape \(2, 10, 10\), not a 2D"),
        (np.array([["a"]]), {"window": 1}, "numeric"),
        (np.full((20, 20), 3.0), {"window": 4}, "constant"),
        (np.where(np.eye(20) > 0, np.nan, 1.0), {"window": 4}, "NaN or infinite"),
        (np.eye(20), {"window": 0}, "window must be a positive integer"),
        (np.eye(20), {"window": 4.5}, "window must be a positive integer"),
        (np.eye(20), {"window": True}, "window must be a positive integer"),
        (np.eye(20), {"window": 4, "step": -2}, "step must be a positive integer"),
        (np.eye(100, 80), {"window": 128}, "image of 100 x 80 px is smaller than the window"),
        (np.eye(20) * 5, {"window": 4, "normalize": None}, "needs an image in [0, 1]"),
        (np.eye(20), {"window": 4, "normalize": "global"}, "normalize must be"),
        (np.eye(20), {"window": 4, "clip_percentiles": (50, 10)}, "clip_percentiles"),
        (np.eye(6), {}, "smallest automatic window"),
        (np.eye(12), {}, "too small to estimate a lattice period"),
    ],
)
def test_bad_inputs_raise_input_error(image, kwargs, phrase):
    with pytest.raises(InputError, match=phrase.replace("[", r"\[")):
        extract_patches(image, **kwargs)


def test_batches_validate_eagerly_and_grid_helper():
    with pytest.raises(InputError, match="batch_size"):
        iter_patch_batches(np.eye(20), 4, batch_size=0)
    with pytest.raises(InputError, match="smaller than the window"):
        iter_patch_batches(np.eye(20), 40)  # raised at the call, not at the first batch
    grid = patch_grid((100, 80), window=32)
    assert (grid.shape, grid.origin, grid.step, len(grid)) == ((5, 4), (2, 0), 16, 20)


def test_default_step_is_half_the_window_unless_too_few_patches_fit():
    from shiftvae.pipeline.fit import auto_step

    assert auto_step((4096, 4096), 64) == 32  # the paper's window / 2
    small = auto_step((400, 380), 74)  # window / 2 would give 90 patches
    assert small < 37 and ((400 - 74) // small + 1) * ((380 - 74) // small + 1) >= 1000
    assert auto_step((96, 96), 16) == 2  # never below window / 8


def test_default_step_avoids_whole_multiples_of_the_period():
    from shiftvae.pipeline.fit import MIN_BEAT, auto_step

    for period in (9.9, 15.0, 19.9, 29.5):
        step = auto_step((1024, 1024), 50, period=period)
        beat = step / period
        assert abs(beat - round(beat)) >= MIN_BEAT, (period, step)
