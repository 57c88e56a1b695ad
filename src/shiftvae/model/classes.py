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
and both are trained together from there.  With ``auto``, the number of classes is chosen
then, from 2 to the components allocated, as the mixture whose classes are best separated
in the latents (the highest mean silhouette of its cells); the unused components stay out
of every sum.  Measured on the latents of default fits (``benchmarks/bench_classes.py``):
the silhouette found the true number on the interface and the four variants at both
noise levels, and missed the defects (as many as 6); the mixtures' BIC found it in none
of those six images and the ICL in one, since a class's cells spread over a curved patch
of the latents, which they split into several Gaussians.

With labels for a few inputs (``-1``: unknown), a labelled input's class is observed (its KL
is that of its own component) and its cross-entropy under q(c | x) is added (Kingma et
al.'s semi-supervised M2 loss, here on the mixture's posterior).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from shiftvae.analysis.mixture import fit_mixture, separation

__all__ = ["AUTO_CLASSES", "LABELLED_COMPONENTS", "LABEL_WEIGHT", "MixturePrior"]

log = logging.getLogger(__name__)

AUTO_CLASSES = 6  # the most classes that ``classes="auto"`` chooses

# weight of the labelled inputs' mean cross-entropy against the mean ELBO of an input
# (Kingma et al.'s alpha / N); the training loop spreads it over the labelled inputs
LABEL_WEIGHT = 0.1

# Gaussian components per class when there are labels: a class's cells may spread over a
# curved patch of the latents (a defect anywhere in its patch), which one Gaussian misses
LABELLED_COMPONENTS = 4


class MixturePrior(nn.Module):
    """p(z) = sum_c pi_c N(z; mu_c, diag sigma_c^2) over ``dim`` conventional latents.

    ``count`` (a buffer, saved with the weights) is 0 until :meth:`start` sets the mixture
    from the latents (before, the prior is N(0, I)), then the number of classes in use: all
    ``classes`` components, or with ``auto`` the number the latents chose.
    """

    def __init__(self, classes: int, dim: int, auto: bool = False):
        super().__init__()
        self.auto = auto
        self.most = classes
        size = classes * LABELLED_COMPONENTS
        self.logits = nn.Parameter(torch.zeros(size))
        self.mean = nn.Parameter(torch.zeros(size, dim))
        self.log_std = nn.Parameter(torch.zeros(size, dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))
        # the class of each component (components of one class are summed)
        self.register_buffer("owner", torch.arange(size, dtype=torch.int64) % classes)
        self._count = 0  # the buffers' values, kept on the host: no device sync per step
        self._classes = 0
        self.register_load_state_dict_post_hook(lambda module, _: module._read_count())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # models saved before components per class: one component per class, same shapes
        if prefix + "owner" not in state_dict and prefix + "logits" in state_dict:
            n = len(state_dict[prefix + "logits"])
            for name in ("logits", "mean", "log_std"):
                old = state_dict[prefix + name]
                grown = torch.zeros_like(getattr(self, name))
                grown[:n] = old
                state_dict[prefix + name] = grown
            state_dict[prefix + "owner"] = self.owner.clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _read_count(self) -> None:
        self._count = int(self.count)
        self._classes = int(self.owner[: self._count].max()) + 1 if self._count else 0
        mask = torch.full((self._count, max(self._classes, 1)), -torch.inf)
        if self._count:
            mask[torch.arange(self._count), self.owner[: self._count].cpu()] = 0.0
        self._mask = mask.to(self.logits.device)  # (components, classes): 0 where owned

    @property
    def ready(self) -> bool:
        """Whether the mixture has been started (:meth:`start`)."""
        return self._count > 0

    @property
    def classes(self) -> int:
        """The classes in use (0 before the start)."""
        return self._classes

    def _by_class(self, per_component: torch.Tensor) -> torch.Tensor:
        """(B, K) log-sum-exp over each class's components of (B, C) log terms."""
        mask = self._mask.to(per_component.device)
        return torch.logsumexp(per_component[:, :, None] + mask[None], 1)

    def heaviest(self) -> torch.Tensor:
        """(K,) the component of largest weight of each class."""
        k = self._count
        weights = self.logits[:k].detach()
        owner = self.owner[:k]
        return torch.stack(
            [torch.where(owner == c, weights, -torch.inf).argmax() for c in range(self._classes)]
        )

    def joint(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """(B, K) log pi_c - KL(N(mean, std^2) || N(mu_c, sigma_c^2)) for (B, l) latents."""
        k = self._count
        log_std = self.log_std[:k]
        var = torch.exp(2 * log_std)  # (K, l)
        diff = mean[:, None, :] - self.mean[None, :k]  # (B, K, l)
        kl = 0.5 * (
            (std[:, None, :].square() + diff.square()) / var
            - 1.0
            - 2.0 * std[:, None, :].log()
            + 2.0 * log_std
        ).sum(-1)
        return F.log_softmax(self.logits[:k], 0)[None] - kl

    def log_posterior(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """(B, K) log q(c | x) for the encoder's (B, l) latent means and stds."""
        return self._by_class(F.log_softmax(self.joint(mean, std), 1))

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
            own = -self._by_class(joint).gather(1, target).squeeze(1)
            ce = -self._by_class(F.log_softmax(joint, 1)).gather(1, target).squeeze(1)
            kl = torch.where(known, own, kl)
            loss = torch.where(known, label_weight * ce, loss)
        return kl, loss

    @torch.no_grad()
    def start(self, means: np.ndarray, labels: np.ndarray | None = None, seed: int = 0) -> None:
        """Set the mixture from latent means (N, l): a Gaussian mixture of K components (with
        ``auto``, of the K from 2 up whose classes have the highest silhouette).  With labels
        (and K given), LABELLED_COMPONENTS components per class: each goes to the class
        most of its labelled inputs have, or, with none, to that of the nearest labelled
        input (:func:`own_components`)."""
        known = labels is not None and bool((labels >= 0).any())
        if known and not self.auto:
            gmm = fit_mixture(means, self.most * LABELLED_COMPONENTS, seed, "diag")
            owner = own_components(gmm, means, labels, self.most)
            self._set(gmm, owner)
            return
        counts = [self.most]
        if self.auto:
            least = int(labels.max()) + 1 if known else 2
            counts = list(range(max(2, least), self.most + 1))
        fits = []
        for k in counts:
            init = None
            if known:
                rng = np.random.default_rng(seed)
                init = means[rng.choice(len(means), k, replace=False)].copy()
                for c in range(k):
                    if (labels == c).any():
                        init[c] = means[labels == c].mean(0)
            fits.append(fit_mixture(means, k, seed, "diag", init))
        gmm = fits[0]
        if self.auto:
            scores = [separation(means, m.predict(means), seed) for m in fits]
            gmm = fits[int(np.argmax(scores))]
            said = ", ".join(f"{m.n_components}: {v:.3f}" for m, v in zip(fits, scores))
            log.info("classes chosen by silhouette: %d (%s)", gmm.n_components, said)
        self._set(gmm, np.arange(gmm.n_components))

    def _set(self, gmm, owner: np.ndarray) -> None:
        """Take the components of a fitted Gaussian mixture, and their classes ``owner``."""
        k = gmm.n_components
        dev = self.mean.device
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=dev)  # noqa: E731
        self.mean[:k] = as_tensor(gmm.means_)
        self.log_std[:k] = as_tensor(0.5 * np.log(gmm.covariances_))
        self.logits[:k] = as_tensor(np.log(gmm.weights_))
        self.owner[:k] = torch.as_tensor(owner, dtype=torch.int64, device=dev)
        self.count.fill_(k)
        self._read_count()


def own_components(gmm, means: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """The class of each component of ``gmm``: that of most of its labelled inputs, else of
    the labelled input nearest its mean; a class left without one takes the component
    nearest its labelled inputs' mean from a class that has several."""
    member = gmm.predict(means)
    known = labels >= 0
    points, given = means[known], labels[known]
    owner = np.empty(gmm.n_components, dtype=np.int64)
    for c in range(gmm.n_components):
        mine = given[member[known] == c]
        if len(mine):
            owner[c] = np.bincount(mine, minlength=classes).argmax()
        else:
            owner[c] = given[np.argmin(((points - gmm.means_[c]) ** 2).sum(1))]
    for k in range(classes):
        if (owner == k).any() or not (given == k).any():
            continue
        centre = points[given == k].mean(0)
        spare = [c for c in range(len(owner)) if (owner == owner[c]).sum() > 1]
        if spare:
            c = min(spare, key=lambda c: ((gmm.means_[c] - centre) ** 2).sum())
            owner[c] = k
    return owner
