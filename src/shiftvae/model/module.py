"""The maths of the shift-VAE as a plain ``nn.Module``: inference, generation, loss.

loss = E_q[-log p(x | z, s)] + beta * KL(q(z, s | x) || p(z, s))

The first ``d`` latents are the position (d = 0 for the plain VAE), the remaining ``l`` are
the conventional latents with prior N(0, I).  The position is either the paper's Gaussian
shift ``dr`` (prior N(0, I)) or, with ``position="torus"``, two angles 2 pi (u, v) of the
fractional position in the unit cell (wrapped normal, uniform prior; see
:mod:`shiftvae.model.position`).  The expectation is estimated with one reparameterised sample.

Decoders: the paper's coordinate MLP (:class:`CoordinateDecoder`), the Fourier series on the
reciprocal lattice (:class:`LatticeDecoder`), or a canvas drawn once per sample and moved by a
phase ramp (:class:`CanvasDecoder`); all take the content z and the position's
:class:`~shiftvae.model.position.Move`.

The parts are chosen once, from the :class:`ModelConfig`'s strings: the position
(:func:`~shiftvae.model.position.position_part`: none, Gaussian shift or torus), the pose
(rotation and scales, with their anchor), the likelihood, the encoder and the decoder; the
:class:`~shiftvae.model.layout.LatentLayout` says where each kind of latent sits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from shiftvae.model.canvas_decoder import CanvasDecoder
from shiftvae.model.classes import MixturePrior
from shiftvae.model.decoder import CoordinateDecoder
from shiftvae.model.encoder import ConvEncoder, MLPEncoder
from shiftvae.model.lattice_decoder import LatticeDecoder
from shiftvae.model.lattice_fit import LatticeFit
from shiftvae.model.layout import LatentLayout
from shiftvae.model.likelihood import kl_standard_normal, reconstruction_nll
from shiftvae.model.pose import PoseAnchor, cell_waves, pose_matrix, turn_patches
from shiftvae.model.position import (
    MARGIN_PRIOR_UNITS,
    TWO_PI,
    kl_wrapped_normal_uniform,
    position_part,
)
from shiftvae.model.regression import RegressionHead

POSE_START_LOG_STD = -2.0  # initial log-std of the pose corrections
# the lattice coder's position stays within a quarter cell of its (registered) anchor
POSITION_REACH = math.pi / 2


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
    position: str = "gaussian"  # "gaussian" (paper's shift) or "torus" (modulo the cell)
    decoder: str = "coordinate"  # "coordinate" (paper's MLP), "lattice" or "canvas"
    lattice: tuple[tuple[float, float], tuple[float, float]] | None = None  # a1, a2 in px
    harmonics: int | None = None  # lattice decoder: highest harmonic (None: from the lattice)
    rotation: int = 0  # symmetry order n of the rotation latent (0: no rotation)
    scale: str | None = None  # None, "isotropic" or "axes": scale latents
    scale_range: float = 0.1  # one prior unit of a scale latent: exp(0.1) relative size
    period: float | None = None  # lattice period in patch px: the orientation anchor's ring
    classes: int = 0  # K: a categorical latent with K classes (0: none)
    auto_classes: bool = False  # K is the most classes; the number used is the best separated
    properties: tuple[str, ...] = ()  # continuous properties predicted by a regression head
    seed: int = 0

    @property
    def shift_dim(self) -> int:
        """d: number of shift latents (1 for signals, 2 for images, 0 without shift)."""
        return len(self.data_shape) if self.shift else 0

    @property
    def scale_dim(self) -> int:
        """Scale latents: 1 (isotropic), 2 (one per motif axis) or 0."""
        return {"isotropic": 1, "axes": 2}.get(self.scale or "", 0)

    @property
    def pose_dim(self) -> int:
        """Pose latents after the position: the rotation angle (if any) and the scales."""
        return (1 if self.rotation else 0) + self.scale_dim


@dataclass
class LossOutput:
    """Batch-mean loss and its parts (tensors, so no host sync is forced)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor  # of every latent, the class included


class ShiftVAEModule(nn.Module):
    """Encoder + coordinate decoder; the user-facing class is :class:`shiftvae.ShiftVAE`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.layout = LatentLayout.of(config)
        self.position = position_part(config)
        n_latent = self.layout.raw
        self.anchor = None
        if config.pose_dim:
            self.anchor = PoseAnchor(config.data_shape, config.rotation, config.period)
            if self.layout.circular_position:
                waves = cell_waves(config.data_shape, np.asarray(config.lattice))
                self.register_buffer("cell_waves", waves, False)
        self.lattice_fit = None
        if config.lattice is not None:
            self.lattice_fit = LatticeFit(config.data_shape, config.lattice, config.harmonics)
        if config.encoder == "lattice":  # reads the aligned motif, not the pixels
            n_in = (self.lattice_fit.n_coefficients,)
            self.encoder = MLPEncoder(n_in, n_latent, config.hidden)
        else:
            encoder_cls = ConvEncoder if config.encoder == "conv" else MLPEncoder
            self.encoder = encoder_cls(config.data_shape, n_latent, config.hidden)
        if config.pose_dim:
            self._start_pose_at_the_anchor(n_latent)
        self.mixture = None
        if config.classes:  # the class: a mixture prior on the content latents
            self.mixture = MixturePrior(config.classes, config.latent_dim, config.auto_classes)
        self.regression = None
        if config.properties:  # values known at a few inputs, predicted from the content
            self.regression = RegressionHead(config.latent_dim, len(config.properties))
        hidden = config.decoder_hidden or config.hidden
        if config.decoder == "lattice":
            self.decoder = LatticeDecoder(
                config.data_shape, config.latent_dim, hidden, config.lattice, config.harmonics
            )
        elif config.decoder == "canvas":
            self.decoder = CanvasDecoder(
                config.data_shape, config.latent_dim, hidden, self.canvas_margins()
            )
        else:
            self.decoder = CoordinateDecoder(
                config.data_shape,
                config.latent_dim,
                hidden,
                config.shift_scale,
                config.coord_frequency,
            )

    @torch.no_grad()
    def _start_pose_at_the_anchor(self, n_latent: int) -> None:
        """Pose corrections start at zero with a small std (e^-2): the first steps decode at
        the anchor's angle and size rather than at the random turn of a fresh encoder."""
        rows = torch.tensor(list(self.layout.raw_pose))
        head = self.encoder.head
        head.weight[rows] = 0.0
        head.bias[rows] = 0.0
        head.weight[rows + n_latent] = 0.0
        head.bias[rows + n_latent] = POSE_START_LOG_STD

    def canvas_margins(self) -> tuple[int, ...]:
        """Pixels the canvas decoder adds on each side: the largest move the position makes.

        Two prior units of the Gaussian shift (k (n - 1) / 2 px each), or on the torus half
        the unit cell's extent along the axis; none without a position latent.
        """
        cfg = self.config
        moves = self.position.reach()
        if not cfg.pose_dim:
            return tuple(math.ceil(m) for m in moves)
        # turned and scaled, the patch's corners reach sqrt(2) half-sides / smallest scale
        smallest = math.exp(-MARGIN_PRIOR_UNITS * 1.5 * cfg.scale_range) if cfg.scale else 1.0
        half = [(n - 1) / 2 for n in cfg.data_shape]
        reach = math.sqrt(2) * max(half) / smallest
        return tuple(math.ceil(reach + m - h) + 1 for m, h in zip(moves, half))

    def inference(
        self, x: torch.Tensor, prepared: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of q(z, s | x), shape (B, d + l) each; position latents first.

        For the torus, the position's mean is the pair of angles in (-pi, pi] and its std the
        wrapped normal's sigma (the geometric mean of the two std outputs of each angle).
        ``prepared``: rows of :meth:`prepare` for x, if the caller has them.
        """
        if self.anchor is not None:
            return self._posed_inference(x, prepared)
        if self.lattice_fit is None:
            return self.encoder(x)
        prepared = self.prepare(x) if prepared is None else prepared
        anchor = prepared[:, -4:].reshape(-1, 2, 2)  # the lattice phase of the patch
        if self.config.encoder == "lattice":
            mean, std = self.encoder(prepared[:, :-4])
        else:
            mean, std = self.encoder(x)
        return self.position.read(mean, std, anchor, POSITION_REACH)

    def prepare(self, x: torch.Tensor, anchor: torch.Tensor | None = None) -> torch.Tensor | None:
        """What the encoder reads of patches x (B, H, W) that no weight changes, packed in one
        tensor, or None for a model that reads the patches as they are.

        ``anchor`` (B, 2): the position angles of a registration of the whole image
        (:func:`shiftvae.lattice.registration.register`) to use instead of each patch's own
        lattice phase (lattice coder only).

        * With pose latents, (B, H W + 6): the patch turned back by the anchor, the anchor's
          phi and log size, and the position anchor on the motif's cell.
        * With the lattice coder, (B, 4), preceded by the aligned motif's coefficients for
          the lattice encoder: the position anchor, the patch's lattice phase (the
          fundamentals' directions).  The position is that phase plus the encoder's
          correction: found from scratch, training on two similar sublattices settles with
          the position known only modulo the half cell that swaps them, and the content
          latents then learn the swap instead of the physics.

        The pose anchor costs a quarter of a training step and the lattice fit one of its
        largest matrix products, and the patches are the same every epoch: the training
        loop prepares them once and passes rows of this to :meth:`loss`.
        """
        if self.anchor is not None:
            return self._prepare_pose(x)
        if self.lattice_fit is not None:
            return self._prepare_lattice(x, anchor)
        return None

    @property
    def prepares(self) -> bool:
        """Whether :meth:`prepare` has anything to compute for this model."""
        return self.anchor is not None or self.lattice_fit is not None

    def _prepare_lattice(self, x: torch.Tensor, angles: torch.Tensor | None) -> torch.Tensor:
        coef = self.lattice_fit.coefficients(x)  # (B, 1 + 2n)
        own = self.lattice_fit.anchor(coef)  # (B, 2, 2): the patch's own lattice phase
        anchor = own
        if angles is not None:
            angles = angles.to(coef)
            anchor = torch.stack([torch.cos(angles), torch.sin(angles)], -1)
        if self.config.encoder != "lattice":
            return anchor.flatten(1)
        # the motif is aligned on the patch's own phase where it is on the anchor's branch
        # (within a quarter cell on both axes): each fundamental then reads as its amplitude,
        # which carries a B/A ratio through noise best (measured: |Spearman| 0.96 against
        # 0.83 at 40% noise); elsewhere on the anchor, so alike sublattices are not swapped
        agree = ((own * anchor).sum(-1) > 0).all(-1, keepdim=True)  # (B, 1)
        turn = torch.atan2(*torch.where(agree[..., None], own, anchor).unbind(-1)[::-1])
        return torch.cat([self.lattice_fit.aligned(coef, turn), anchor.flatten(1)], 1)

    def _prepare_pose(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        phi, log_scale = self.anchor(x)  # (B,) each: phi = n theta, log relative size
        theta = phi / cfg.rotation if cfg.rotation else torch.zeros_like(phi)
        if not cfg.scale_dim or log_scale is None:
            log_scale = torch.zeros_like(phi)
        turned = turn_patches(x, theta, log_scale)
        if self.layout.circular_position:
            position = self.anchor.position(turned, self.cell_waves).flatten(1)  # (B, 4)
        else:
            position = torch.zeros(x.shape[0], 4, device=x.device, dtype=x.dtype)
        return torch.cat([turned.flatten(1), phi[:, None], log_scale[:, None], position], 1)

    def _posed_inference(
        self, x: torch.Tensor, prepared: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference with a rotation latent: the encoder reads the patch turned back by the
        anchor's angle and corrects it; layout (position, phi = n theta, scales, content)."""
        cfg = self.config
        n = cfg.rotation
        prepared = self.prepare(x) if prepared is None else prepared
        pixels = math.prod(cfg.data_shape)
        turned = prepared[:, :pixels].reshape(-1, *cfg.data_shape)
        phi, log_scale = prepared[:, pixels], prepared[:, pixels + 1]
        mean, std = self.encoder(turned)
        d = self.layout.position
        # the torus position on the motif's own lattice: anchored on the cell's fundamentals
        mean, std = self.position.read(mean, std, prepared[:, pixels + 2 :])
        if n:
            turn = mean[:, d : d + 2]  # correction as a vector near (0, 0): no branch cut
            phi = phi + torch.atan2(turn[:, 1], 1.0 + turn[:, 0])
            phi = torch.remainder(phi + math.pi, TWO_PI) - math.pi
            sigma = std[:, d : d + 2].prod(-1).sqrt()
            mean = torch.cat([mean[:, :d], phi[:, None], mean[:, d + 2 :]], 1)
            std = torch.cat([std[:, :d], sigma[:, None], std[:, d + 2 :]], 1)
        if cfg.scale_dim:  # the encoder corrects the anchor's size, in prior units
            at = self.layout.scale_slice
            scales = mean[:, at] + log_scale[:, None] / cfg.scale_range
            mean = torch.cat([mean[:, : at.start], scales, mean[:, at.stop :]], 1)
        return mean, std

    def pose(self, latents: torch.Tensor) -> torch.Tensor | None:
        """(B, 2, 2) map from patch pixels to motif pixels for (B, d + pose + l) latents, or
        None without pose latents (see :func:`shiftvae.model.pose.pose_matrix`)."""
        cfg = self.config
        if not cfg.pose_dim:
            return None
        theta = self.layout.rotation_of(latents) / cfg.rotation if cfg.rotation else None
        scales = self.layout.scales_of(latents) if cfg.scale_dim else None
        return pose_matrix(theta, None if scales is None else cfg.scale_range * scales)

    def split(self, latents: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Split (B, d + pose + l) latents into position (B, d) or None, and content (B, l)."""
        return self.layout.position_of(latents), self.layout.content_of(latents)

    def generative(self, latents: torch.Tensor) -> torch.Tensor:
        """Decoder output for (B, d + pose + l) latents: logits or Gaussian means, (B, *S)."""
        position, z = self.split(latents)
        move = None if position is None else self.position.move(position)
        return self.decoder(z, move, self.pose(latents))

    def loss(
        self,
        x: torch.Tensor,
        beta: float | torch.Tensor,
        noise: torch.Tensor | None = None,
        content: bool = True,
        prepared: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        label_weight: float = 0.0,
        values: torch.Tensor | None = None,
        value_weight: float = 0.0,
    ) -> LossOutput:
        """Negative ELBO (batch mean) with KL weight ``beta``.

        ``noise`` is the standard-normal draw of the reparameterisation (B, d + l); passing it
        in keeps random number generation in the caller's hands.  ``content=False`` decodes
        with the conventional latents set to zero (the position warm-up of the training loop):
        the decoder then learns one pattern and the position alone explains where it is.
        ``prepared``: rows of :meth:`prepare` for x (computed here when None).
        With classes (once the mixture is started), the content latents' prior is the mixture
        and the class is summed out (:class:`~shiftvae.model.classes.MixturePrior`);
        ``labels`` (B,) gives a class or -1 per input, and ``label_weight`` the weight of a
        labelled input's cross-entropy.  With properties, ``values`` (B, P; NaN: unknown)
        add ``value_weight`` times the regression head's negative log-likelihood of each
        known value (:class:`~shiftvae.model.regression.RegressionHead`).
        """
        mean, std = self.inference(x, prepared)
        if noise is None:
            noise = torch.randn_like(mean)
        latents = mean + std * noise  # reparameterised sample
        if not content:
            latents = self.layout.without_content(latents)
        output = self.generative(latents)
        cfg = self.config
        rec = reconstruction_nll(output, x, cfg.likelihood, cfg.gaussian_std).mean()
        # the KL of each part: angles (the torus position, the rotation) have the uniform
        # prior on the circle, the content the mixture (with classes), every other N(0, 1)
        circular = self.layout.circular
        normal = [i for i in range(mean.shape[1]) if i not in circular]
        label_loss = None
        if self.mixture is not None and self.mixture.ready:
            content = self.layout.content_slice
            kl, label_loss = self.mixture.kl(
                mean[:, content], std[:, content], labels, label_weight
            )
            label_loss = label_loss.mean()
            inside = range(mean.shape[1])[content]
            normal = [i for i in normal if i not in inside]  # the rest of the N(0, 1) latents
            kl = kl + kl_standard_normal(mean[:, normal], std[:, normal])
        else:
            kl = kl_standard_normal(mean[:, normal], std[:, normal])
        if circular:
            kl = kl + kl_wrapped_normal_uniform(std[:, circular])
        kl = kl.mean()
        loss = rec + beta * kl if label_loss is None else rec + beta * kl + label_loss
        if values is not None and self.regression is not None and value_weight:
            content_mean = mean[:, self.layout.content_slice]
            loss = loss + value_weight * self.regression.nll(content_mean, values).mean()
        return LossOutput(loss=loss, reconstruction=rec, kl=kl)
