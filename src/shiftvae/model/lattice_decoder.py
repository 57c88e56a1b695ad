"""Lattice decoder: the patch as a Fourier series on the crystal's reciprocal lattice.

The conventional latents z give the Fourier coefficients of one unit cell's motif; the
position moves it exactly by a phase ramp::

    logit(r) = c_0(z) + sum_G [a_G(z) cos(2 pi G.(r - s)) + b_G(z) sin(2 pi G.(r - s))]

over the reciprocal-lattice vectors G = h g1 + k g2 (|h|, |k| <= harmonics, one of each +-G
pair, none above 0.45 cycles/px), with r the pixel position from the patch centre and s the
displacement in pixels.  The motif is drawn once per sample (an MLP from z to the 2n + 1
coefficients) and the per-pixel work is one (B, 2n + 1) x (2n + 1, P) product, so the cost per
sample is of order n * P, not P * H^2 as for the coordinate MLP.

Because every G is a reciprocal-lattice vector, moving the pattern by a lattice vector leaves
the output unchanged: with the torus position latent (fractional coordinates u, v) the phase
of G is simply ``2 pi (h u + k v)``, and no patch needs to jump between equivalent positions.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from shiftvae.model.parts import NoBufferHooks, tanh_mlp
from shiftvae.model.position import Move

__all__ = ["LatticeDecoder", "default_harmonics", "harmonic_indices", "lattice_basis"]

MAX_FREQUENCY = 0.45  # cycles/px: harmonics beyond are aliased on the pixel grid


def default_harmonics(lattice: np.ndarray) -> int:
    """Highest harmonic along each reciprocal vector: about one per 3 px of the shorter period,
    within [2, 8], so columns of a few pixels are drawn sharply and no harmonic is aliased.

    Examples
    --------
    >>> default_harmonics(np.array([[24.0, 0.0], [0.0, 24.0]]))
    8
    """
    shortest = float(np.min(np.linalg.norm(np.asarray(lattice, float), axis=1)))
    return int(min(8, max(2, round(shortest / 3))))


def harmonic_indices(lattice: np.ndarray, harmonics: int) -> np.ndarray:
    """(n, 2) integer (h, k): one of each +-G pair, |h|, |k| <= harmonics, |G| <= 0.45 c/px.

    Examples
    --------
    >>> harmonic_indices(np.array([[10.0, 0.0], [0.0, 10.0]]), 1).tolist()
    [[0, 1], [1, -1], [1, 0], [1, 1]]
    """
    recip = np.linalg.inv(np.asarray(lattice, float)).T  # rows g1, g2: g_i . a_j = delta_ij
    m = int(harmonics)
    out = []
    for h in range(0, m + 1):
        for k in range(-m, m + 1):
            if (h == 0 and k <= 0) or np.linalg.norm(h * recip[0] + k * recip[1]) > MAX_FREQUENCY:
                continue
            out.append((h, k))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def lattice_basis(data_shape, lattice: np.ndarray, harmonics: int | None = None):
    """Harmonics (n, 2), their frequencies (n, 2) in cycles/px and the basis (P, 1 + 2n) of
    the Fourier series on the lattice: 1, cos(2 pi G.r), sin(2 pi G.r), r from the patch
    centre, pixels in row-major order.  Shared by the decoder and the least-squares fit.
    """
    cell = np.asarray(lattice, dtype=np.float64)
    hk = harmonic_indices(cell, default_harmonics(cell) if harmonics is None else harmonics)
    freqs = hk @ np.linalg.inv(cell).T  # (n, 2) cycles/px, (row, col)
    rows, cols = (np.arange(n) - (n - 1) / 2 for n in data_shape)
    r = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1).reshape(-1, 2)  # (P, 2)
    phase = 2 * math.pi * r @ freqs.T  # (P, n)
    basis = np.concatenate([np.ones((r.shape[0], 1)), np.cos(phase), np.sin(phase)], 1)
    return hk, freqs, basis


class LatticeDecoder(NoBufferHooks, nn.Module):
    """Fourier-series decoder on a lattice; see the module notes.

    Parameters
    ----------
    data_shape : (H, W)
        Patch shape in pixels.
    latent_dim : int
        Conventional latents l.
    hidden : tuple of int
        Widths of the MLP from z to the coefficients.
    lattice : (2, 2) array
        Rows a1, a2: the primitive lattice vectors in patch pixels, (row, col).
    harmonics : int, optional
        Highest harmonic along each reciprocal vector (default: :func:`default_harmonics`).
    """

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        hidden: tuple[int, ...],
        lattice: np.ndarray,
        harmonics: int | None = None,
    ):
        super().__init__()
        self.data_shape = tuple(int(n) for n in data_shape)
        self.lattice = np.asarray(lattice, dtype=np.float64)
        self.harmonics = default_harmonics(self.lattice) if harmonics is None else harmonics
        hk, freqs, basis = lattice_basis(self.data_shape, self.lattice, self.harmonics)
        basis = basis.T  # (1 + 2n, P): coefficients @ basis = logits
        self.register_buffer("basis", torch.as_tensor(basis, dtype=torch.float32), False)
        self.register_buffer("hk", torch.as_tensor(hk, dtype=torch.float32), False)
        self.register_buffer("freqs", torch.as_tensor(freqs, dtype=torch.float32), False)
        self.body, width = tanh_mlp(latent_dim, tuple(hidden))
        self.coefficients = nn.Linear(width, 1 + 2 * len(hk))  # c_0, a_G, b_G

    @property
    def n_harmonics(self) -> int:
        """n: the number of +-G pairs drawn."""
        return int(self.hk.shape[0])

    def forward(
        self, z: torch.Tensor, move: Move | None = None, pose: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (B, H, W) for latents z (B, l), moved by ``move``: by its angles (B, 2), the
        position as 2 pi times the fractional coordinates, where it has them (the torus),
        else by its pixels (B, 2).  No pose: the lattice is the image's own.
        """
        if pose is not None:
            raise ValueError("the lattice decoder draws on the image's lattice: no pose")
        coef = self.coefficients(self.body(z))  # (B, 1 + 2n)
        n = self.n_harmonics
        c0, a, b = coef[:, :1], coef[:, 1 : 1 + n], coef[:, 1 + n :]
        if move is None:
            delta = None
        elif move.angles is not None:
            delta = move.angles @ self.hk.T  # (B, n): h theta_1 + k theta_2
        else:
            delta = (2 * math.pi) * (move.pixels @ self.freqs.T)  # (B, n): 2 pi G . s
        if delta is not None:  # the phase ramp: the motif moved by s
            cos, sin = torch.cos(delta), torch.sin(delta)
            a, b = a * cos - b * sin, a * sin + b * cos
        out = torch.cat([c0, a, b], dim=1) @ self.basis  # (B, P)
        return out.reshape(z.shape[0], *self.data_shape)
