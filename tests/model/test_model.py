"""ShiftVAE construction, encode/decode, the coordinate decoder and persistence."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import shiftvae as sv
from shiftvae.model.decoder import CoordinateDecoder, pixel_grid
from shiftvae.model.likelihood import bernoulli_nll, kl_standard_normal
from shiftvae.model.position import Move


def in_units(dec, shift):
    """The move of a Gaussian shift ``shift`` (B, d) in prior units, as the model passes it."""
    return Move(pixels=-shift * dec.shift_scale * dec.half_side, units=shift)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 1.5}, "latent_dim"),
        ({"shift_scale": 0.0}, "shift_scale"),
        ({"shift_scale": 1.5}, "shift_scale"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"encoder": "transformer"}, "encoder"),
        ({"data_shape": (3, 4, 5)}, "data_shape"),
        ({"hidden": ()}, "hidden"),
    ],
)
def test_bad_options_raise_input_error(kwargs, phrase):
    args = {"data_shape": (20,), **kwargs}
    with pytest.raises(sv.InputError, match=phrase):
        sv.ShiftVAE(**args)


def _model(shape=(20,), **kw):
    return sv.ShiftVAE(shape, hidden=(16, 16), **kw)


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (np.zeros((0, 20)), "empty"),
        (np.zeros((5, 21)), "does not fit"),
        (np.zeros((5, 4, 5)), "does not fit"),
        (np.full((5, 20), np.nan), "NaN"),
        (np.full((5, 20), np.inf), "NaN or infinite"),
        (np.full((5, 20), 2.0), r"\[0, 1\].*scale"),
        (np.array([["a"] * 20]), "numeric"),
    ],
)
def test_bad_data_raises_input_error(data, phrase):
    model = _model()
    with pytest.raises(sv.InputError, match=phrase):
        model.fit(data, epochs=1, progress=False)
    with pytest.raises(sv.InputError, match=phrase):
        model.encode(data)


def test_gaussian_likelihood_accepts_unscaled_data():
    model = _model(likelihood="gaussian")
    X = np.random.default_rng(0).normal(5, 2, size=(50, 20))
    history = model.fit(X, epochs=2, progress=False)
    assert np.isfinite(history.loss).all()


@pytest.mark.parametrize("shape", [(20,), (8, 10)])
@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("encoder", ["mlp", "conv"])
def test_encode_decode_shapes(shape, shift, encoder):
    model = _model(shape, shift=shift, encoder=encoder, latent_dim=3)
    X = np.random.default_rng(1).uniform(size=(7, *shape))
    history = model.fit(X, epochs=2, batch_size=3, progress=False)
    assert len(history) == 2 and set(history.as_dict()) >= {"loss", "reconstruction", "kl"}
    enc = model.encode(X)
    d = len(shape) if shift else 0
    assert enc.z_mean.shape == (7, 3) and enc.z_std.shape == (7, 3)
    assert enc.shift_mean.shape == (7, d) and enc.shift_std.shape == (7, d)
    assert (enc.z_std > 0).all()
    out = model.decode(enc)
    assert out.shape == (7, *shape)
    assert ((out >= 0) & (out <= 1)).all()
    np.testing.assert_allclose(model.reconstruct(X), out, rtol=1e-6)


def test_decode_reapplies_shift():
    """decode(z, shift) with a shift of s pixels moves the decoded pattern by s pixels."""
    model = sv.ShiftVAE((64,), hidden=(32, 32), shift_scale=1.0, seed=0)
    z = np.zeros((1, 2))
    base = model.decode(z, shift=np.zeros((1, 1)))[0]
    moved = model.decode(z, shift=np.array([[5.0]]))[0]
    # the decoder is an MLP of r + k dr: a pixel shift of 5 samples moves the curve by 5
    np.testing.assert_allclose(moved[10:50], base[5:45], atol=1e-5)


def test_coordinate_decoder_matches_explicit_shifted_grid():
    """The per-sample bias path equals evaluating the MLP on a materialised shifted grid."""
    torch.manual_seed(0)
    dec = CoordinateDecoder((6, 7), latent_dim=2, hidden=(16, 8), shift_scale=0.3)
    z, shift = torch.randn(4, 2), torch.randn(4, 2)
    fast = dec(z, in_units(dec, shift))
    grid = pixel_grid((6, 7)).unsqueeze(0) + 0.3 * shift.unsqueeze(1)  # (B, P, 2)
    h = torch.tanh(dec.coord(grid) + dec.latent(z).unsqueeze(1))
    slow = dec.out(dec.body(h)).squeeze(-1).reshape(4, 6, 7)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_bernoulli_and_kl_closed_forms():
    logits = torch.tensor([[0.0, 100.0, -100.0]])
    x = torch.tensor([[1.0, 1.0, 0.0]])
    np.testing.assert_allclose(bernoulli_nll(logits, x).item(), np.log(2), rtol=1e-6)
    assert kl_standard_normal(torch.zeros(1, 3), torch.ones(1, 3)).item() == 0.0
    kl = kl_standard_normal(torch.tensor([[1.0]]), torch.tensor([[2.0]])).item()
    np.testing.assert_allclose(kl, 0.5 * (1 + 4 - 1 - 2 * np.log(2)), rtol=1e-6)


def test_same_seed_gives_identical_results(sines):
    X, _ = sines
    runs = []
    for _ in range(2):
        model = sv.ShiftVAE((40,), hidden=(32, 32), seed=5)
        model.fit(X, epochs=3, batch_size=50, progress=False, device="cpu")
        runs.append(model.encode(X).z_mean)
    np.testing.assert_array_equal(runs[0], runs[1])
    other = sv.ShiftVAE((40,), hidden=(32, 32), seed=6)
    other.fit(X, epochs=3, batch_size=50, progress=False, device="cpu")
    assert not np.array_equal(runs[0], other.encode(X).z_mean)


def test_training_lowers_the_loss_and_moves_weights(sines):
    X, _ = sines
    model = sv.ShiftVAE((40,), hidden=(32, 32), seed=0)
    before = [p.detach().clone() for p in model.module_.parameters()]
    history = model.fit(X, epochs=5, batch_size=50, progress=False)  # on CUDA where there is one
    assert history.loss[-1] < history.loss[0]
    after = [p.detach().cpu() for p in model.module_.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after))


def test_save_load_roundtrip_and_pickle(tmp_path, sines):
    X, _ = sines
    model = sv.ShiftVAE((40,), hidden=(32, 32), seed=0)
    model.fit(X, epochs=2, progress=False)
    model.metadata["window"] = 40
    path = model.save(tmp_path / "model.pt")
    loaded = sv.load_model(path)  # on the CPU; the model was trained on CUDA where there is one
    loaded.module_.to(model.device)  # bit for bit on the same device
    np.testing.assert_array_equal(loaded.encode(X).z_mean, model.encode(X).z_mean)
    assert loaded.history_.loss == model.history_.loss
    assert loaded.metadata == {"window": 40}
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.encode(X).shift_mean, model.encode(X).shift_mean)


def test_load_model_errors(tmp_path):
    with pytest.raises(sv.ReaderError, match="does not exist"):
        sv.load_model(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(sv.ReaderError, match="not a shiftvae model"):
        sv.load_model(bad)


def test_encode_is_batched(sines):
    X, _ = sines
    model = _model((40,))
    full = model.encode(X, batch_size=10_000)
    small = model.encode(X, batch_size=7)
    np.testing.assert_allclose(full.z_mean, small.z_mean, rtol=1e-5, atol=1e-6)


def test_latent_traversal_shapes(lattice):
    _patches, _ = lattice
    model = sv.ShiftVAE((16, 16), hidden=(16, 16), latent_dim=3)
    t = sv.latent_traversal(model, n=4, dims=(0, 2))
    assert t.images.shape == (4, 4, 16, 16) and t.values.shape == (2, 4)
    with pytest.raises(sv.InputError, match="dims"):
        sv.latent_traversal(model, n=4, dims=(0, 3))


def test_decoder_widths_can_differ_from_the_encoder(tmp_path):
    """decoder_hidden=(128, 128, 128) is pyroVED's default decoder (hidden_dim_d=[128, 128])."""
    model = sv.ShiftVAE((30,), hidden=(16, 8), decoder_hidden=(12, 10, 6), seed=0)
    decoder = model.module_.decoder
    assert decoder.coord.out_features == 12
    assert [m.out_features for m in decoder.body if isinstance(m, torch.nn.Linear)] == [10, 6]
    assert [m.out_features for m in model.module_.encoder.body if hasattr(m, "out_features")] == [
        16,
        8,
    ]
    X, _ = sv.synthetic.sine_waves(n=40, length=30, seed=0)
    model.fit(X, epochs=1, batch_size=20, progress=False, device="cpu")
    loaded = sv.load_model(model.save(tmp_path / "m.pt"))
    assert loaded.config.decoder_hidden == (12, 10, 6)
    np.testing.assert_array_equal(loaded.reconstruct(X[:3]), model.reconstruct(X[:3]))
    with pytest.raises(sv.InputError, match="decoder_hidden"):
        sv.ShiftVAE((30,), decoder_hidden=(8, 0))
