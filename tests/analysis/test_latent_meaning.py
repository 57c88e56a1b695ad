"""What each latent means in pm: measured on the decoded motif of a trained model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.analysis.latent_meaning import describe_meanings, latent_meanings
from shiftvae.pipeline import FitConfig, fit_image
from shiftvae.synthetic.crystals import displacement_domain_crystal

PM_PER_PX = 390.5 / 28  # the crystal's 28 px cell taken as SrTiO3's


@pytest.fixture(scope="module")
def domains():
    """B moved by +-25 pm along a1 in two domains; a calibrated image, fitted by defaults."""
    data, truth = displacement_domain_crystal(
        size=320, displacement=25 / PM_PER_PX, b_ratio=0.5, seed=0
    )
    image = sv.Image(data, PM_PER_PX / 1000, "nm", "domains")
    return fit_image(image, FitConfig(seed=0), progress=False), truth


def test_one_latent_moves_b_by_the_domains_difference_in_pm(domains):
    result, truth = domains
    meanings = result.metrics["latent_meanings"]
    assert [m["latent"] for m in meanings] == ["z1", "z2"]
    assert all(m["site1"]["unit"] == "pm" for m in meanings)
    axis = truth.lattice_vectors[0] / np.linalg.norm(truth.lattice_vectors[0])
    along = [abs(np.dot(m["site1"]["displacement_over_range"], axis)) for m in meanings]
    # the domains differ by 50 pm; the decoder's motif carries most of it on one latent
    assert 25 < max(along) < 75, along
    lines = describe_meanings(meanings)
    assert len(lines) == 2 and "pm along x" in lines[int(np.argmax(along))]


def test_a_model_without_a_lattice_means_nothing_in_pm(domains):
    result, _ = domains
    paper_model = SimpleNamespace(config=SimpleNamespace(lattice=None), data_shape=(42, 42))
    assert latent_meanings(paper_model, result.encoding, result.image) == []
