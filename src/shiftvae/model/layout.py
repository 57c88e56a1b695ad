"""Where each kind of latent sits in the encoder's outputs and in a latent vector.

A latent vector is laid out as (position, rotation, scales, content); the encoder's mean
outputs are the same kinds, but an angle whose mean is predicted as a free 2-vector (no
branch cut: each torus angle, the rotation correction) takes two outputs.  Every slice of
latents is taken here, so that adding a kind of latent means adding it here once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["LatentLayout"]


@dataclass(frozen=True)
class LatentLayout:
    """Counts of each kind of latent; slices and indices of a (B, size) latent tensor.

    ``position``: position latents (0 without, the patch's dimensions with);
    ``position_raw``: the encoder outputs of their means (2 per torus angle);
    ``rotation``: 0 or 1 orientation latent; ``scales``: 0, 1 or 2; ``content``: l.
    ``circular_position``: the position is angles with the uniform prior (the torus).
    """

    position: int
    position_raw: int
    rotation: int
    scales: int
    content: int
    circular_position: bool = False

    @classmethod
    def of(cls, config) -> LatentLayout:
        """The layout of a :class:`~shiftvae.model.module.ModelConfig`."""
        torus = config.shift and config.position == "torus"
        d = config.shift_dim
        return cls(
            position=d,
            position_raw=d * (2 if torus else 1),
            rotation=1 if config.rotation else 0,
            scales=config.scale_dim,
            content=config.latent_dim,
            circular_position=torus,
        )

    @property
    def pose(self) -> int:
        """Pose latents: the rotation and the scales."""
        return self.rotation + self.scales

    @property
    def size(self) -> int:
        """Latents per sample."""
        return self.position + self.pose + self.content

    @property
    def raw(self) -> int:
        """Encoder outputs of the means (as many again for the stds)."""
        return self.position_raw + 2 * self.rotation + self.scales + self.content

    @property
    def raw_pose(self) -> range:
        """The encoder outputs of the pose corrections (the rotation's 2-vector, the scales)."""
        return range(self.position_raw, self.position_raw + 2 * self.rotation + self.scales)

    @property
    def scale_slice(self) -> slice:
        start = self.position + self.rotation
        return slice(start, start + self.scales)

    @property
    def content_slice(self) -> slice:
        return slice(self.position + self.pose, None)

    @property
    def circular(self) -> list[int]:
        """Latents with the wrapped-normal posterior and the uniform prior on the circle."""
        out = list(range(self.position)) if self.circular_position else []
        return out + ([self.position] if self.rotation else [])

    def position_of(self, latents: torch.Tensor) -> torch.Tensor | None:
        return latents[:, : self.position] if self.position else None

    def rotation_of(self, latents: torch.Tensor) -> torch.Tensor:
        return latents[:, self.position]

    def scales_of(self, latents: torch.Tensor) -> torch.Tensor:
        return latents[:, self.scale_slice]

    def content_of(self, latents: torch.Tensor) -> torch.Tensor:
        return latents[:, self.content_slice]

    def without_content(self, latents: torch.Tensor) -> torch.Tensor:
        """The latents with the content set to zero (the position warm-up)."""
        keep = self.position + self.pose
        return torch.cat([latents[:, :keep], torch.zeros_like(latents[:, keep:])], 1)
