"""Smoothness of latent maps (Fourier power near k = 0) and physicality."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shiftvae.analysis.smoothness import masked_smoothness, physicality, smoothness
from shiftvae.errors import InputError
from shiftvae.types import LatentMaps


def slow_field(shape, rng):
    """1-2 sinusoids of at most 3 cycles across the map and at most 0.05 cycles/pixel."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    z = np.zeros(shape)
    for _ in range(rng.integers(1, 3)):
        top = min(3.0, 0.05 * min(shape))
        cycles = rng.uniform(0.1, top, 2) * rng.choice([-1, 1], 2)
        phase = 2 * np.pi * (cycles[0] * rows / shape[0] + cycles[1] * cols / shape[1])
        z += rng.uniform(0.5, 2) * np.cos(phase + rng.uniform(0, 2 * np.pi))
    return z


def beating(shape, amplitude, rng):
    """Grid-lattice moire: a checkerboard-like cosine at 0.3 cycles per map pixel."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return amplitude * np.cos(2 * np.pi * 0.3 * (rows + cols) + rng.uniform(0, 2 * np.pi))


fields = st.tuples(st.integers(12, 64), st.integers(12, 64), st.integers(0, 2**32 - 1))


@settings(max_examples=80, deadline=None)
@given(fields, st.floats(0.5, 2.0), st.floats(-100, 100))
def test_smooth_field_ranks_above_the_same_field_with_beating(case, ratio, offset):
    rows, cols, seed = case
    rng = np.random.default_rng(seed)
    z = slow_field((rows, cols), rng) + offset
    beaten = z + beating((rows, cols), ratio * z.std(), rng)
    assert smoothness(z) > smoothness(beaten)
    assert smoothness(z, method="paper") < smoothness(beaten, method="paper")  # lower = smoother


@settings(max_examples=60, deadline=None)
@given(fields, st.floats(-1e3, 1e3), st.floats(1e-3, 1e3))
def test_offset_and_scale_invariance_and_range(case, offset, scale):
    rows, cols, seed = case
    z = np.random.default_rng(seed).standard_normal((rows, cols))
    base = smoothness(z)
    assert 0.0 <= base <= 1.0
    assert abs(smoothness(scale * z + offset) - base) < 1e-9


@settings(max_examples=60, deadline=None)
@given(st.integers(4, 40), st.integers(4, 40), st.integers(0, 2**32 - 1), st.booleans())
def test_any_map_of_at_least_4_by_4_scores_in_unit_interval(rows, cols, seed, as_float32):
    z = np.random.default_rng(seed).standard_normal((rows, cols)) * 10
    score = smoothness(z.astype(np.float32) if as_float32 else z)
    assert 0.0 <= score <= 1.0
    assert np.isfinite(smoothness(z, method="paper"))


def test_reference_values():
    rng = np.random.default_rng(0)
    assert smoothness(np.full((8, 8), 2.5)) == 1.0  # constant: smooth by definition
    assert smoothness(rng.standard_normal((64, 64))) < 0.1  # white noise ~ pi * 0.1^2
    rows, _ = np.mgrid[0:32, 0:32]
    assert smoothness(np.cos(2 * np.pi * rows / 32)) > 0.99
    assert smoothness(np.zeros((5, 5)), method="paper") == 0.0
    assert smoothness(rows.astype(float), cutoff=0.45) > smoothness(rows.astype(float))


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        (np.zeros((3, 10)), "too small"),
        (np.zeros(16), "must be 2D"),
        (np.where(np.eye(6) > 0, np.nan, 0.0), "NaN or infinite"),
        (np.where(np.eye(6) > 0, np.inf, 0.0), "NaN or infinite"),
    ],
)
def test_bad_maps_raise_input_error(value, phrase):
    with pytest.raises(InputError, match=phrase):
        smoothness(value)


def test_bad_options_raise_input_error():
    with pytest.raises(InputError, match="method must be"):
        smoothness(np.eye(6), method="fourier")
    with pytest.raises(InputError, match="cutoff"):
        smoothness(np.eye(6), cutoff=0.0)


def test_physicality_is_best_smoothness_or_mean_paper_score():
    rng = np.random.default_rng(3)
    smooth = slow_field((24, 30), rng)
    beaten = smooth + beating((24, 30), 2 * smooth.std(), rng)
    maps = LatentMaps(z=np.stack([beaten, smooth]), shift=np.zeros((2, 24, 30)))
    assert physicality(maps) == smoothness(smooth)
    paper = [smoothness(m, method="paper") for m in (beaten, smooth)]
    assert physicality(maps, method="paper") == pytest.approx(np.mean(paper))
    assert physicality(maps.z) == physicality(maps)
    with pytest.raises(InputError, match="no conventional latent maps"):
        physicality(LatentMaps(z=np.zeros((0, 8, 8)), shift=np.zeros((2, 8, 8))))
    with pytest.raises(InputError, match=r"\(l, rows, cols\)"):
        physicality(np.zeros((8, 8)))


def test_masked_smoothness_reads_only_the_masked_cells():
    """A slow field with lines drawn across it: smooth where the lines are masked out, rough
    where they are kept, and white noise near 0 whatever the mask."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:48, 0:48]
    field = np.cos(2 * np.pi * cols / 96) + 0.02 * rng.standard_normal((48, 48))
    lines = (rows % 12 == 0) | (cols % 16 == 0)
    marked = np.where(lines, 3.0, field)
    assert masked_smoothness(marked, ~lines) > 0.95
    assert masked_smoothness(marked, np.ones_like(lines)) < 0.7
    noise = rng.standard_normal((48, 48))
    assert abs(masked_smoothness(noise, ~lines)) < 0.1
    assert masked_smoothness(np.full((8, 8), 2.5), np.ones((8, 8), bool)) == 1.0


def test_masked_smoothness_refuses_a_mask_it_cannot_read():
    z = np.zeros((8, 8))
    with pytest.raises(InputError, match="shape"):
        masked_smoothness(z, np.ones((8, 9), bool))
    lone = np.zeros((8, 8), bool)
    lone[2, 2] = lone[5, 5] = True
    with pytest.raises(InputError, match="no pair"):
        masked_smoothness(z, lone)
