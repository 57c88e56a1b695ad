"""Log-likelihoods and the KL term of the evidence lower bound.

All functions return one value per sample (summed over pixels or latents), so the caller
decides how to reduce over the batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Likelihood = Literal["bernoulli", "gaussian"]


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log Ber(x | sigmoid(logits)), summed over pixels; stable for any logit."""
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return nll.flatten(1).sum(dim=1)


def gaussian_nll(mean: torch.Tensor, x: torch.Tensor, std: float) -> torch.Tensor:
    """-log N(x | mean, std^2), summed over pixels (constant included)."""
    const = 0.5 * torch.log(torch.tensor(2 * torch.pi * std * std, device=x.device))
    return (0.5 * ((x - mean) / std).square() + const).flatten(1).sum(dim=1)


def reconstruction_nll(
    output: torch.Tensor, x: torch.Tensor, likelihood: Likelihood, gaussian_std: float
) -> torch.Tensor:
    """Per-sample reconstruction term for the chosen likelihood."""
    if likelihood == "bernoulli":
        return bernoulli_nll(output, x)
    return gaussian_nll(output, x, gaussian_std)


def kl_standard_normal(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, std^2) || N(0, 1)) in closed form, summed over latents.

    KL = 0.5 * sum(mean^2 + std^2 - 1 - 2 log std)
    """
    return 0.5 * (mean.square() + std.square() - 1.0 - 2.0 * std.log()).sum(dim=1)


def mean_image(output: torch.Tensor, likelihood: Likelihood) -> torch.Tensor:
    """Expected image under the likelihood: sigmoid of the logits, or the Gaussian mean."""
    return torch.sigmoid(output) if likelihood == "bernoulli" else output
