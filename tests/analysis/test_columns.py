"""Columns of every sublattice and their displacement from their cage, against known truth."""

from __future__ import annotations

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.analysis.columns import cage_displacements, find_columns, to_picometres
from shiftvae.lattice.estimate import Lattice, estimate_lattice

CELL = 16.0
SIDE = 192


def render(sites: np.ndarray, heights: np.ndarray, width: float = 1.8) -> np.ndarray:
    image = np.zeros((SIDE, SIDE))
    for dr in range(-6, 7):
        for dc in range(-6, 7):
            r = np.rint(sites[:, 0]).astype(int) + dr
            c = np.rint(sites[:, 1]).astype(int) + dc
            keep = (r >= 0) & (r < SIDE) & (c >= 0) & (c < SIDE)
            d2 = (r - sites[:, 0]) ** 2 + (c - sites[:, 1]) ** 2
            np.add.at(image, (r[keep], c[keep]), heights[keep] * np.exp(-d2[keep] / (2 * width**2)))
    return image


def perovskite(shift) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A columns on a 16 px square cell, B (0.4 as bright) at its centre moved by
    ``shift(B) -> (N, 2)`` px, all under a scan drift; returns the image, where each B is
    seen, and its own shift."""
    n = np.arange(-1, SIDE / CELL + 1)
    a = np.stack(np.meshgrid(n, n, indexing="ij"), -1).reshape(-1, 2) * CELL + 3.0
    b = a + CELL / 2
    moved = b + shift(b)

    def drift(p):  # a slow scan drift along the rows: moves A and B alike
        return np.column_stack([np.zeros(len(p)), 0.75 * np.sin(2 * np.pi * p[:, 0] / SIDE)])

    a, seen = a + drift(a), moved + drift(moved)
    image = render(np.vstack([a, seen]), np.r_[np.ones(len(a)), 0.4 * np.ones(len(b))])
    return image, seen, moved - b


def test_both_sublattices_are_found_and_each_b_is_read_from_its_four_a():
    """B displaced +-1.5 px along the rows in two halves (a 180 degree wall), plus a
    smooth drift that moves A and B together: the drift cancels in the cage."""

    def shift(b):
        return np.column_stack([np.where(b[:, 1] < SIDE / 2, 1.5, -1.5), np.zeros(len(b))])

    image, seen, truth = perovskite(shift)
    lattice = Lattice(np.eye(2) * CELL, np.array([3.0, 3.0]))
    columns = find_columns(image, lattice)
    assert len(columns.sites) == 2
    np.testing.assert_allclose(columns.sites[1] - columns.sites[0], [0.5, 0.5], atol=0.1)
    # with A subtracted, B is fitted over a window sized by the B-B distance (the cell)
    assert columns.rest_half == min(12, round(0.3 * CELL)) > columns.half
    moved = cage_displacements(columns, site=1)
    found = columns.positions[:, :, 1].reshape(-1, 2)
    values = moved.reshape(-1, 2)
    ok = np.isfinite(values).all(1)
    assert ok.sum() >= 80
    nearest = np.argmin(np.linalg.norm(found[ok][:, None] - seen[None], axis=-1), 1)
    expected = truth[nearest]  # from the cell's centre: B's centrosymmetric position
    np.testing.assert_allclose(values[ok], expected, atol=0.15)  # the drift curves: 0.1 px


def test_calibration_turns_pixels_into_picometres():
    image = sv.Image(np.zeros((4, 4)), 0.02, "nm", "x")
    value, unit = to_picometres(np.array([1.5]), image)
    assert unit == "pm" and value[0] == pytest.approx(30.0)
    value, unit = to_picometres(np.array([1.5]), sv.Image(np.zeros((4, 4)), None, "px", "x"))
    assert unit == "px" and value[0] == 1.5


def test_a_site_that_does_not_exist_is_one_sentence():
    image, _, _ = perovskite(lambda b: 0 * b)
    columns = find_columns(image, Lattice(np.eye(2) * CELL, np.array([3.0, 3.0])))
    with pytest.raises(sv.InputError, match="among the 2 sublattices"):
        cage_displacements(columns, site=5)
    with pytest.raises(sv.InputError, match="from itself"):
        cage_displacements(columns, site=0)


def test_ti_displacements_of_an_abtem_image_of_srtio3():
    """A multislice-quality image (abTEM PRISM, shipped): Ti moved by +-25 pm along x in
    two domains, read from the centre of each Sr cage; noise-free and at 1e5 e/A^2
    (bench_physics_abtem.py: 0.07 pm and 2.95-3.06 pm)."""
    from pathlib import Path

    from scipy.spatial import cKDTree

    data = np.load(Path(__file__).parents[2] / "benchmarks" / "data" / "abtem_sto_domains.npz")
    clean, step = data["image"].astype(np.float64), float(data["pixel_size_A"])
    for image, limit in (
        (clean, 0.5),
        (np.random.default_rng(0).poisson(clean * 1e5 * step**2), 4.0),
    ):
        image = np.asarray(image, dtype=np.float64)
        columns = find_columns(image, estimate_lattice(image))
        site = int(np.argmin(np.abs(np.abs((columns.sites + 0.5) % 1 - 0.5) - 0.5).sum(1)))
        found = columns.positions[:, :, site].reshape(-1, 2)
        moved = cage_displacements(columns, site).reshape(-1, 2)
        ok = np.isfinite(moved).all(1)
        distance, index = cKDTree(data["ti_rowcol"]).query(found[ok])
        assert (distance < 3).sum() >= 60  # the 64 Ti with a whole cage inside
        error = moved[ok][distance < 3, 1] * 100 * step - data["ti_shift_pm"][index[distance < 3]]
        assert np.sqrt(np.mean(error**2)) < limit
