"""A patch's Fourier coefficients on the crystal lattice: its position and its aligned motif.

A patch of a crystal with primitive vectors a1, a2 is fitted by least squares with the
Fourier series of :mod:`shiftvae.model.lattice_decoder`::

    x(r) ~ c_0 + sum_G [a_G cos(2 pi G.r) + b_G sin(2 pi G.r)],  G = h g1 + k g2

The fit is one fixed linear map (the pseudo-inverse of the basis), so it costs one matrix
product per batch.  Two things follow from the coefficients:

* the position anchor: a pattern moved by s turns (a_G, b_G) by the angle 2 pi G.s, so the
  directions of the fundamentals (a, b) at g1 and g2 give the position angles
  2 pi (u, v) up to a constant.  A least-squares fit is used, not the Fourier transform of
  the patch, because a patch of one or two cells cannot separate g1 from the stronger
  neighbouring reflections (g1 + g2 of a centred cell) by windowing;
* the aligned motif: turning every (a_G, b_G) back by h theta_1 + k theta_2 gives
  coefficients that no longer depend on where the pattern sits, which is what the content
  latents should describe (the "lattice" encoder reads them).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from shiftvae.model.lattice_decoder import lattice_basis

__all__ = ["LatticeFit"]


class LatticeFit(nn.Module):
    """Least-squares lattice Fourier coefficients of patches; see the module notes.

    Parameters
    ----------
    data_shape : (H, W)
    lattice : (2, 2) array
        Rows a1, a2 in patch pixels (row, col).
    harmonics : int, optional
        Highest harmonic along each reciprocal vector (default: from the lattice).
    """

    def __init__(self, data_shape: tuple[int, ...], lattice: np.ndarray, harmonics=None):
        super().__init__()
        cell = np.asarray(lattice, dtype=np.float64)
        hk, _, basis = lattice_basis(data_shape, cell, harmonics)
        projector = np.linalg.pinv(basis).T  # (P, 1 + 2n): x @ projector = coefficients
        fundamentals = [int(np.flatnonzero((hk == t).all(1))[0]) for t in ((1, 0), (0, 1))]
        self.register_buffer("projector", torch.as_tensor(projector, dtype=torch.float32), False)
        self.register_buffer("hk", torch.as_tensor(hk, dtype=torch.float32), False)
        self.register_buffer("fundamentals", torch.as_tensor(fundamentals), False)
        # per-coefficient scale of the aligned motif, set from the training data (saved)
        self.register_buffer("scale", torch.ones(1 + 2 * len(hk)))

    @property
    def n_coefficients(self) -> int:
        """1 + 2n: c_0, then a_G and b_G of the n harmonics."""
        return int(self.projector.shape[1])

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1 + 2n) least-squares coefficients of patches x (B, H, W)."""
        return x.flatten(1) @ self.projector

    def complex_coefficients(self, coef: torch.Tensor) -> torch.Tensor:
        """(B, n) a_G + i b_G of the harmonics ``hk``: the phase is the position angle of G."""
        n = self.hk.shape[0]
        return torch.complex(coef[:, 1 : 1 + n].double(), coef[:, 1 + n :].double())

    def anchor(self, coef: torch.Tensor) -> torch.Tensor:
        """(B, 2, 2) unit vectors (cos, sin) of the position angles from the fundamentals."""
        n = self.hk.shape[0]
        i = self.fundamentals
        ab = torch.stack([coef[:, 1 + i], coef[:, 1 + n + i]], -1)  # (B, 2, 2): a, b per g
        return ab / ab.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    def aligned(self, coef: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        """Coefficients turned back by h theta_1 + k theta_2 and scaled: the motif as if the
        pattern sat at the position ``angles`` (B, 2) = 0."""
        n = self.hk.shape[0]
        delta = angles @ self.hk.T  # (B, n)
        cos, sin = torch.cos(delta), torch.sin(delta)
        a, b = coef[:, 1 : 1 + n], coef[:, 1 + n :]
        # inverse of the decoder's ramp (a cos - b sin, a sin + b cos)
        a, b = a * cos + b * sin, b * cos - a * sin
        return torch.cat([coef[:, :1], a, b], 1) / self.scale

    @torch.no_grad()
    def set_scale(self, x: torch.Tensor, batch_size: int = 4096) -> None:
        """Scale each aligned coefficient to unit spread over the patches ``x`` (B, H, W)."""
        self.scale.fill_(1.0)
        parts = []
        for start in range(0, x.shape[0], batch_size):
            coef = self.coefficients(x[start : start + batch_size])
            angles = torch.atan2(*self.anchor(coef).unbind(-1)[::-1])
            parts.append(self.aligned(coef, angles))
        spread = torch.cat(parts).std(0)
        self.scale.copy_(spread.clamp(min=spread.max() * 1e-3 + 1e-12))
