"""The error bars of column centres and displacements: they cover the truth, grow with the
noise and with dimmer columns, and follow the file's calibration."""

from __future__ import annotations

import numpy as np
import pytest

import shiftvae as sv
from shiftvae.analysis.column_errors import column_errors
from shiftvae.analysis.columns import (
    above_noise,
    cage_displacements,
    displacement_errors,
    find_columns,
)
from shiftvae.lattice.estimate import estimate_lattice
from shiftvae.synthetic.crystal_scene import Microscope
from shiftvae.synthetic.crystals import displacement_domain_crystal


def measured(noise: float, jitter: float, shift: float = 1.8, seed: int = 0):
    """B's displacement along a1 from its cage, its predicted std and the truth (px)."""
    scope = Microscope(noise_level=noise, scan_jitter=jitter)
    data, truth = displacement_domain_crystal(
        size=384, displacement=shift, b_ratio=0.5, microscope=scope, seed=seed
    )
    columns = column_errors(find_columns(data, estimate_lattice(data)), data)
    moved = cage_displacements(columns, 1).reshape(-1, 2)
    std = columns.displacement_std[:, :, 1].reshape(-1, 2)
    found = columns.positions[:, :, 1].reshape(-1, 2)
    moved[~np.isfinite(std).all(1)] = np.nan  # scored where the error bar exists
    rows, _, error = truth.displacement_errors(found, moved)
    axis = truth.lattice_vectors[0] / np.linalg.norm(truth.lattice_vectors[0])
    return error, np.sqrt(std[rows] ** 2 @ axis**2), columns


@pytest.mark.parametrize(("noise", "jitter"), [(0.04, 0.3), (0.16, 0.3), (0.08, 0.0)])
def test_error_bars_are_honest(noise, jitter):
    """RMS error over the predicted std lies in 0.7-1.4, with or without scan jitter (which
    is no noise in the pixels), and two error bars cover about 95% of the cells."""
    error, predicted, _ = measured(noise, jitter)
    assert len(error) > 100
    ratio = np.sqrt(np.mean(error**2)) / np.sqrt(np.mean(predicted**2))
    assert 0.7 <= ratio <= 1.4, ratio
    assert np.mean(np.abs(error) < 2 * predicted) >= 0.85


def test_more_noise_and_dimmer_columns_get_larger_error_bars():
    _, quiet, columns = measured(0.04, 0.0)
    _, loud, _ = measured(0.16, 0.0)
    assert np.median(loud) > 2 * np.median(quiet)
    bright, dim = (np.nanmedian(columns.position_std[:, :, s]) for s in (0, 1))
    assert dim > bright  # B is half as bright as A


def test_no_displacement_stays_below_the_noise():
    """Where nothing moves, about 5% of cells (the test's false alarms) stand above their
    error; with 25 pm domains nearly all do."""
    _, _, still = measured(0.08, 0.3, shift=0.0)
    _, _, moving = measured(0.08, 0.3, shift=1.8)
    share = []
    for columns in (still, moving):
        moved = cage_displacements(columns, 1)
        flags = above_noise(moved, columns.displacement_std[:, :, 1])
        share.append(flags.sum() / np.isfinite(moved).all(-1).sum())
    assert share[0] < 0.15 and share[1] > 0.9


def test_error_bars_follow_the_calibration():
    data, _ = displacement_domain_crystal(size=256, seed=1)
    columns = column_errors(find_columns(data, estimate_lattice(data)), data)
    in_px = displacement_errors(columns, sv.Image(data, None, "px", "x"))[1]
    in_pm = displacement_errors(columns, sv.Image(data, 0.02, "nm", "x"))[1]
    np.testing.assert_allclose(in_pm, in_px * 20.0)
    assert np.isfinite(in_px).any()


def test_edge_cells_without_neighbours_give_nan_and_no_warning():
    """Fits run in threads, where silencing a warning is not safe: none may be raised
    (the test suite turns warnings into errors)."""
    from shiftvae.analysis.columns import nan_median

    stack = np.array([[np.nan, 1.0], [np.nan, 3.0]])
    out = nan_median(stack)
    assert np.isnan(out[0]) and out[1] == 2.0
