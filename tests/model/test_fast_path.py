"""The fast decoder path equals the paper's decoder written out plainly.

The library's :class:`CoordinateDecoder` applies the shift as a per-sample bias, evaluates
tanh through a sigmoid, and has a hand-written backward pass with recycled buffers.  The
reference here does what the paper describes: materialise each sample's shifted grid
``r + k * dr``, concatenate it with ``z``, and run the same weights through ``torch.tanh``
layers, with autograd doing the backward pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import shiftvae as sv
from shiftvae.model.decoder import CoordinateDecoder, pixel_grid
from shiftvae.model.module import ModelConfig, ShiftVAEModule
from shiftvae.model.position import Move


def in_units(dec, shift):
    """The move of a Gaussian shift ``shift`` (B, d) in prior units, as the model passes it."""
    return Move(pixels=-shift * dec.shift_scale * dec.half_side, units=shift)


CASES = {
    "1d": ((40,), (128, 128), None),
    "2d": ((12, 12), (128, 128), None),
    "2d-deep": ((9, 7), (32, 24, 16), None),
    "2d-sine": ((12, 12), (128, 128), 5.0),
    "2d-sine-one-layer": ((7, 6), (16,), 3.0),
}


def reference_decoder(dec: CoordinateDecoder, z: torch.Tensor, shift: torch.Tensor):
    """Decoder output of the paper's formulation, with ``dec``'s weights.

    Input of the first layer: ``[r + k * dr, z]`` for every pixel r of every sample, i.e.
    the materialised shifted grid (B, P, d) concatenated with z broadcast to (B, P, l).
    A sine first layer (SIREN) multiplies the coordinates by omega and takes the sine.
    """
    n_b = z.shape[0]
    grid = pixel_grid(dec.data_shape)  # (P, d)
    shifted = grid.unsqueeze(0) + dec.shift_scale * shift.unsqueeze(1)  # (B, P, d)
    omega = dec.omega if dec.sine else 1.0
    inputs = torch.cat([omega * shifted, z.unsqueeze(1).expand(-1, grid.shape[0], -1)], dim=-1)
    weight = torch.cat([dec.coord.weight, dec.latent.weight], dim=1)  # (H, d + l)
    a0 = inputs @ weight.T + dec.coord.bias
    h = torch.sin(a0) if dec.sine else torch.tanh(a0)
    for layer in dec.body:
        if isinstance(layer, torch.nn.Linear):
            h = torch.tanh(h @ layer.weight.T + layer.bias)
    out = (h @ dec.out.weight.T + dec.out.bias).squeeze(-1)
    return out.reshape(n_b, *dec.data_shape)


def reference_loss(module: ShiftVAEModule, x, beta: float, noise):
    """Negative ELBO (batch mean) with Bernoulli likelihood and closed-form KL, written out."""
    h = x.flatten(1)
    for layer in module.encoder.body:
        h = layer(h)
    mean, log_std = module.encoder.head(h).chunk(2, dim=-1)
    std = log_std.exp()
    latents = mean + std * noise
    d = module.config.shift_dim
    logits = reference_decoder(module.decoder, latents[:, d:], latents[:, :d])
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mean**2 + std**2 - 1 - 2 * torch.log(std)).sum(1)
    return (rec + beta * kl).mean()


def batch(shape: tuple[int, ...], n: int = 16) -> torch.Tensor:
    """A fixed batch of the paper's data: sine segments (1D) or lattice patches (2D)."""
    if len(shape) == 1:
        X, _ = sv.synthetic.sine_waves(n=n, length=shape[0], seed=11)
    else:
        X, _ = sv.synthetic.lattice_patches(n=n, window=shape[0], period=5.0, seed=11)
        X = X[:, : shape[0], : shape[1]]
    return torch.as_tensor(X).contiguous()


def module_for(shape, hidden, seed=0, coord_frequency=None) -> ShiftVAEModule:
    torch.manual_seed(seed)
    return ShiftVAEModule(
        ModelConfig(shape, hidden=hidden, shift_scale=0.7, coord_frequency=coord_frequency)
    )


@pytest.mark.parametrize("case", CASES)
def test_decoder_output_matches_materialised_grid(case):
    shape, hidden, freq = CASES[case]
    torch.manual_seed(1)
    dec = CoordinateDecoder(shape, 2, hidden, shift_scale=0.7, coord_frequency=freq)
    z, shift = torch.randn(16, 2), torch.randn(16, len(shape))
    expected = reference_decoder(dec, z, shift)
    with torch.no_grad():
        fast_nograd = dec(z, in_units(dec, shift))
    fast = dec(z.requires_grad_(), in_units(dec, shift))  # the autograd path
    assert fast.shape == (16, *shape)
    torch.testing.assert_close(fast, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast_nograd, expected, rtol=1e-5, atol=1e-5)


def reference_case(case: str):
    """Module, batch, noise and parameters of a case, with the reference loss and gradients."""
    shape, hidden, freq = CASES[case]
    module = module_for(shape, hidden, coord_frequency=freq)
    x = batch(shape)
    noise = torch.randn(x.shape[0], len(shape) + 2, generator=torch.Generator().manual_seed(3))
    params = [p for _, p in module.named_parameters()]
    expected = reference_loss(module, x, 0.5, noise)
    return module, x, noise, params, expected, torch.autograd.grad(expected, params)


@pytest.mark.parametrize("case", CASES)
def test_loss_and_gradients_match_reference(case):
    module, x, noise, params, expected, expected_grads = reference_case(case)
    with module.decoder.reuse_buffers():  # the training path, buffers recycled across steps
        for _ in range(3):
            loss = module.loss(x, 0.5, noise).loss
            grads = torch.autograd.grad(loss, params)
            torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
            for (name, _), g, e in zip(module.named_parameters(), grads, expected_grads):
                scale = e.abs().max().clamp_min(1.0)
                torch.testing.assert_close(
                    g / scale, e / scale, rtol=1e-4, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}"
                )


@pytest.mark.parametrize("freq", [None, 2.5])
def test_hand_written_backward_passes_gradcheck(freq):
    """Finite differences in float64 agree with the custom backward (no buffer pool)."""
    from torch.func import functional_call

    torch.manual_seed(2)
    dec = CoordinateDecoder((5, 4), 2, (6, 5, 4), shift_scale=0.4, coord_frequency=freq)
    dec = dec.double()
    names = [n for n, _ in dec.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in dec.parameters())
    z = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    shift = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)

    def run(z, shift, *ps):
        return functional_call(dec, dict(zip(names, ps)), (z, in_units(dec, shift)))

    assert torch.autograd.gradcheck(run, (z, shift, *params), fast_mode=True)


def test_recycled_buffers_refuse_a_second_backward():
    dec = CoordinateDecoder((8,), latent_dim=2, hidden=(8, 8), shift_scale=0.5)
    z, shift = torch.randn(4, 2), torch.randn(4, 1)
    out = dec(z, in_units(dec, shift)).sum()
    out.backward(retain_graph=True)
    out.backward()  # without the pool: an ordinary autograd function
    with dec.reuse_buffers():
        out = dec(z, in_units(dec, shift)).sum()
        out.backward(retain_graph=True)
        with pytest.raises(RuntimeError, match="retain_graph"):
            out.backward()
    assert dec._buffers_pool is None  # released after the block


def test_training_matches_reference_training():
    """A few Adam steps of the library's fit equal the same steps on the reference loss."""
    shape, hidden = (30,), (32, 32)
    X = batch(shape, n=40)
    model = sv.ShiftVAE(shape, hidden=hidden, shift_scale=0.7, seed=4)
    ref = module_for(shape, hidden)
    ref.load_state_dict(model.module_.state_dict())
    model.fit(X.numpy(), epochs=2, batch_size=20, beta=1.0, progress=False, device="cpu")

    # replay the library's batches and noise (see shiftvae.model.train) on the reference loss
    opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(4 + 1)
    for _ in range(2):
        order = torch.randperm(len(X), generator=gen)
        for b in range(2):
            x = X.index_select(0, order[b * 20 : (b + 1) * 20])
            noise = torch.randn(x.shape[0], 3, generator=gen)
            loss = reference_loss(ref, x, 1.0, noise)
            opt.zero_grad()
            loss.backward()
            opt.step()
    for name, p in model.module_.state_dict().items():
        torch.testing.assert_close(p, ref.state_dict()[name], rtol=1e-4, atol=1e-5, msg=name)


def test_sine_layer_starts_with_plane_waves_up_to_the_given_frequency():
    """Each first-layer unit of a sine decoder is a plane wave of <= f cycles per side."""
    dec = CoordinateDecoder((16, 16), 2, (64, 64), shift_scale=0.5, coord_frequency=6.0)
    cycles_per_side = dec.omega * dec.coord.weight.detach().abs() * 2 / (2 * torch.pi)
    assert cycles_per_side.max() <= 6.0
    assert cycles_per_side.max() > 5.0  # the range is used, not just its low end
    tanh_dec = CoordinateDecoder((16, 16), 2, (64, 64), shift_scale=0.5)
    assert not tanh_dec.sine and tanh_dec.omega == 1.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "5"])
def test_coord_frequency_must_be_positive(bad):
    with pytest.raises(sv.InputError, match="coord_frequency"):
        sv.ShiftVAE((8, 8), coord_frequency=bad)


def test_sine_decoder_round_trips_through_save_and_load(tmp_path):
    X, _ = sv.synthetic.lattice_patches(n=40, window=10, period=4.0, seed=1)
    model = sv.ShiftVAE(X.shape[1:], hidden=(16, 16), coord_frequency=5.0, seed=3)
    model.fit(X, epochs=1, batch_size=20, progress=False, device="cpu")
    loaded = sv.load_model(model.save(tmp_path / "m.pt"))
    assert loaded.config.coord_frequency == 5.0
    np.testing.assert_array_equal(loaded.reconstruct(X[:5]), model.reconstruct(X[:5]))


def test_model_pickles_without_work_buffers():
    import pickle

    model = sv.ShiftVAE((20,), hidden=(8, 8))
    dec = model.module_.decoder
    with dec.reuse_buffers():
        z = torch.zeros(2, 2, requires_grad=True)
        dec(z, in_units(dec, torch.zeros(2, 1))).sum().backward()
        clone = pickle.loads(pickle.dumps(model))
    assert clone.module_.decoder._buffers_pool is None


@pytest.mark.parametrize("case", ["1d", "2d-deep", "2d-sine"])
def test_bf16_loss_and_gradients_are_close_to_fp32(case):
    """Mixed precision: bf16 activations and products, fp32 weights, gradients and loss."""
    module, x, noise, params, expected, expected_grads = reference_case(case)
    with module.decoder.reuse_buffers(), module.decoder.compute_dtype(torch.bfloat16):
        loss = module.loss(x, 0.5, noise).loss
        grads = torch.autograd.grad(loss, params)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected, rtol=5e-3, atol=0.0)
    for (name, _), g, e in zip(module.named_parameters(), grads, expected_grads):
        assert g.dtype == torch.float32, name
        # bf16 keeps 8 bits: gradients agree to a few percent of their largest entry
        scale = e.abs().max().clamp_min(1e-3)
        torch.testing.assert_close(g / scale, e / scale, rtol=0.0, atol=0.05, msg=name)


def test_bf16_training_reaches_the_fp32_loss():
    X, _ = sv.synthetic.sine_waves(n=600, length=40, seed=5)
    losses = {}
    for precision in ("fp32", "bf16"):
        model = sv.ShiftVAE((40,), hidden=(64, 64), seed=1)
        model.fit(X, epochs=8, batch_size=50, progress=False, device="cpu", precision=precision)
        losses[precision] = model.history_.loss[-1]
        assert model.module_.decoder.coord.weight.dtype == torch.float32
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.01)
    with pytest.raises(sv.InputError, match="precision"):
        sv.ShiftVAE((40,)).fit(X, epochs=1, precision="fp16", progress=False)
