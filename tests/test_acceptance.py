"""The quality bars of the method on the paper's synthetic data (DESIGN section 6).

These train real models on full-size data sets generated in the test, so they are the
slowest tests of the suite (tens of seconds each on 2 cores).
"""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.studies import lattice_study, sine_study

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
