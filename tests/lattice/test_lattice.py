"""estimate_lattice and Lattice: generated lattices of every kind, full cells, robustness."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shiftvae as sv
from conftest import motif_image, shared_file
from shiftvae.errors import InputError
from shiftvae.lattice.estimate import Lattice, NoLatticeError, estimate_lattice

PERIOD_TOL = 0.01  # the documented accuracy: periods within 1 %, angles within 1 degree
ANGLE_TOL = 1.0


def lattice_image(shape, vectors, motif=((0.0, 0.0, 1.0),), sigma=None, noise=0.0, seed=0):
    """Gaussian atoms at ``i * a1 + j * a2 + (u, v) @ (a1, a2)`` (origin at pixel 0, 0)."""
    return motif_image(shape, vectors, (0.0, 0.0), motif, sigma, noise, seed)


def rotation(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def assert_same_lattice(found: Lattice, vectors, tol=PERIOD_TOL, angle_tol=ANGLE_TOL):
    """Same lattice: same point set (unimodular change of basis), periods and angle close."""
    true = Lattice(vectors, (0, 0)).reduced()
    change = found.vectors @ np.linalg.inv(true.vectors)  # integer, det +-1 for the same set
    assert np.allclose(change, np.round(change), atol=0.05), change
    assert abs(abs(np.linalg.det(np.round(change))) - 1) < 1e-9, change
    np.testing.assert_allclose(np.sort(found.periods), np.sort(true.periods), rtol=tol)
    assert abs(found.angle_deg - true.angle_deg) <= angle_tol
    assert found.area == pytest.approx(true.area, rel=2 * tol)


@st.composite
def lattices(draw):
    """(shape, reduced vectors): square, rectangular, oblique or hexagonal, any rotation."""
    kind = draw(st.sampled_from(["square", "rectangular", "oblique", "hexagonal"]))
    shape = (draw(st.integers(256, 384)), draw(st.integers(256, 384)))
    ratio = {"square": 1.0, "hexagonal": 1.0}.get(kind) or draw(st.floats(1.1, 1.8))
    angle = {"hexagonal": 60.0, "oblique": draw(st.floats(62.0, 85.0))}.get(kind, 90.0)
    # periods 6-30 px, the longer one at most 1/8 of the image (8 periods across)
    period = min(draw(st.floats(6.0, 30.0)), min(shape) / 8 / ratio)
    theta = np.radians(draw(st.floats(0.0, 180.0)))
    a2 = period * ratio * np.array([np.sin(np.radians(angle)), np.cos(np.radians(angle))])
    vectors = np.stack([[0.0, period], a2]) @ rotation(theta).T
    return shape, Lattice(vectors, (0, 0)).reduced().vectors


@settings(max_examples=25, deadline=None)
@given(lattice=lattices(), noise=st.floats(0.0, 0.5), seed=st.integers(0, 2**16))
def test_random_lattices_are_recovered(lattice, noise, seed):
    shape, vectors = lattice
    found = estimate_lattice(lattice_image(shape, vectors, noise=noise, seed=seed))
    assert_same_lattice(found, vectors)
    assert found.confidence >= 0.9
    # Gauss-reduced: |a1| <= |a2|, angle in [60, 90]
    assert found.periods[0] <= found.periods[1] + 1e-9
    assert 60 - 1e-6 <= found.angle_deg <= 90 + 1e-6


def test_full_cell_of_a_centred_motif_not_the_stronger_planes():
    """A columns at the corners, dim B columns at the centres of a 42 px square cell."""
    vectors = 42.0 * np.eye(2)
    motif = ((0.0, 0.0, 1.0), (0.5, 0.5, 0.6))
    image = lattice_image((400, 400), vectors, motif, sigma=5.0, noise=0.1)
    found = estimate_lattice(image)
    assert_same_lattice(found, vectors)  # 42 px, not the 42 / sqrt(2) = 29.7 px planes
    # the origin sits on an A column (the brighter sublattice), near the centre
    assert np.allclose(found.origin % 42, 0, atol=0.5) or np.allclose(
        found.origin % 42, 42, atol=0.5
    )
    assert np.all(np.abs(found.origin - 199.5) <= 42)


def test_rectangular_cell_with_a_dim_column_on_the_long_edge():
    """The layout of the real perovskite image: 29.5 x 42 px, B columns half-way along a2."""
    vectors = np.array([[29.5, 0.0], [0.0, 42.0]])
    image = lattice_image((380, 400), vectors, ((0, 0, 1.0), (0, 0.5, 0.5)), 5.0, 0.1)
    assert_same_lattice(estimate_lattice(image), vectors)


@pytest.mark.parametrize("clutter", ["blob", "disc"])
def test_background_and_particle_contrast_do_not_matter(clutter):
    vectors = Lattice([[0.0, 12.0], [10.392, 6.0]], (0, 0)).vectors  # hexagonal, 12 px
    image = lattice_image((320, 300), vectors, noise=0.2, seed=2)
    r, c = np.indices(image.shape)
    if clutter == "blob":  # slow background 5 times the atoms
        image += 5 * np.exp(-((r - 100) ** 2 + (c - 200) ** 2) / (2 * 60.0**2))
    else:  # a thick particle: brighter, more contrast, sharp edge
        disc = np.hypot(r - 160, c - 150) < 80
        image = image * (1 + 2 * disc) + 3 * disc
    found = estimate_lattice(image)
    assert_same_lattice(found, vectors)


def test_large_image_is_read_from_a_crop_with_the_right_periods():
    vectors = np.array([[3.0, 20.0], [17.0, -8.0]])
    found = estimate_lattice(lattice_image((160, 2300), vectors, noise=0.2))
    assert_same_lattice(found, vectors)
    assert 0 <= found.origin[1] < 2300 and abs(found.origin[1] - 1149.5) < 25


def test_clean_image_without_noise():
    vectors = np.array([[0.0, 7.0], [7.0, 0.0]])
    assert_same_lattice(estimate_lattice(lattice_image((256, 256), vectors)), vectors)


def test_origin_is_on_an_atom_near_the_centre():
    vectors = np.array([[0.0, 16.0], [13.856, 8.0]])
    found = estimate_lattice(lattice_image((300, 300), vectors, noise=0.05))
    frac = found.origin @ np.linalg.inv(vectors)  # the generated atoms sit at integers
    assert np.allclose(frac, np.round(frac), atol=0.3 / 16)
    assert np.hypot(*(found.origin - 149.5)) <= 16


@pytest.mark.parametrize(
    "image",
    [
        np.random.default_rng(0).standard_normal((300, 300)),
        np.cos(2 * np.pi * np.indices((256, 256))[1] / 12.0),  # stripes: one direction only
    ],
    ids=["noise", "stripes"],
)
def test_no_lattice_raises(image):
    with pytest.raises(NoLatticeError, match="no clear lattice"):
        estimate_lattice(image)


def test_confidence_below_the_minimum_raises():
    image = lattice_image((256, 256), 16 * np.eye(2), noise=0.1)
    assert estimate_lattice(image, min_confidence=1.0).confidence == pytest.approx(1.0)
    with pytest.raises(InputError, match="min_confidence"):
        estimate_lattice(image, min_confidence=1.5)


def test_tiny_image_is_refused():
    with pytest.raises(InputError, match="too small"):
        estimate_lattice(np.random.default_rng(0).random((20, 40)))


def test_lattice_methods_and_round_trip():
    lat = Lattice([[0.0, 10.0], [5.0, 5.0]], [2.0, 3.0], 0.75)
    np.testing.assert_allclose(lat.reciprocal @ lat.vectors.T, np.eye(2), atol=1e-12)
    points = np.array([[2.0, 3.0], [7.0, 18.0], [-1.5, 4.0]])
    np.testing.assert_allclose(lat.to_pixels(lat.to_fractional(points)), points)
    np.testing.assert_allclose(lat.to_fractional([[7.0, 18.0]]), [[1.0, 1.0]])
    again = Lattice.from_dict(json.loads(json.dumps(lat.as_dict())))
    np.testing.assert_array_equal(again.vectors, lat.vectors)
    assert again.confidence == 0.75 and lat.angle_deg == pytest.approx(45.0)
    reduced = lat.reduced()  # (5, 5) and (-5, 5): same cell, 90 degrees
    assert reduced.angle_deg == pytest.approx(90.0) and reduced.area == pytest.approx(lat.area)


@pytest.mark.parametrize(
    ("vectors", "origin", "match"),
    [
        ([[1.0, 2.0], [2.0, 4.0]], [0, 0], "collinear"),
        ([[1.0, np.nan], [2.0, 4.0]], [0, 0], "finite"),
        ([1.0, 2.0], [0, 0], "finite"),
        ([[1.0, 0.0], [0.0, 1.0]], [0, 0, 0], "origin"),
    ],
)
def test_bad_lattice_is_refused(vectors, origin, match):
    with pytest.raises(InputError, match=match):
        Lattice(vectors, origin)


@pytest.mark.shared_data
def test_real_perovskite_full_cell():
    found = estimate_lattice(sv.read_image(shared_file("perovskite_adf_atomap.hdf5")))
    # 29.4 px along rows (A-A), 42 px along columns (A-B-A): the B columns halve neither
    np.testing.assert_allclose(np.sort(found.periods), [29.4, 41.95], rtol=0.01)
    assert found.angle_deg == pytest.approx(90.0, abs=1.0)
    assert found.confidence >= 0.9


@pytest.mark.shared_data
def test_real_mos2_hexagonal():
    found = estimate_lattice(sv.read_image(shared_file("mos2_se_implanted_adf.dm3")))
    # hexagonal, about 23.3 px; scan distortion opens the angle to about 63 degrees
    np.testing.assert_allclose(found.periods, 23.3, rtol=0.03)
    assert 58.0 <= found.angle_deg <= 65.0
    assert found.confidence >= 0.9
