"""A regression head: continuous properties measured at a few inputs, predicted for all.

A property known at a few cells (a thickness, a composition, a displacement read by another
method) is modelled as a linear function of the content latents' mean plus Gaussian noise,

    y = mu_y + s_y (w . z + b + eps),  eps ~ N(0, sigma^2),

with ``mu_y`` and ``s_y`` the labelled values' mean and spread (so the loss has no units).
The head trains with the VAE: the Gaussian negative log-likelihood of each labelled input is
added to the loss, so the labels also shape the latents (semi-supervised, as pyroVED's
``ss_reg_iVAE`` shapes them through its decoder).  At the end of training the head is
settled on the final latents in closed form (:meth:`RegressionHead.settle`): the few
hundred optimiser steps of a short fit leave its weights far from their optimum.  Linear,
because a handful of values cannot fit more than a few weights, and the latents already
carry the nonlinearity.

Each prediction comes with the least-squares prediction interval of its latents d = (z, 1):
``s_y sigma sqrt(1 + d^T G^-1 d)``, G the labelled inputs' Gram matrix; it widens away from
the labelled inputs.  Adding the encoder's posterior std of the latents, carried through the
head, was tried first: on 1D waves with 10 labels its 2-sigma band held every value (the
residual noise already holds that spread), 95% is what the band should hold.
"""

from __future__ import annotations

import torch
from scipy.stats import norm
from scipy.stats import t as t_dist
from torch import nn

__all__ = ["VALUE_WEIGHT", "RegressionHead"]

# weight of the labelled inputs' mean negative log-likelihood against the mean ELBO of an
# input, as the classes' LABEL_WEIGHT; the training loop spreads it over the labelled inputs
VALUE_WEIGHT = 0.1


class RegressionHead(nn.Module):
    """``count`` properties, each a linear function of ``dim`` content latents."""

    def __init__(self, dim: int, count: int):
        super().__init__()
        self.linear = nn.Linear(dim, count)
        self.log_noise = nn.Parameter(torch.zeros(count))
        self.register_buffer("value_mean", torch.zeros(count))
        self.register_buffer("value_scale", torch.ones(count))
        self.register_buffer("inverse_gram", torch.zeros(count, dim + 1, dim + 1))

    @torch.no_grad()
    def set_scale(self, values: torch.Tensor) -> None:
        """Mean and spread of each property from the known (finite) ``values`` (N, P)."""
        for p in range(values.shape[1]):
            known = values[:, p][torch.isfinite(values[:, p])]
            if len(known):
                self.value_mean[p] = known.mean()
                spread = known.std() if len(known) > 1 else known.abs().mean()
                self.value_scale[p] = spread if float(spread) > 0 else 1.0

    def nll(self, mean: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """(B,) Gaussian negative log-likelihood of the known ``values`` (B, P; NaN: unknown)
        given the content latents' means (B, l), summed over the known properties."""
        known = torch.isfinite(values)
        target = (torch.nan_to_num(values) - self.value_mean) / self.value_scale
        diff = (target - self.linear(mean)) * torch.exp(-self.log_noise)
        nll = 0.5 * diff.square() + self.log_noise
        return torch.where(known, nll, torch.zeros_like(nll)).sum(1)

    @torch.no_grad()
    def settle(self, mean: torch.Tensor, values: torch.Tensor, ridge: float = 1e-3) -> None:
        """Set the weights to the least-squares fit of the known ``values`` (N, P) on the
        content latents' means (N, l), and the noise to the residuals' spread over the
        degrees of freedom left; a ridge of ``ridge`` times the Gram matrix's diagonal
        (scale-free) keeps a handful of values well posed."""
        for p in range(values.shape[1]):
            known = torch.isfinite(values[:, p])
            x = mean[known].double()
            y = ((values[known, p] - self.value_mean[p]) / self.value_scale[p]).double()
            design = torch.cat([x, torch.ones_like(x[:, :1])], 1)
            gram = design.T @ design
            gram = gram + ridge * torch.diag(gram.diagonal())  # in the latents' own units
            coef = torch.linalg.solve(gram, design.T @ y)
            rss = (y - design @ coef).square().sum()
            dof = max(len(y) - design.shape[1], 1)
            self.linear.weight[p] = coef[:-1].to(self.linear.weight.dtype)
            self.linear.bias[p] = coef[-1].to(self.linear.bias.dtype)
            # a few values estimate the noise poorly: widen the band to Student's t's, so
            # that 2 sigma still holds about 95% (x2.2 with 5 values and 2 latents)
            widen = t_dist.ppf(0.975, dof) / norm.ppf(0.975)
            var = rss / dof * widen**2 + 1e-6
            self.log_noise[p] = 0.5 * torch.log(var).to(self.log_noise.dtype)
            self.inverse_gram[p] = torch.linalg.inv(gram).to(self.inverse_gram.dtype)

    @torch.no_grad()
    def predict(self, mean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted values (B, P) and their standard deviations (B, P), in the values' units,
        from the content latents' means (B, l)."""
        design = torch.cat([mean, torch.ones_like(mean[:, :1])], 1)  # (B, l + 1)
        leverage = torch.einsum("bi,pij,bj->bp", design, self.inverse_gram, design)
        std = torch.exp(self.log_noise) * torch.sqrt(1 + leverage)
        return self.value_mean + self.value_scale * self.linear(mean), self.value_scale * std
