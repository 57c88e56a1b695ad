"""One registration of the whole image: smooth fields, the branch decided once, real steps kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shiftvae as sv
from shiftvae.lattice.estimate import estimate_lattice
from shiftvae.lattice.registration import register
from shiftvae.model.position import angles_around
from shiftvae.pipeline.fit import FitConfig, build_model, fit_image, image_patches, resolve_geometry
from shiftvae.synthetic.alike_crystals import alike_sublattice_crystal, half_cell_share

HK = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [2, 0], [0, 2], [2, 1], [1, 2]])


def _scene(rng, rows=14, cols=14, ratio=None, noise=0.0, antiphase=None):
    """Fourier coefficients of patches centred on the sites of a random lattice with a smooth
    displacement field: A (1) at the corner, B (ratio) at the centre of each cell."""
    turn = rng.uniform(0, np.pi)
    period = rng.uniform(9, 14)
    vectors = period * np.array([[np.cos(turn), np.sin(turn)], [-np.sin(turn), np.cos(turn)]])
    ij = np.stack(np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij"), -1)
    centers = ij.reshape(-1, 2) @ vectors + rng.uniform(0, period, 2)
    wave = 2 * np.pi * rng.uniform(0.5, 1.5, 2) / (rows * period)
    u = (
        0.15
        * period
        * np.column_stack(  # smooth, up to 0.15 cell, unknown to register()
            [np.sin(centers @ wave + 1.0), np.cos(centers[:, ::-1] @ wave)]
        )
    )
    shift = (
        np.zeros_like(centers) if antiphase is None else antiphase(centers)[:, None] * [0.5, 0.5]
    )
    sites = u + shift @ vectors  # where A sits, relative to the perfect lattice
    freqs = HK @ np.linalg.inv(vectors).T
    parity = (-1.0) ** HK.sum(1)
    b = np.full(len(centers), 0.5) if ratio is None else ratio(centers)
    motif = 1.0 + b[:, None] * parity  # F_G of A at 0, B at the centre
    coef = motif * np.exp(2j * np.pi * (sites - centers) @ freqs.T)
    coef += noise * (rng.standard_normal(coef.shape) + 1j * rng.standard_normal(coef.shape))
    truth = 2 * np.pi * (sites - centers) @ np.linalg.inv(vectors)  # position angles of A
    return coef, centers, (rows, cols), vectors, truth, u


def _off(angles, truth) -> np.ndarray:
    """Patches whose angles are more than a quarter cell from the truth on some axis."""
    return (np.abs(np.angle(np.exp(1j * (angles - truth)))) > np.pi / 2).any(axis=1)


@pytest.mark.parametrize("seed", range(4))
def test_registration_recovers_a_smooth_displacement_field_of_a_random_lattice(seed):
    rng = np.random.default_rng(seed)
    coef, centers, grid, vectors, truth, u = _scene(rng, noise=0.02)
    reg = register(coef, HK, centers, grid, vectors)
    np.testing.assert_allclose(reg.displacement, u - u.mean(0), atol=0.05 * np.abs(vectors).max())
    assert not _off(reg.angles, truth).any()
    assert reg.branch.sum() == 0 and reg.n_flipped == 0


@pytest.mark.parametrize("seed", range(3))
def test_where_the_sublattices_look_alike_the_branch_follows_the_whole_image(seed):
    rng = np.random.default_rng(seed)
    # B/A runs from 0.3 to 1.0 across the image: alike on the right, A == B at the edge
    ratio = lambda c: np.clip(0.3 + 0.8 * (c[:, 1] - c[:, 1].min()) / np.ptp(c[:, 1]), 0, 1)  # noqa: E731
    coef, centers, grid, vectors, truth, _ = _scene(rng, 20, 20, ratio=ratio, noise=0.06)
    local = np.angle(coef[:, :2])  # each patch alone: the fundamentals' own phases
    reg = register(coef, HK, centers, grid, vectors)
    assert _off(local, truth).mean() > 0.02  # the patches alone do jump
    assert _off(reg.angles, truth).mean() <= 0.005
    assert reg.branch.sum() == 0  # no boundary invented


def test_a_real_antiphase_boundary_is_kept_as_a_step():
    rng = np.random.default_rng(7)
    side = lambda c: (c @ np.array([0.6, 0.8]) > np.median(c @ np.array([0.6, 0.8]))).astype(float)  # noqa: E731
    coef, centers, grid, vectors, truth, _ = _scene(
        rng, rows=16, cols=16, noise=0.05, antiphase=side
    )
    reg = register(coef, HK, centers, grid, vectors)
    assert 0 < reg.branch.sum() < len(reg.branch)
    assert 1 - _off(reg.angles, truth).mean() >= 0.95
    assert "antiphase boundary" in reg.note


def _anchors(image, truth) -> tuple[float, float, object]:
    """Half-cell shares of each patch's own anchor and of the registered one (no training)."""
    config = FitConfig(seed=0)
    img = sv.Image(image, None, "px", "crystal")
    geo = resolve_geometry(img, config)
    patches = image_patches(img, geo, config)
    model = build_model(patches.data.shape[1:], geo, config)
    x = torch.as_tensor(patches.data)
    fit = model.module_.lattice_fit
    local = torch.atan2(*fit.anchor(fit.coefficients(x)).unbind(-1)[::-1]).numpy()
    registered = model._register(patches, x).cpu().numpy()
    cell = np.asarray(model.config.lattice) * patches.binning
    share = [
        half_cell_share(a / (2 * np.pi) @ cell, patches.centers, truth) for a in (local, registered)
    ]
    return share[0], share[1], model.registration_


def test_an_image_whose_sublattices_become_alike_is_read_without_half_cell_jumps():
    image, truth = alike_sublattice_crystal(size=384, seed=3)
    local, registered, reg = _anchors(image, truth)
    assert local > 0.05  # what each patch alone reads
    assert registered <= 0.005, reg.note


def test_an_antiphase_boundary_keeps_the_full_cell_and_its_step():
    image, truth = alike_sublattice_crystal(
        size=384, antiphase=True, ratio_range=(0.5, 0.5), seed=2
    )
    # across the boundary the weak reflections cancel in the whole image's transform
    assert np.allclose(estimate_lattice(image).periods, 16.0, rtol=0.02)
    _, registered, reg = _anchors(image, truth)
    assert 0 < reg.branch.sum() < len(reg.branch)
    assert registered <= 0.05, reg.note


def test_sublattices_equal_everywhere_give_the_smaller_cell():
    image, _ = sv.synthetic.intensity_ratio_crystal(
        size=256, cell=20.0, ratio_range=(1.0, 1.0), seed=0
    )
    lattice = estimate_lattice(image)
    assert np.allclose(lattice.periods, 20 / np.sqrt(2), rtol=0.02)
    result = fit_image(
        sv.Image(image, None, "px", "equal"), FitConfig(epochs=2, phases=None), progress=False
    )
    note = result.metrics["registration"]["note"]
    assert note.startswith("no half-cell translation to resolve"), note


def test_a_fit_reports_and_saves_its_registration(tmp_path):
    image, _ = alike_sublattice_crystal(size=192, seed=1)
    result = fit_image(
        sv.Image(image, None, "px", "alike"), FitConfig(epochs=2, phases=None), progress=False
    )
    reg = result.metrics["registration"]
    assert reg["cells"] == len(result.patches)
    gap = np.angle(np.exp(1j * (result.encoding.phase_mean - result.model.registration_.angles)))
    assert reg["disagree"] == int((np.abs(gap) > np.pi / 4).any(axis=1).sum())
    assert np.abs(gap).max() < np.pi / 2  # never off the registered branch
    assert result.maps.registration.shape == (3, *result.maps.z.shape[1:])
    sv.save_results(result, tmp_path / "run")
    back = sv.load_results(tmp_path / "run")
    np.testing.assert_allclose(back.maps.registration, result.maps.registration, atol=1e-4)
    assert back.metrics["registration"] == reg
    report = (tmp_path / "run" / "report.html").read_text()
    assert "the lattice registered over the whole image" in report
    blur = result.geometry.background
    assert f"a Gaussian blur of the image, std {blur:.0f} px" in report  # what was done
    assert f"Gaussian, noise std {result.model.config.gaussian_std:.3g}" in report


def test_the_encoders_correction_never_moves_a_position_off_its_anchor_by_a_quarter_cell():
    g = torch.Generator().manual_seed(0)
    anchor_angles = torch.rand(500, 2, generator=g) * 2 * np.pi - np.pi
    anchor = torch.stack([torch.cos(anchor_angles), torch.sin(anchor_angles)], -1)
    raw = 3 * torch.randn(500, 4, generator=g)  # large corrections, some straight back
    raw[:50] = -2 * anchor[:50].flatten(1)  # exactly opposite: half a cell if unbounded
    angles = angles_around(anchor, raw, np.pi / 2)
    gap = torch.remainder(angles - anchor_angles + np.pi, 2 * np.pi) - np.pi
    assert gap.abs().max() < np.pi / 2
    # small corrections are what the plain sum of vectors gives
    small = 1e-3 * torch.randn(500, 4, generator=g)
    plain = torch.atan2(*(small.unflatten(-1, (-1, 2)) + anchor).unbind(-1)[::-1])
    torch.testing.assert_close(angles_around(anchor, small, np.pi / 2), plain, atol=1e-6, rtol=0)
