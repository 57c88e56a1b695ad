"""The categorical latent: a class per input, as a mixture prior on the conventional latents.

p(c) = pi_c and p(z | c) = N(mu_c, diag sigma_c^2) replace the conventional latents' N(0, I)
prior (a Gaussian-mixture VAE, as VaDE); the position, pose and decoder are untouched, so the
classes inherit every invariance of the content latents.  The class is summed out exactly:
with the best class posterior for the encoder's q(z | x),

    q(c | x) = pi_c exp(-KL_c) / sum_k pi_k exp(-KL_k),  KL_c = KL(q(z | x) || p(z | c)),

the class part of the ELBO's KL is ``-logsumexp_c(log pi_c - KL_c)`` (:meth:`MixturePrior.kl`).

Measured first, and dropped: a one-hot class read by the decoder beside the content (the M2
model) put every input in one class on two-kind 1D data (adjusted Rand index 0.0 to 0.3),
the continuous latents learning the kinds instead.

Training starts with the N(0, I) prior; after a share of the epochs, the mixture is set from
a Gaussian mixture fitted to the latent means (labelled inputs place their classes' means),
and both are trained together from there.  With labels for a few inputs (``-1``: unknown), a
labelled input's class is observed (its KL is that of its own component) and its
cross-entropy under q(c | x) is added (Kingma et al.'s semi-supervised M2 loss, here on the
mixture's posterior).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LABEL_WEIGHT", "MixturePrior"]

# weight of the labelled inputs' mean cross-entropy against the mean ELBO of an input
# (Kingma et al.'s alpha / N); the training loop spreads it over the labelled inputs
LABEL_WEIGHT = 0.1


class MixturePrior(nn.Module):
    """p(z) = sum_c pi_c N(z; mu_c, diag sigma_c^2) over ``dim`` conventional latents.

    ``ready`` (a buffer, saved with the weights) is False until :meth:`start` sets the
    mixture from the latents; before, the prior is N(0, I) and :meth:`kl` says so.
    """

    def __init__(self, classes: int, dim: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(classes))
        self.mean = nn.Parameter(torch.zeros(classes, dim))
        self.log_std = nn.Parameter(torch.zeros(classes, dim))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))

    @property
    def classes(self) -> int:
        return self.logits.shape[0]

    def joint(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """(B, K) log pi_c - KL(N(mean, std^2) || N(mu_c, sigma_c^2)) for (B, l) latents."""
        var = torch.exp(2 * self.log_std)  # (K, l)
        diff = mean[:, None, :] - self.mean[None]  # (B, K, l)
        kl = 0.5 * (
            (std[:, None, :].square() + diff.square()) / var
            - 1.0
            - 2.0 * std[:, None, :].log()
            + 2.0 * self.log_std
        ).sum(-1)
        return F.log_softmax(self.logits, 0)[None] - kl

    def log_posterior(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """(B, K) log q(c | x) for the encoder's (B, l) latent means and stds."""
        return F.log_softmax(self.joint(mean, std), 1)

    def kl(
        self,
        mean: torch.Tensor,
        std: torch.Tensor,
        labels: torch.Tensor | None = None,
        label_weight: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) KL of the content latents and the class together, and (B,) label loss.

        Unlabelled: -logsumexp_c(log pi_c - KL_c).  Labelled (``labels`` >= 0): the KL to the
        own component minus log pi_c, and ``label_weight`` times -log q(c | x)."""
        joint = self.joint(mean, std)
        kl = -torch.logsumexp(joint, 1)
        loss = torch.zeros_like(kl)
        if labels is not None:
            known = labels >= 0
            target = labels.clamp(min=0)[:, None]
            own = -joint.gather(1, target).squeeze(1)
            ce = -F.log_softmax(joint, 1).gather(1, target).squeeze(1)
            kl = torch.where(known, own, kl)
            loss = torch.where(known, label_weight * ce, loss)
        return kl, loss

    @torch.no_grad()
    def start(self, means: np.ndarray, labels: np.ndarray | None = None, seed: int = 0) -> None:
        """Set the mixture from latent means (N, l): a Gaussian mixture of K components,
        started at the labelled classes' means where there are labels, and mark it ready."""
        from sklearn.mixture import GaussianMixture

        k = self.classes
        init = None
        if labels is not None and (labels >= 0).any():
            rng = np.random.default_rng(seed)
            init = means[rng.choice(len(means), k, replace=False)].copy()
            for c in range(k):
                if (labels == c).any():
                    init[c] = means[labels == c].mean(0)
        gmm = GaussianMixture(
            k, covariance_type="diag", means_init=init, random_state=seed, reg_covar=1e-4
        )
        gmm.fit(means)
        dev = self.mean.device
        self.mean.copy_(torch.as_tensor(gmm.means_, dtype=torch.float32, device=dev))
        std = np.sqrt(gmm.covariances_)
        self.log_std.copy_(torch.as_tensor(np.log(std), dtype=torch.float32, device=dev))
        self.logits.copy_(torch.as_tensor(np.log(gmm.weights_), dtype=torch.float32, device=dev))
        self.ready.fill_(True)
