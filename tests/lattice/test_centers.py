"""Patch centres on the lattice, atom columns of one sublattice, patches at sub-pixel centres."""

from __future__ import annotations

import numpy as np
import pytest

import shiftvae as sv
from conftest import motif_image, shared_file
from shiftvae.errors import InputError
from shiftvae.lattice.centers import (
    atom_centers,
    check_lattice_option,
    cut_patches,
    lattice_centers,
)
from shiftvae.lattice.estimate import Lattice, estimate_lattice
from shiftvae.lattice.peaks import refine_maxima

A = np.array([[1.5, 19.0], [17.5, -2.0]])  # slightly rotated, oblique 19 x 17.6 px cell
ORIGIN = np.array([10.3, 7.6])
B_SITE = (0.5, 0.5)  # fractional position of the dimmer sublattice


def lattice_image(shape, vectors, origin, motif=((0.0, 0.0, 1.0),), sigma=2.5, noise=0.0):
    """Gaussian columns at ``origin + (i + u) * a1 + (j + v) * a2`` for each (u, v, amp)."""
    return motif_image(shape, vectors, origin, motif, sigma, noise)


def sites(shape, vectors, origin, window, shift=(0.0, 0.0)):
    """Every site origin + (i, j) + shift whose window fits: the brute-force answer."""
    i, j = np.mgrid[-30:31, -30:31]
    points = origin + (np.stack([i.ravel(), j.ravel()], axis=1) + shift) @ vectors
    half = (window - 1) / 2
    inside = np.all((points >= half) & (points <= np.array(shape) - 1 - half), axis=1)
    return points[inside]


def as_set(points):
    return {tuple(p) for p in np.round(points, 6)}


def test_lattice_centers_are_the_sites_whose_window_fits():
    lattice = Lattice(A, ORIGIN)
    centers = lattice_centers((150, 170), lattice, window=24)
    assert as_set(centers) == as_set(sites((150, 170), A, ORIGIN, 24))
    frac = lattice.to_fractional(centers)
    np.testing.assert_allclose(frac, np.round(frac), atol=1e-9)
    assert np.all(np.diff(centers[:, 0]) >= 0)  # sorted by row, then column
    same_row = np.diff(centers[:, 0]) == 0
    assert np.all(np.diff(centers[:, 1])[same_row] > 0)


def test_lattice_centers_every_other_cell():
    lattice = Lattice(A, ORIGIN)
    every = lattice_centers((150, 170), lattice, window=16)
    second = lattice_centers((150, 170), lattice, window=16, cells_per_step=2)
    frac = np.round(lattice.to_fractional(second))
    assert np.all(frac % 2 == 0) and as_set(second) <= as_set(every)
    assert len(second) < len(every) / 2


def test_patches_at_lattice_centres_look_alike():
    image = lattice_image((150, 170), A, ORIGIN)
    image01 = (image - image.min()) / (image.max() - image.min())
    centers = lattice_centers(image.shape, Lattice(A, ORIGIN), window=24)
    patches = cut_patches(image01, centers, 24)
    assert patches.shape == (len(centers), 24, 24) and patches.dtype == np.float32
    # identical up to the cubic-spline interpolation error at sub-pixel centres
    assert np.abs(patches - patches[0]).max() < 0.02
    assert np.abs(patches - patches[0]).mean() < 0.002
    assert 0.0 <= patches.min() and patches.max() <= 1.0


@pytest.mark.parametrize(("sublattice", "shift"), [("brightest", (0.0, 0.0)), (1, B_SITE)])
def test_atom_centers_find_every_column_of_one_sublattice(sublattice, shift):
    motif = ((0.0, 0.0, 1.0), (*B_SITE, 0.5))
    image = lattice_image((160, 180), A, ORIGIN, motif, noise=0.02)
    lattice = Lattice(A, ORIGIN + np.array([3.0, -2.0]))  # an origin off the atoms must not matter
    found = atom_centers(image, lattice, window=20, sublattice=sublattice)
    true = sites(image.shape, A, ORIGIN, 20, shift)
    assert len(found) == len(true)
    distance = np.linalg.norm(found[:, None] - true[None], axis=2)
    assert distance.min(axis=1).max() < 0.3  # each found column is a true one
    assert distance.min(axis=0).max() < 0.3  # and every true column is found


def test_atom_centers_with_a_slightly_wrong_lattice():
    image = lattice_image((160, 180), A, ORIGIN, noise=0.02)
    found = atom_centers(image, Lattice(A * 1.005, ORIGIN), window=20, smooth=1.5)
    true = sites(image.shape, A, ORIGIN, 20)
    assert len(found) == len(true)
    assert np.linalg.norm(found[:, None] - true[None], axis=2).min(axis=0).max() < 0.3


def test_cut_patches_at_integer_centres_equal_slices():
    image = np.random.default_rng(1).random((40, 50))
    centers = np.array([[10.0, 12.0], [20.0, 30.0], [5.0, 5.0]])
    patches = cut_patches(image, centers, window=11, batch_size=2)
    for (r, c), patch in zip(centers.astype(int), patches):
        np.testing.assert_allclose(patch, image[r - 5 : r + 6, c - 5 : c + 6], atol=1e-5)
    even = cut_patches(image, np.array([[9.5, 9.5]]), window=10)  # even window: half-pixel centre
    np.testing.assert_allclose(even[0], image[5:15, 5:15], atol=1e-5)


def test_cut_patches_of_a_smooth_image_at_sub_pixel_centres():
    r, c = np.indices((64, 64))
    image = 0.5 + 0.4 * np.sin(r / 7.0) * np.cos(c / 9.0)
    patch = cut_patches(image, np.array([[30.25, 31.6]]), window=9)[0]
    rr, cc = np.indices((9, 9)) - 4.0
    expected = 0.5 + 0.4 * np.sin((rr + 30.25) / 7.0) * np.cos((cc + 31.6) / 9.0)
    np.testing.assert_allclose(patch, expected, atol=1e-3)


def test_refine_maxima_of_a_gaussian():
    r, c = np.indices((15, 15))
    image = np.exp(-((r - 7.3) ** 2 + (c - 6.8) ** 2) / (2 * 2.5**2))
    np.testing.assert_allclose(refine_maxima(image, [[7, 7]]), [[7.3, 6.8]], atol=0.03)


@pytest.mark.parametrize(
    ("vectors", "match"),
    [
        ([[0.0, 1.5], [12.0, 0.0]], "below 2 px"),
        ([[0.0, 300.0], [12.0, 0.0]], "larger than the image"),
        ([[0.0, 10.0], [0.5, 10.0]], "collinear"),
    ],
)
def test_inconsistent_lattice_is_refused(vectors, match):
    with pytest.raises(InputError, match=match):
        check_lattice_option(Lattice(vectors, (0, 0)), (128, 128))
    with pytest.raises(InputError, match=match):
        lattice_centers((128, 128), Lattice(vectors, (0, 0)), window=8)


def test_bad_inputs_are_refused():
    lattice = Lattice(A, ORIGIN)
    image = lattice_image((100, 100), A, ORIGIN)
    with pytest.raises(InputError, match="must be a shiftvae Lattice"):
        check_lattice_option(A, (100, 100))
    with pytest.raises(InputError, match="larger than the image"):
        lattice_centers((100, 100), lattice, window=101)
    with pytest.raises(InputError, match="no lattice site"):
        lattice_centers((40, 40), Lattice([[0, 30], [30, 0]], (0.0, 0.0)), window=39)
    with pytest.raises(InputError, match="window"):
        lattice_centers((100, 100), lattice, window=0)
    with pytest.raises(InputError, match=r"does not fit .*\(1 centre"):
        cut_patches(image, np.array([[50.0, 50.0], [3.0, 50.0]]), window=9)
    with pytest.raises(InputError, match=r"\(N, 2\)"):
        cut_patches(image, np.array([50.0, 50.0]), window=9)
    with pytest.raises(InputError, match="finite"):
        cut_patches(image, np.array([[np.nan, 50.0]]), window=9)
    with pytest.raises(InputError, match="sublattice=2 but the image shows 1"):
        atom_centers(image, lattice, window=9, sublattice=2)
    with pytest.raises(InputError, match="sublattice must be"):
        atom_centers(image, lattice, window=9, sublattice="dimmest")
    with pytest.raises(InputError, match="smooth"):
        atom_centers(image, lattice, window=9, smooth=-1.0)


@pytest.mark.shared_data
def test_real_perovskite_brightest_sublattice():
    image = sv.read_image(shared_file("perovskite_adf_atomap.hdf5")).data
    lattice = estimate_lattice(image)
    bright = atom_centers(image, lattice, window=64)
    dim = atom_centers(image, lattice, window=64, sublattice=1)
    sites = lattice_centers(image.shape, lattice, window=64)
    assert abs(len(bright) - len(sites)) <= 2 and len(dim) >= len(bright) - 12

    def level(points):
        return float(image[tuple(np.round(points).astype(int).T)].mean())

    assert level(bright) > 1.3 * level(dim)  # about 1.5 times
    # the bright columns sit on the lattice (within a tenth of a cell)
    frac = lattice.to_fractional(bright)
    assert np.abs(frac - np.round(frac)).max() < 0.1
