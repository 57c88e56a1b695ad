"""Encoders q(z, s | x): map an input to the mean and std of its latent Gaussian."""

from __future__ import annotations

import math

import torch
from torch import nn


class MLPEncoder(nn.Module):
    """Fully connected encoder (the paper's default: 128-128, tanh).

    Parameters
    ----------
    data_shape : tuple of int
        ``(L,)`` or ``(H, W)``.
    out_dim : int
        Number of latents (shift latents + conventional latents).
    hidden : tuple of int
        Widths of the hidden layers.
    """

    def __init__(self, data_shape: tuple[int, ...], out_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        width = math.prod(data_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 2 * out_dim)  # mean and log-std in one matmul

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x.flatten(1))  # (B, P) -> (B, H)
        mean, log_std = self.head(h).chunk(2, dim=-1)  # (B, n) each
        return mean, log_std.exp()


class ConvEncoder(nn.Module):
    """Small CNN encoder for 1D signals or 2D patches.

    Two strided convolutions (stride 2, 3-wide kernels) followed by the fully connected
    layers of :class:`MLPEncoder`.
    """

    def __init__(
        self,
        data_shape: tuple[int, ...],
        out_dim: int,
        hidden: tuple[int, ...],
        channels: tuple[int, ...] = (16, 32),
    ):
        super().__init__()
        conv = nn.Conv1d if len(data_shape) == 1 else nn.Conv2d
        layers: list[nn.Module] = []
        c_in = 1
        for c in channels:
            layers += [conv(c_in, c, kernel_size=3, stride=2, padding=1), nn.Tanh()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            n_flat = self.conv(torch.zeros(1, 1, *data_shape)).numel()
        self.mlp = MLPEncoder((n_flat,), out_dim, hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv(x.unsqueeze(1))  # (B, 1, *S) -> (B, C, *S')
        return self.mlp(h.flatten(1))
