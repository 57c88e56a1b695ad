"""The latent layout and the position parts: each kind of latent is placed and read once."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from shiftvae.model.layout import LatentLayout
from shiftvae.model.module import ModelConfig, ShiftVAEModule
from shiftvae.model.position import GaussianShift, NoPosition, TorusPosition, position_part

CELL = ((0.0, 6.0), (6.0, 0.0))
CONFIGS = {
    "plain": dict(shift=False),
    "gaussian": dict(),
    "torus": dict(position="torus", decoder="lattice", lattice=CELL),
    "rotation": dict(rotation=4, decoder="canvas", period=6.0),
    "rotation-axes": dict(rotation=6, scale="axes", decoder="canvas", period=6.0),
    "torus-posed": dict(
        position="torus", lattice=CELL, rotation=4, scale="isotropic", decoder="canvas"
    ),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_the_layout_counts_every_latent_and_every_encoder_output(name):
    config = ModelConfig((15, 15), latent_dim=3, hidden=(8,), **CONFIGS[name])
    module = ShiftVAEModule(config)
    layout = module.layout
    assert layout.size == config.shift_dim + config.pose_dim + config.latent_dim
    assert module.encoder.head.out_features == 2 * layout.raw  # a mean and a std each
    latents = torch.arange(layout.size, dtype=torch.float32)[None]
    assert layout.content_of(latents).tolist() == [list(range(layout.size - 3, layout.size))]
    assert layout.scales_of(latents).shape[1] == config.scale_dim
    torus = config.shift and config.position == "torus"
    expected = ([0, 1] if torus else []) + ([config.shift_dim] if config.rotation else [])
    assert layout.circular == expected
    mean, std = module.inference(torch.rand(4, 15, 15))
    assert mean.shape == std.shape == (4, layout.size)
    assert module.generative(mean).shape == (4, 15, 15)


def test_the_position_part_is_chosen_once_from_the_config():
    assert type(position_part(ModelConfig((9, 9), shift=False))) is NoPosition
    assert type(position_part(ModelConfig((9, 9)))) is GaussianShift
    torus = ModelConfig((9, 9), position="torus", decoder="lattice", lattice=CELL)
    assert type(position_part(torus)) is TorusPosition


def test_every_position_moves_the_pattern_in_pixels_the_same_way():
    """A Gaussian shift and a torus position that put the pattern at the same place give
    the same pixels, and the coordinate decoder reads both as the same prior units."""
    gaussian = GaussianShift((13, 13), shift_scale=0.5)
    torus = TorusPosition((13, 13), CELL)
    pixels = torch.tensor([[1.5, -2.0]])
    angles = 2 * math.pi * pixels @ torch.as_tensor(np.linalg.inv(CELL), dtype=torch.float32)
    units = -pixels / (0.5 * 6.0)  # half the window is 6 px
    by_torus, by_gaussian = torus.move(angles), gaussian.move(units)
    torch.testing.assert_close(by_torus.pixels, pixels)
    torch.testing.assert_close(by_gaussian.pixels, pixels)
    half = torch.tensor([6.0, 6.0])
    torch.testing.assert_close(by_torus.prior_units(0.5, half), units)
    assert by_gaussian.prior_units(0.5, half) is units
    assert NoPosition((13, 13)).move(None) is None


def test_layout_of_a_config_with_no_latents_but_content():
    layout = LatentLayout.of(ModelConfig((20,), shift=False, latent_dim=2))
    assert (layout.size, layout.raw, layout.circular) == (2, 2, [])
    assert layout.position_of(torch.zeros(1, 2)) is None
