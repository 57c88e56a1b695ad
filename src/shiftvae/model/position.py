"""Position latents: where the pattern sits in a patch.

Two kinds, side by side:

* ``"gaussian"`` (the paper): a shift ``dr ~ N(mu, sigma^2)`` per image axis with prior
  N(0, 1); one prior unit moves the pattern by ``shift_scale`` half-widths of the patch.
* ``"torus"``: the position modulo the unit cell.  In a crystal the position of the pattern in
  a patch is defined only up to a lattice vector, so it is a point on the torus of fractional
  coordinates (u, v) in [0, 1)^2 along the lattice vectors a1, a2.  Each coordinate is an
  angle theta = 2 pi u with a wrapped-normal posterior and a uniform prior::

      q(theta | x) = sum_k N(theta + 2 pi k; mu, sigma^2),   p(theta) = 1 / (2 pi)
      KL(q || p) = log(2 pi) - H(q)

  The displacement in pixels is ``(theta_1 a1 + theta_2 a2) / (2 pi)``.  A sample is
  ``mu + sigma * eps`` with ``eps ~ N(0, 1)``: wrapping it is left to the decoder, which is
  periodic in the angle, so the reparameterisation gradient is exact.

The entropy of the wrapped normal has no closed form.  For sigma < 0.5 the wrapped copies
change it by less than 1e-8 and the Gaussian entropy is used; above, the density is summed as
its Fourier series ``(1 + 2 sum_n rho^(n^2) cos(n theta)) / (2 pi)``, rho = exp(-sigma^2 / 2),
which converges fast exactly there, and integrated with the periodic trapezoid rule on 128
nodes (spectrally accurate for a smooth periodic density).
The wrapped normal was preferred to the power-spherical distribution because its sample is a
plain Gaussian draw, so the training loop's noise and seeding serve it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "TWO_PI",
    "GaussianShift",
    "Move",
    "NoPosition",
    "TorusPosition",
    "angles_around",
    "angles_from_vectors",
    "kl_wrapped_normal_uniform",
    "position_part",
    "wrapped_normal_entropy",
    "wrapped_normal_log_prob",
]

TWO_PI = 2.0 * math.pi
_SMALL_SIGMA = 0.5  # below: Gaussian entropy (wrapped copies change it by < 1e-8)
_NODES = 128  # trapezoid nodes on [-pi, pi) for larger sigma
_WRAPS = 3  # copies k = -3..3 of the Gaussian in log_prob (enough for sigma up to ~2)
_HARMONICS = 16  # Fourier terms for sigma >= 0.5: rho^(n^2) < 1e-13 beyond


def wrapped_normal_log_prob(theta: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor):
    """log q(theta) of the wrapped normal WN(mu, sigma), elementwise (broadcasting).

    Examples
    --------
    >>> lp = wrapped_normal_log_prob(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(10.0))
    >>> round(float(lp.exp()) * 2 * math.pi, 4)  # nearly uniform
    1.0
    """
    k = torch.arange(-_WRAPS, _WRAPS + 1, device=theta.device, dtype=theta.dtype)
    delta = torch.remainder(theta - mu + math.pi, TWO_PI) - math.pi  # in [-pi, pi)
    z = (delta.unsqueeze(-1) + TWO_PI * k) / sigma.unsqueeze(-1)
    log_terms = -0.5 * z.square() - torch.log(sigma).unsqueeze(-1) - 0.5 * math.log(TWO_PI)
    return torch.logsumexp(log_terms, dim=-1)


def wrapped_normal_entropy(sigma: torch.Tensor) -> torch.Tensor:
    """Differential entropy H(WN(mu, sigma)) in nats, elementwise; between 0.5 log(2 pi e
    sigma^2) for small sigma and log(2 pi) for large sigma.

    Examples
    --------
    >>> h = wrapped_normal_entropy(torch.tensor([0.1, 100.0]))
    >>> [round(float(v), 4) for v in h]
    [-0.8836, 1.8379]
    """
    gaussian = 0.5 * torch.log(TWO_PI * math.e * sigma.square())
    # the series branch sees sigma >= 0.5 only: no NaN gradient leaks through torch.where
    # from the branch that is not taken
    wide = sigma.clamp(min=_SMALL_SIGMA).unsqueeze(-1)  # (..., 1)
    n = torch.arange(1, _HARMONICS + 1, device=sigma.device, dtype=sigma.dtype)
    weights = torch.exp(-0.5 * wide.square() * n.square())  # (..., N): rho^(n^2)
    nodes = torch.arange(_NODES, device=sigma.device, dtype=sigma.dtype) * (TWO_PI / _NODES)
    cosines = torch.cos(n[:, None] * nodes[None, :])  # (N, nodes)
    density = (1.0 + 2.0 * weights @ cosines) / TWO_PI  # (..., nodes)
    density = density.clamp(min=torch.finfo(sigma.dtype).tiny)
    quadrature = -(density * density.log()).sum(-1) * (TWO_PI / _NODES)
    return torch.where(sigma < _SMALL_SIGMA, gaussian, quadrature)


def kl_wrapped_normal_uniform(sigma: torch.Tensor) -> torch.Tensor:
    """KL(WN(mu, sigma) || U[0, 2 pi)) = log(2 pi) - H, summed over the last axis.

    It does not depend on mu: every position on the torus is equally likely a priori.

    Examples
    --------
    >>> kl = kl_wrapped_normal_uniform(torch.tensor([[0.1, 0.1], [50.0, 50.0]]))
    >>> [round(float(v), 3) for v in kl]
    [5.443, 0.0]
    """
    return (math.log(TWO_PI) - wrapped_normal_entropy(sigma)).sum(dim=-1)


def angles_from_vectors(raw: torch.Tensor) -> torch.Tensor:
    """Angles (B, k) from k 2-vectors laid out as (B, 2k): atan2 of each (y, x) pair.

    The encoder predicts each angle's mean as a free 2-vector, which has no branch cut, and
    the angle is its direction.
    """
    pairs = raw.unflatten(-1, (-1, 2))  # (B, k, 2): (x, y)
    return torch.atan2(pairs[..., 1], pairs[..., 0])


def angles_around(anchor: torch.Tensor, raw: torch.Tensor, reach: float) -> torch.Tensor:
    """Angles (B, k) within ``reach`` of an anchor: ``anchor`` (B, k, 2) unit vectors (cos,
    sin), ``raw`` (B, 2k) the encoder's correction as k 2-vectors added to them.

    The correction turns the anchor by the angle of anchor + raw, as
    ``angles_from_vectors(raw + anchor)`` would, then squashed to (-reach, reach) by
    ``reach * tanh(turn / reach)``: the same for small corrections, and never past ``reach``
    (a quarter cell for pi / 2), so a position cannot leave its registered branch.  Wrapped
    to (-pi, pi].

    Examples
    --------
    >>> a = torch.tensor([[[1.0, 0.0]]])
    >>> float(angles_around(a, torch.tensor([[-2.0, 0.01]]), math.pi / 2).abs()) < math.pi / 2
    True
    """
    pairs = raw.unflatten(-1, (-1, 2))
    along = (pairs * anchor).sum(-1)
    across = pairs[..., 1] * anchor[..., 0] - pairs[..., 0] * anchor[..., 1]
    turn = torch.atan2(across, 1.0 + along)
    angles = torch.atan2(anchor[..., 1], anchor[..., 0]) + reach * torch.tanh(turn / reach)
    return torch.remainder(angles + math.pi, TWO_PI) - math.pi


# --- the position as one part of the model -----------------------------------------------
# Each kind of position is one small module behind the same interface: ``move`` turns its
# latents into a :class:`Move` (what every decoder reads), ``read`` turns the encoder's raw
# outputs into the posterior's mean and std, ``reach`` is how far it can move the pattern
# (the canvas decoder's margins), and ``circular`` says which prior its KL has.

MARGIN_PRIOR_UNITS = 2.0  # the canvas's margin allows Gaussian shifts of this many prior units


@dataclass
class Move:
    """Where the pattern is moved, per sample, in the units each decoder draws in.

    ``pixels`` (B, d): along (row, col), positive toward increasing index (every position
    has it); ``angles`` (B, 2): 2 pi (u, v) on the unit cell (torus only: the lattice
    decoder's phase ramp reads them as they are); ``units`` (B, d): the Gaussian shift in
    its prior units (the coordinate decoder's).
    """

    pixels: torch.Tensor
    angles: torch.Tensor | None = None
    units: torch.Tensor | None = None

    def prior_units(self, shift_scale: float, half: torch.Tensor) -> torch.Tensor:
        """The move in the Gaussian shift's prior units: ``-pixels / (k half)``."""
        return self.units if self.units is not None else -self.pixels / (shift_scale * half)


class NoPosition(nn.Module):
    """No position latent (the plain VAE): the pattern stays where it is drawn."""

    circular = False

    def __init__(self, data_shape: tuple[int, ...]):
        super().__init__()
        self.dims = len(data_shape)

    def move(self, position: torch.Tensor | None) -> Move | None:
        return None

    def read(self, mean, std, anchor=None, reach=None):
        return mean, std

    def reach(self) -> list[float]:
        return [0.0] * self.dims


class GaussianShift(NoPosition):
    """The paper's shift: ``dr ~ N(mu, sigma^2)``, prior N(0, 1), one unit moving the pattern
    by ``shift_scale`` half-widths of the patch."""

    def __init__(self, data_shape: tuple[int, ...], shift_scale: float):
        super().__init__(data_shape)
        self.shift_scale = shift_scale
        self.half_widths = [(n - 1) / 2 for n in data_shape]
        self.register_buffer("half_side", torch.tensor(self.half_widths), False)

    def move(self, position: torch.Tensor) -> Move:
        return Move(pixels=-position * self.shift_scale * self.half_side, units=position)

    def reach(self) -> list[float]:
        return [MARGIN_PRIOR_UNITS * self.shift_scale * h for h in self.half_widths]


class TorusPosition(NoPosition):
    """The position modulo the unit cell: two angles 2 pi (u, v), wrapped-normal posterior,
    uniform prior; moves the pattern by ``(theta_1 a1 + theta_2 a2) / (2 pi)`` pixels."""

    circular = True

    def __init__(self, data_shape: tuple[int, ...], lattice):
        super().__init__(data_shape)
        self.cell = np.asarray(lattice, dtype=np.float64)
        self.register_buffer("lattice", torch.as_tensor(self.cell, dtype=torch.float32), False)

    def move(self, angles: torch.Tensor) -> Move:
        return Move(pixels=angles @ self.lattice / TWO_PI, angles=angles)

    def read(self, mean, std, anchor=None, reach=None):
        """Each angle's mean from its 2-vector output added to ``anchor``: turned from the
        anchor by at most ``reach`` (the lattice coder, ``anchor`` (B, 2, 2)), or its plain
        direction (the pose models, ``anchor`` (B, 4)); its sigma is the geometric mean of
        the two std outputs."""
        r = 2 * self.dims
        if reach is not None:
            angles = angles_around(anchor, mean[:, :r], reach)
        else:
            angles = angles_from_vectors(mean[:, :r] + anchor.flatten(1))
        sigma = std[:, :r].unflatten(1, (-1, 2)).prod(-1).sqrt()
        return torch.cat([angles, mean[:, r:]], 1), torch.cat([sigma, std[:, r:]], 1)

    def reach(self) -> list[float]:
        return [e / 2 for e in np.abs(self.cell).sum(0)]  # half the cell's extent per axis


def position_part(config) -> NoPosition:
    """The position part of a :class:`~shiftvae.model.module.ModelConfig`."""
    if not config.shift:
        return NoPosition(config.data_shape)
    if config.position == "torus":
        return TorusPosition(config.data_shape, config.lattice)
    return GaussianShift(config.data_shape, config.shift_scale)
