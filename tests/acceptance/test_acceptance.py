"""The quality bars of the method on the paper's synthetic data (DESIGN section 6).

These train real models on full-size data sets generated in the test, so they are the
slowest tests of the suite (tens of seconds each on 2 cores).
"""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.studies import lattice_study, sine_study
from shiftvae.synthetic.paper import lattice_image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def paper_sines():
    """The paper's 1D set: N=5000, length 100, mu ~ U[-3, 3], sigma in {1.0..2.2}."""
    return sine_study(n=5000, length=100, seed=0, device="cpu")


def test_shift_vae_recovers_the_offset(paper_sines):
    shift = paper_sines.runs["shift_vae"].metrics["shift"]
    assert shift["r2"] >= 0.99
    assert abs(abs(shift["slope"]) - 1) <= 0.10


def test_shift_vae_collapses_one_latent_and_tracks_sigma_with_the_other(paper_sines):
    m = paper_sines.runs["shift_vae"].metrics
    spread = np.array(m["collapse"]["std"])
    collapsed, active = np.argmin(spread), np.argmax(spread)
    assert spread[collapsed] < 0.1
    assert abs(m["r_sigma"][active]) >= 0.95


def test_plain_vae_does_not_separate_the_offset(paper_sines):
    m = paper_sines.runs["vae"].metrics
    # without shift latents the offset has to live in the conventional latents: none collapses
    assert min(m["collapse"]["std"]) > 0.3
    # and no single latent tracks sigma cleanly, the two factors are entangled
    assert max(abs(r) for r in m["r_sigma"]) < 0.95


@pytest.fixture(scope="module")
def lattice():
    """Patches at random offsets over one period, rotations -2..2 deg (paper Fig. 4)."""
    return lattice_study(n=2000, window=16, period=8.0, seed=0, device="cpu")


def test_shift_vae_conventional_latents_collapse_on_the_lattice(lattice):
    spread = lattice.runs["shift_vae"].metrics["collapse"]["std"]
    assert max(spread) < 0.1


def test_plain_vae_latents_do_not_collapse_on_the_lattice(lattice):
    spread = lattice.runs["vae"].metrics["collapse"]["std"]
    assert min(spread) > 0.3


def test_moving_the_pattern_by_d_pixels_moves_the_encoded_shift_by_d(lattice):
    """The encoded shift is a position: displacing a patch's content by d px adds ~d px."""
    model = lattice.runs["shift_vae"].model
    image = lattice_image(size=64, period=8.0, displacement=0.0, seed=0)
    rng = np.random.default_rng(1)
    corners = rng.integers(8, 40, size=(50, 2))
    for axis, d in ((0, 1), (1, 1), (0, 2), (1, -2)):
        moved = corners.copy()
        moved[:, axis] -= d  # a window d px further up/left sees the lattice d px further on
        s0 = model.encode(_cut(image, corners, 16)).shift_mean[:, axis]
        s1 = model.encode(_cut(image, moved, 16)).shift_mean[:, axis]
        step = (s1 - s0 + 4.0) % 8.0 - 4.0  # positions are defined modulo the period
        assert abs(np.median(step) - d) < 0.35, (axis, d, np.median(step))


def _cut(image: np.ndarray, corners: np.ndarray, window: int) -> np.ndarray:
    return np.stack([image[r : r + window, c : c + window] for r, c in corners])
