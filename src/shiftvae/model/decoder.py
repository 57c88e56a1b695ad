"""Coordinate-based ("spatial") decoder p(x | z, s) of the shift-VAE.

The decoder is an MLP evaluated at every pixel coordinate r of the patch, on a grid shifted
by ``k * dr`` and conditioned on the conventional latents z::

    h_1(r) = tanh(W_r (r + k dr) + W_z z + b)
    h_i    = tanh(W_i h_{i-1} + b_i)
    logit(r) = w_out . h_n + b_out

Because ``W_r (r + k dr) = W_r r + k W_r dr``, the shift enters the first layer as a
per-sample bias: the projection ``W_r r`` of the fixed grid is computed once per forward
pass, never a per-sample shifted grid.
"""

from __future__ import annotations

import torch
from torch import nn


def pixel_grid(data_shape: tuple[int, ...]) -> torch.Tensor:
    """Pixel coordinates in [-1, 1] along each axis, shape (P, d), axes in (row, col) order."""
    axes = [torch.linspace(-1.0, 1.0, n) for n in data_shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)


class CoordinateDecoder(nn.Module):
    """MLP over pixel coordinates, conditioned on latents, with an optional grid shift.

    Parameters
    ----------
    data_shape : tuple of int
        ``(L,)`` or ``(H, W)``; the grid has ``d = len(data_shape)`` coordinates.
    latent_dim : int
        Number of conventional latents ``l``.
    hidden : tuple of int
        Widths of the hidden layers (the first is the coordinate/latent projection).
    shift_scale : float
        ``k`` in ``r + k dr``; the shift latents are in units of the prior (N(0, 1)).
    """

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        hidden: tuple[int, ...],
        shift_scale: float,
    ):
        super().__init__()
        self.data_shape = tuple(data_shape)
        self.shift_scale = float(shift_scale)
        width = hidden[0]
        self.coord = nn.Linear(len(data_shape), width)  # W_r, b
        self.latent = nn.Linear(latent_dim, width, bias=False)  # W_z
        layers: list[nn.Module] = []
        for h in hidden[1:]:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, 1)
        self.register_buffer("grid", pixel_grid(self.data_shape), persistent=False)

    def forward(self, z: torch.Tensor, shift: torch.Tensor | None) -> torch.Tensor:
        """Decoder output (logits or Gaussian means) for latents ``z`` (B, l), shift (B, d).

        Returns a tensor of shape (B, *data_shape).
        """
        grid_proj = self.coord(self.grid)  # (P, H): W_r r + b, once per forward pass
        bias = self.latent(z)  # (B, H): W_z z
        if shift is not None:
            bias = bias + self.shift_scale * (shift @ self.coord.weight.T)  # (B, H): k W_r dr
        h = torch.tanh(grid_proj.unsqueeze(0) + bias.unsqueeze(1))  # (B, P, H)
        h = self.body(h)  # (B, P, H')
        out = self.out(h).squeeze(-1)  # (B, P)
        return out.reshape(z.shape[0], *self.data_shape)
