"""The torus position latent, the lattice decoder and the lattice fit of patches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import shiftvae as sv
from shiftvae.errors import InputError
from shiftvae.model.lattice_decoder import LatticeDecoder, harmonic_indices
from shiftvae.model.lattice_fit import LatticeFit
from shiftvae.model.position import (
    Move,
    kl_wrapped_normal_uniform,
    wrapped_normal_entropy,
    wrapped_normal_log_prob,
)

CELL = np.array([[12.0, 0.0], [0.0, 12.0]])
OBLIQUE = np.array([[10.0, 2.0], [-3.0, 11.0]])


def two_sublattice(shape, cell, offset, ratio=0.5, width=1.5):
    """A at the cell corners, B (ratio x A) at the centres, moved by ``offset`` px."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    out = np.zeros(shape)
    for i in range(-3, 6):
        for j in range(-3, 6):
            a = i * cell[0] + j * cell[1] + np.asarray(offset)
            for site, amp in ((a, 1.0), (a + (cell[0] + cell[1]) / 2, ratio)):
                out += amp * np.exp(-((rows - site[0]) ** 2 + (cols - site[1]) ** 2) / 2 / width**2)
    return out / out.max()


# --- the wrapped normal ---------------------------------------------------------------------


def test_kl_is_gaussian_for_small_sigma_and_zero_for_large():
    sigma = torch.tensor([0.05, 0.2, 0.45], dtype=torch.float64)
    gaussian = math.log(2 * math.pi) - 0.5 * torch.log(2 * math.pi * math.e * sigma**2)
    torch.testing.assert_close(kl_wrapped_normal_uniform(sigma[:, None]), gaussian)
    wide = kl_wrapped_normal_uniform(torch.tensor([[4.0], [30.0]], dtype=torch.float64))
    assert 0 <= float(wide.max()) < 1e-6


def test_kl_is_continuous_positive_and_decreasing_in_sigma():
    sigma = torch.linspace(0.01, 5.0, 500, dtype=torch.float64, requires_grad=True)
    kl = kl_wrapped_normal_uniform(sigma[:, None])
    kl.sum().backward()
    assert (kl >= -1e-12).all()
    assert (kl[1:] <= kl[:-1] + 1e-12).all()  # monotone: a wider posterior costs less
    assert torch.isfinite(sigma.grad).all() and (sigma.grad <= 1e-12).all()
    below, above = kl_wrapped_normal_uniform(torch.tensor([[0.5 - 1e-9], [0.5]]))
    assert abs(float(below - above)) < 1e-6


@pytest.mark.parametrize("sigma", [0.3, 0.8, 1.5, 2.5])
def test_entropy_matches_monte_carlo_of_wrapped_samples(sigma):
    gen = torch.Generator().manual_seed(0)
    mu, s = torch.tensor(1.0, dtype=torch.float64), torch.tensor(sigma, dtype=torch.float64)
    theta = mu + s * torch.randn(200_000, generator=gen, dtype=torch.float64)
    monte_carlo = -wrapped_normal_log_prob(theta, mu, s).mean()
    assert abs(float(monte_carlo - wrapped_normal_entropy(s))) < 0.01


def test_wrapped_density_integrates_to_one_and_matches_the_wrapped_samples():
    mu, sigma = torch.tensor(3.0), torch.tensor(1.2)
    grid = torch.linspace(-math.pi, math.pi, 2001)[:-1]
    density = wrapped_normal_log_prob(grid, mu, sigma).exp()
    assert abs(float(density.sum() * (2 * math.pi / 2000)) - 1) < 1e-4
    gen = torch.Generator().manual_seed(1)
    wrapped = torch.remainder(
        mu + sigma * torch.randn(100_000, generator=gen) + math.pi, 2 * math.pi
    )
    hist = torch.histc(wrapped - math.pi, bins=20, min=-math.pi, max=math.pi) / 100_000
    expected = density.reshape(20, 100).sum(1) * (2 * math.pi / 2000)
    assert float((hist - expected).abs().max()) < 0.005


# --- lattice decoder and lattice fit --------------------------------------------------------


@pytest.mark.parametrize("cell", [CELL, OBLIQUE])
def test_lattice_decoder_moves_the_motif_exactly_and_ignores_lattice_vectors(cell):
    torch.manual_seed(0)
    dec = LatticeDecoder((30, 30), 2, (16,), cell)
    z = torch.randn(3, 2)
    s = torch.tensor([[2.0, -3.0]] * 3)
    still, moved = dec(z), dec(z, Move(pixels=s))
    torch.testing.assert_close(moved[:, 5:25, 5:25], still[:, 3:23, 8:28], atol=1e-4, rtol=0)
    by_cell = dec(z, Move(torch.as_tensor(cell[0] - 2 * cell[1], dtype=torch.float32)[None]))
    torch.testing.assert_close(by_cell, still, atol=1e-4, rtol=0)
    angles = 2 * math.pi * s @ torch.as_tensor(np.linalg.inv(cell), dtype=torch.float32)
    torch.testing.assert_close(dec(z, Move(s, angles=angles)), moved, atol=1e-4, rtol=0)


def test_harmonics_stay_below_the_aliasing_limit():
    hk = harmonic_indices(np.array([[4.0, 0.0], [0.0, 4.0]]), 8)
    freqs = hk @ np.linalg.inv([[4.0, 0.0], [0.0, 4.0]]).T
    assert len(hk) and np.linalg.norm(freqs, axis=1).max() <= 0.45
    assert not any((h == 0 and k <= 0) for h, k in hk)  # one of each +-G pair


def test_lattice_fit_anchor_follows_the_position_on_two_sublattices():
    fit = LatticeFit((24, 24), CELL)
    offsets = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 5.5], [6.0, 6.0], [-2.0, 4.0]])
    x = np.stack([two_sublattice((24, 24), CELL, o)[None] for o in offsets])[:, 0]
    coef = fit.coefficients(torch.as_tensor(x, dtype=torch.float32))
    anchor = fit.anchor(coef)
    angles = torch.atan2(anchor[..., 1], anchor[..., 0]).numpy()
    expected = 2 * np.pi * offsets @ np.linalg.inv(CELL)
    diff = np.angle(np.exp(1j * (angles - angles[:1] - (expected - expected[:1]))))
    assert np.abs(diff).max() < 0.05  # the half-cell move (6, 6) is told apart, not a swap
    aligned = fit.aligned(coef, torch.as_tensor(angles))
    # the same motif wherever it sits (up to the harmonics the series leaves out)
    spread = (aligned - aligned[:1]).abs().max() / aligned.abs().max()
    assert float(spread) < 0.08  # a different alignment would differ by order one


# --- the model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crystal_patches():
    rng = np.random.default_rng(0)
    offsets = rng.uniform(0, 12, size=(300, 2))
    ratio = rng.uniform(0.3, 0.8, size=300)
    x = np.stack([two_sublattice((20, 20), CELL, o, r) for o, r in zip(offsets, ratio)])
    return x.astype(np.float32), offsets, ratio


def test_torus_model_trains_encodes_positions_and_round_trips(crystal_patches, tmp_path):
    x, offsets, ratio = crystal_patches
    model = sv.ShiftVAE(
        (20, 20), position="torus", decoder="lattice", encoder="lattice", lattice=CELL, seed=0
    )
    history = model.fit(x, epochs=15, batch_size=50, progress=False, device="cpu")
    assert history.loss[-1] < history.loss[0]
    enc = model.encode(x)
    assert enc.phase_mean.shape == (300, 2) and (np.abs(enc.phase_mean) <= np.pi).all()
    frac = enc.shift_mean @ np.linalg.inv(CELL)
    assert (np.abs(frac) <= 0.5 + 1e-9).all()  # pixels: the shortest equivalent move
    # the encoded position follows the true one (up to one constant), modulo the cell
    diff = np.exp(1j * (enc.phase_mean - 2 * np.pi * offsets @ np.linalg.inv(CELL)))
    assert np.abs(diff.mean(0)).min() > 0.95
    rho = max(abs(np.corrcoef(enc.z_mean[:, k], ratio)[0, 1]) for k in range(2))
    assert rho > 0.9
    model.save(tmp_path / "m.pt")
    again = sv.load_model(tmp_path / "m.pt").encode(x)
    np.testing.assert_array_equal(again.z_mean, enc.z_mean)
    np.testing.assert_array_equal(again.phase_mean, enc.phase_mean)


def test_decode_with_pixel_shift_matches_the_encoded_reconstruction(crystal_patches):
    x, _, _ = crystal_patches
    model = sv.ShiftVAE((20, 20), position="torus", decoder="lattice", lattice=CELL, seed=0)
    enc = model.encode(x[:4])
    np.testing.assert_allclose(model.decode(enc), model.reconstruct(x[:4]), atol=1e-6)


@pytest.mark.parametrize(
    "options, words",
    [
        ({"position": "torus"}, "need the lattice vectors"),
        ({"position": "torus", "lattice": [[3.0, 0.0], [6.0, 0.0]]}, "collinear"),
        ({"position": "torus", "lattice": [[1.0, 0.0], [0.0, 12.0]]}, "at least 2 px"),
        ({"position": "ring"}, "position must be"),
        ({"decoder": "fourier"}, "decoder must be"),
        ({"encoder": "lattice"}, "need the lattice vectors"),
        ({"lattice": [1.0, 2.0, 3.0], "decoder": "lattice"}, "two (row, col) vectors"),
    ],
)
def test_inconsistent_lattice_options_are_refused(options, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        sv.ShiftVAE((20, 20), **options)


def test_resume_without_a_checkpoint_sets_the_input_scale_like_a_fresh_fit(
    crystal_patches, tmp_path
):
    x = crystal_patches[0][:60]
    runs = []
    for resume in (False, True):
        model = sv.ShiftVAE((20, 20), decoder="lattice", encoder="lattice", lattice=CELL)
        ckpt = tmp_path / f"none-{resume}.pt"
        model.fit(x, epochs=1, progress=False, device="cpu", checkpoint=ckpt, resume=resume)
        runs.append(model.module_.lattice_fit.scale.clone())
    torch.testing.assert_close(runs[0], runs[1])
    assert not torch.allclose(runs[0], torch.ones_like(runs[0]))


def test_bf16_training_of_the_lattice_model_stays_finite(crystal_patches):
    model = sv.ShiftVAE(
        (20, 20), position="torus", decoder="lattice", encoder="lattice", lattice=CELL
    )
    history = model.fit(crystal_patches[0][:100], epochs=2, progress=False, precision="bf16")
    assert all(np.isfinite(history.loss))
