"""The regression head: values at a few inputs, predicted for all with an error bar."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import shiftvae as sv
from shiftvae.model.regression import RegressionHead


def test_settle_recovers_an_exact_linear_property_and_its_units():
    head = RegressionHead(dim=2, count=1)
    z = torch.randn(30, 2, generator=torch.Generator().manual_seed(0))
    y = (100.0 + 5.0 * (2 * z[:, 0] - z[:, 1]))[:, None]
    head.set_scale(y)
    head.settle(z, y, ridge=0.0)
    value, std = head.predict(z)
    torch.testing.assert_close(value, y, atol=1e-3, rtol=0)
    assert float(std.max()) < 1e-2  # no residual: the error bar is (nearly) zero


def test_the_error_bar_widens_away_from_the_labelled_inputs():
    head = RegressionHead(dim=1, count=1)
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(10, 1, generator=gen) * 0.1
    y = 3 * z + 0.05 * torch.randn(10, 1, generator=gen)
    head.set_scale(y)
    head.settle(z, y)
    _, std = head.predict(torch.tensor([[0.0], [2.0]]))
    assert std[1, 0] > 3 * std[0, 0]


def test_unknown_values_add_no_loss():
    head = RegressionHead(dim=2, count=2)
    mean = torch.randn(4, 2)
    values = torch.tensor([[1.0, np.nan], [np.nan, np.nan], [2.0, 3.0], [np.nan, 1.0]])
    nll = head.nll(mean, values)
    assert nll[1] == 0 and torch.isfinite(nll).all() and (nll[[0, 2, 3]] != 0).all()


@pytest.fixture(scope="module")
def waves():
    X, factors = sv.synthetic.sine_waves(n=1000, length=50, seed=0)
    return X, np.asarray(factors["sigma"], dtype=np.float64)


def test_ten_values_predict_the_width_of_every_wave(waves):
    X, sigma = waves
    values = np.full(len(X), np.nan)
    chosen = np.random.default_rng(0).choice(len(X), 10, replace=False)
    values[chosen] = sigma[chosen]
    model = sv.ShiftVAE(data_shape=(50,), properties=["width"], seed=0)
    model.fit(X, epochs=30, progress=False, values=values)
    enc = model.encode(X)
    assert enc.values.shape == enc.value_std.shape == (len(X), 1)
    # measured 0.87; a line from the latents of a fit without the values: 0.58
    assert spearmanr(enc.values[:, 0], sigma)[0] > 0.8
    cover = np.mean(np.abs(enc.values[:, 0] - sigma) <= 2 * enc.value_std[:, 0])
    assert 0.8 < cover < 1.0  # a 2-sigma band: about 95%, not all (measured 0.93)


def test_the_head_is_saved_with_the_model(waves, tmp_path):
    X, sigma = waves
    values = np.where(np.arange(len(X)) < 8, sigma, np.nan)
    model = sv.ShiftVAE(data_shape=(50,), properties=1, seed=0, hidden=(16, 16))
    model.fit(X, epochs=2, progress=False, values=values)
    back = sv.load_model(model.save(tmp_path / "m.pt"))
    assert back.config.properties == ("value1",)
    np.testing.assert_allclose(back.encode(X).values, model.encode(X).values, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "values", "phrase"),
    [
        ({}, np.zeros(1000), "values need a model with properties"),
        ({"properties": ["a"]}, np.zeros(5), "values must be 1000 rows of 1"),
        ({"properties": ["a"]}, np.full(1000, np.nan), "at least one input"),
        ({"properties": ["a"]}, np.full(1000, np.inf), "finite numbers"),
    ],
)
def test_bad_values_are_refused_in_one_sentence(waves, kwargs, values, phrase):
    X, _ = waves
    model = sv.ShiftVAE(data_shape=(50,), hidden=(8, 8), **kwargs)
    with pytest.raises(sv.InputError, match=phrase):
        model.fit(X, epochs=1, progress=False, values=values)


def test_property_names_must_be_distinct():
    with pytest.raises(sv.InputError, match="distinct"):
        sv.ShiftVAE(data_shape=(50,), properties=["a", "a"])
