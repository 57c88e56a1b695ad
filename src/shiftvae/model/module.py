"""The maths of the shift-VAE as a plain ``nn.Module``: inference, generation, loss.

loss = E_q[-log p(x | z, s)] + beta * KL(q(z, s | x) || N(0, I))

The first ``d`` latents are the shift ``dr`` (d = 0 for the plain VAE), the remaining ``l``
are the conventional latents.  The expectation is estimated with one reparameterised sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from shiftvae.model.decoder import CoordinateDecoder
from shiftvae.model.encoder import ConvEncoder, MLPEncoder
from shiftvae.model.likelihood import kl_standard_normal, reconstruction_nll


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of a shift-VAE; everything needed to rebuild the network."""

    data_shape: tuple[int, ...]  # (L,) for 1D signals, (H, W) for image patches
    latent_dim: int = 2  # l: conventional latents
    shift: bool = True  # False: plain VAE (no shift latents)
    shift_scale: float = 0.5  # k in r + k*dr, 0 < k <= 1
    likelihood: str = "bernoulli"  # "bernoulli" (on logits) or "gaussian"
    gaussian_std: float = 0.1  # observation noise of the Gaussian likelihood
    hidden: tuple[int, ...] = (128, 128)  # encoder widths (and decoder widths by default)
    decoder_hidden: tuple[int, ...] | None = None  # decoder widths, if not those of the encoder
    encoder: str = "mlp"  # "mlp" or "conv"
    coord_frequency: float | None = None  # None: tanh first decoder layer; else sine layer
    seed: int = 0

    @property
    def shift_dim(self) -> int:
        """d: number of shift latents (1 for signals, 2 for images, 0 without shift)."""
        return len(self.data_shape) if self.shift else 0


@dataclass
class LossOutput:
    """Batch-mean loss and its parts (tensors, so no host sync is forced)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


class ShiftVAEModule(nn.Module):
    """Encoder + coordinate decoder; the user-facing class is :class:`shiftvae.ShiftVAE`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n_latent = config.shift_dim + config.latent_dim
        encoder_cls = ConvEncoder if config.encoder == "conv" else MLPEncoder
        self.encoder = encoder_cls(config.data_shape, n_latent, config.hidden)
        self.decoder = CoordinateDecoder(
            config.data_shape,
            config.latent_dim,
            config.decoder_hidden or config.hidden,
            config.shift_scale,
            config.coord_frequency,
        )

    def inference(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of q(z, s | x), shape (B, d + l) each; shift latents first."""
        return self.encoder(x)

    def split(self, latents: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Split (B, d + l) latents into shift (B, d) or None, and content (B, l)."""
        d = self.config.shift_dim
        return (latents[:, :d] if d else None), latents[:, d:]

    def generative(self, latents: torch.Tensor) -> torch.Tensor:
        """Decoder output for (B, d + l) latents: logits or Gaussian means, (B, *S)."""
        shift, z = self.split(latents)
        return self.decoder(z, shift)

    def loss(
        self,
        x: torch.Tensor,
        beta: float | torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> LossOutput:
        """Negative ELBO (batch mean) with KL weight ``beta``.

        ``noise`` is the standard-normal draw of the reparameterisation (B, d + l); passing it
        in keeps random number generation in the caller's hands.
        """
        mean, std = self.inference(x)
        if noise is None:
            noise = torch.randn_like(mean)
        latents = mean + std * noise  # reparameterised sample
        output = self.generative(latents)
        cfg = self.config
        rec = reconstruction_nll(output, x, cfg.likelihood, cfg.gaussian_std).mean()
        kl = kl_standard_normal(mean, std).mean()
        return LossOutput(loss=rec + beta * kl, reconstruction=rec, kl=kl)
