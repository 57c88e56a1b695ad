"""Strain of a polycrystal, grain by grain, against known truth."""

from __future__ import annotations

import numpy as np
import pytest

from shiftvae.analysis.grain_strain import grain_strain_maps, ring_period
from shiftvae.errors import InputError
from shiftvae.synthetic.grains import polycrystal


def test_each_grain_is_found_and_its_strain_measured_inside():
    cell = 12.0
    image, truth = polycrystal(size=384, cell=cell, grains=4, strain=0.03, seed=3)
    maps = grain_strain_maps(image)
    rows, cols = np.mgrid[:384, :384]
    points = np.column_stack([rows.ravel(), cols.ravel()]).astype(float)
    # every grain found has the orientation of the true grain under it (mod 90 degrees)
    for k, theta in enumerate(maps.orientation):
        true = truth.orientation(points[(maps.grains == k).ravel()])
        gap = np.abs((true - theta + 45) % 90 - 45)
        assert np.median(gap) < 1.5
    assert len(maps.orientation) >= 3
    # inside the grains (two resolutions from a true boundary) the mean normal strain
    # follows the truth within 0.5% RMS (bench_grain_strain.py: at most 0.19%)
    far = truth.interior((384, 384), 2 * maps.per_grain[0].resolution)
    scored = far & np.isfinite(maps.exx)
    assert scored.sum() > 0.3 * far.sum()
    scale = truth.scale(points).reshape(384, 384)[scored]
    error = (maps.exx[scored] + maps.eyy[scored]) / 2 - 100 * (scale * cell / maps.period - 1)
    assert np.sqrt(np.mean(error**2)) < 0.5
    # one StrainMaps for the outputs, with the grain labels
    flat = maps.as_strain_maps()
    assert np.array_equal(flat.clear, np.isfinite(maps.exx)) and flat.grains is maps.grains


def test_the_ring_period_of_a_polycrystal():
    image, _ = polycrystal(size=256, cell=11.0, grains=6, seed=0)
    assert ring_period(image) == pytest.approx(11.0, rel=0.02)


@pytest.mark.parametrize(
    ("image", "symmetry", "says"),
    [
        (np.random.default_rng(0).random((256, 256)), 4, "no ring"),
        (polycrystal(size=256, grains=3, seed=0)[0], 5, "symmetry must be 4"),
    ],
)
def test_no_grains_is_said_in_one_sentence(image, symmetry, says):
    with pytest.raises(InputError, match=says):
        grain_strain_maps(image, symmetry=symmetry)


def test_a_reference_region_sets_the_common_cell():
    """The grains inside the region read no strain there on average; a region on no grain
    is refused in one sentence."""
    image, _ = polycrystal(size=384, cell=12.0, grains=4, strain=0.03, seed=3)
    free = grain_strain_maps(image)
    k = int(np.bincount(free.grains[free.grains >= 0]).argmax())  # the largest grain
    rows, cols = np.nonzero(np.isfinite(free.exx) & (free.grains == k))
    r, c = int(np.median(rows)), int(np.median(cols))
    region = (r - 12, c - 12, r + 12, c + 12)
    pinned = grain_strain_maps(image, region=region)
    inside = pinned.exx[region[0] : region[2], region[1] : region[3]]
    mean = (inside + pinned.eyy[region[0] : region[2], region[1] : region[3]]) / 2
    assert abs(np.nanmedian(mean)) < 0.1  # percent
    assert pinned.period != free.period
    with pytest.raises(InputError, match="lies on no measured grain"):
        grain_strain_maps(image, region=(0, 0, 10, 10))
