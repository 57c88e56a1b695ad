"""The canvas decoder: exact moves, its margins, its place in the model, and the warm-up."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shiftvae as sv
from shiftvae.model.canvas_decoder import CanvasDecoder, canvas_shape
from shiftvae.model.likelihood import reconstruction_nll
from shiftvae.studies import lattice_study


@pytest.mark.parametrize("shape", [(30,), (12, 15)])
def test_whole_pixel_moves_are_rolls_and_moves_undo(shape):
    torch.manual_seed(0)
    dec = CanvasDecoder(shape, 2, (16,), tuple(4 for _ in shape))
    assert all(side % 2 == 1 for side in dec.canvas)
    canvas = dec.draw(torch.randn(3, 2))
    steps = (3, -2)[: len(shape)]
    rolled = torch.roll(canvas, steps, tuple(range(1, len(shape) + 1)))
    moved = dec.move(canvas, torch.tensor([steps] * 3, dtype=torch.float32))
    torch.testing.assert_close(moved, rolled, atol=1e-5, rtol=0)
    s = torch.rand(3, len(shape)) * 6 - 3
    torch.testing.assert_close(dec.move(dec.move(canvas, s), -s), canvas, atol=1e-5, rtol=0)


def test_a_subpixel_move_keeps_a_band_limited_pattern():
    """A sine on the canvas moved by 0.4 px is the sine drawn 0.4 px further on."""
    dec = CanvasDecoder((20,), 1, (4,), (5,))
    x = torch.arange(dec.canvas[0], dtype=torch.float64)
    k = 3 / dec.canvas[0]  # a whole number of cycles on the canvas
    wave = torch.sin(2 * np.pi * k * x)[None]
    moved = dec.move(wave, torch.tensor([[0.4]], dtype=torch.float64))
    torch.testing.assert_close(moved, torch.sin(2 * np.pi * k * (x - 0.4))[None])


def test_canvas_shape_is_odd_fft_friendly_and_covers_the_margins():
    assert canvas_shape((22, 21), (5, 5)) == (33, 33)  # 31 is prime: 33 = 3 x 11
    for n in range(2, 200):
        (side,) = canvas_shape((n,), (n // 2,))
        rest = side
        for p in (3, 5, 7, 11):
            while rest % p == 0:
                rest //= p
        assert side % 2 == 1 and side >= n + 2 * (n // 2) and rest == 1


def test_model_margins_cover_the_position_moves():
    gaussian = sv.ShiftVAE((21, 21), decoder="canvas", shift_scale=0.5)
    assert gaussian.module_.decoder.margins == (10, 10)  # two prior units of 5 px
    torus = sv.ShiftVAE(
        (24, 24), decoder="canvas", position="torus", lattice=[[10.0, 0.0], [3.0, 9.0]]
    )
    assert torus.module_.decoder.margins == (7, 5)  # half the cell's extent per axis
    X = np.random.default_rng(0).uniform(size=(20, 24, 24))
    assert np.isfinite(torus.fit(X, epochs=1, progress=False).loss).all()  # moves modulo the cell
    assert torus.reconstruct(X).shape == X.shape
    plain = sv.ShiftVAE((10, 10), decoder="canvas", shift=False)
    assert plain.module_.decoder.canvas == (11, 11)


def test_decode_moves_the_canvas_pattern_by_the_shift_in_pixels():
    model = sv.ShiftVAE((40,), decoder="canvas", hidden=(16, 16), shift_scale=0.5, seed=0)
    z = np.zeros((1, 2))
    base = model.decode(z, shift=np.zeros((1, 1)))[0]
    moved = model.decode(z, shift=np.array([[4.0]]))[0]
    np.testing.assert_allclose(moved[8:36], base[4:32], atol=1e-5)


def test_warmup_decodes_without_content_and_is_checked(sines):
    X, _ = sines
    model = sv.ShiftVAE((40,), decoder="canvas", hidden=(16, 16), seed=0)
    assert model._warmup("auto") == pytest.approx(0.2)
    assert sv.ShiftVAE((40,), hidden=(16, 16))._warmup("auto") == 0.0
    for bad in (1.0, -0.1, "half", True):
        with pytest.raises(sv.InputError, match="warmup"):
            model.fit(X, epochs=1, progress=False, warmup=bad)
    x = torch.as_tensor(X[:5])
    noise = torch.randn(5, 3)
    a = model.module_.loss(x, 1.0, noise, content=False).reconstruction
    mean, std = model.module_.inference(x)
    latents = mean + std * noise
    latents[:, 1:] = 0
    b = reconstruction_nll(model.module_.generative(latents), x, "bernoulli", 0.1)
    torch.testing.assert_close(a, b.mean())


@pytest.mark.slow
def test_canvas_decoder_collapses_the_conventional_latents_on_the_lattice_study():
    """Paper Fig. 4 with the canvas decoder: the offsets go to the shift latents, both
    conventional latents collapse (as with the coordinate decoder), the VAE's do not."""
    study = lattice_study(
        n=1500, window=16, decoder="canvas", epochs=40, batch_size=50, lr=2e-3, beta=(0.1, 1.0)
    )
    assert study.runs["shift_vae"].metrics["collapse"]["collapsed"] == 2
    assert study.runs["vae"].metrics["collapse"]["collapsed"] == 0


def test_fit_image_runs_the_canvas_decoder_without_binning():
    image = sv.synthetic.lattice_image(size=160, period=10.0, seed=0)
    config = sv.FitConfig(lattice=None, decoder="canvas", window=40, epochs=2, hidden=(16, 16))
    result = sv.fit_image(image, config, progress=False)
    assert result.geometry["decoder"] == "canvas" and result.geometry["binning"] == 1
    assert result.model.module_.decoder.margins == (20, 20)  # 2 x 0.5 x 19.5 px
    assert np.isfinite(result.maps.z).all()


def test_canvas_model_saves_loads_and_continues_without_warmup(tmp_path, sines):
    X, _ = sines
    model = sv.ShiftVAE((40,), decoder="canvas", hidden=(16, 16), seed=0)
    model.fit(X, epochs=2, progress=False)
    assert model._warmup("auto") == 0.0  # trained: a second fit continues with the content
    loaded = sv.load_model(model.save(tmp_path / "canvas.pt"))
    loaded.module_.to(model.device)
    assert loaded.module_.decoder.canvas == model.module_.decoder.canvas
    np.testing.assert_array_equal(loaded.reconstruct(X[:20]), model.reconstruct(X[:20]))
