"""Canvas decoder: the pattern drawn once per sample on a larger canvas, moved, then cropped.

An MLP maps the conventional latents z to the pixels of a canvas a margin wider than the
patch on every side; the position moves the canvas exactly by a Fourier phase ramp
(band-limited interpolation), and the patch is its centre::

    canvas = MLP(z)                                     (B, *C), C_i = n_i + 2 m_i
    out    = crop( irfft( rfft(canvas) * exp(-2 pi i k . s / C) ) )   moved by s pixels

The per-sample cost is one (H, prod C) output layer and two FFTs of the canvas: of order
H * P, where the coordinate MLP costs P * H^2 (it evaluates every hidden layer at every
pixel).  For 22 x 22 patches and 128 hidden units that is about 60 times fewer operations.

The canvas sides are odd (and have no prime factor above 11, for fast FFTs), so every
frequency has its conjugate and the move is an exact unitary operation: moving by s and then
by -s gives the canvas back, and a whole-pixel move is a plain roll.  The canvas is
periodic: a pattern moved by more than the margin wraps around.  The margin is therefore
chosen (by the model) to cover the moves the position latent makes: two prior units of the
Gaussian shift, or half the unit cell on the torus.

Being a move of a drawn image, it composes with any position parameterisation (pixels in,
pixels out) and, later, with a resampling for rotation and scale.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from shiftvae.model.parts import NoBufferHooks, tanh_mlp
from shiftvae.model.position import Move

__all__ = ["CanvasDecoder", "canvas_shape"]


def canvas_shape(data_shape: tuple[int, ...], margins: tuple[int, ...]) -> tuple[int, ...]:
    """Canvas sides: the patch plus a margin on each side, rounded up to an odd size whose
    prime factors are all 3, 5, 7 or 11 (the extra pixels go to the end).

    Odd, so every frequency has its conjugate; with small factors, because an FFT of a prime size
    such as 149 takes several times as long as one of 165 = 3 x 5 x 11.

    Examples
    --------
    >>> canvas_shape((22, 22), (11, 11)), canvas_shape((74,), (37,))
    ((45, 45), (165,))
    """
    return tuple(_odd_smooth(n + 2 * m) for n, m in zip(data_shape, margins))


def _odd_smooth(n: int) -> int:
    """The smallest odd integer >= n with no prime factor other than 3, 5, 7 and 11."""
    k = max(1, n)
    while True:
        if k % 2:
            rest = k
            for p in (3, 5, 7, 11):
                while rest % p == 0:
                    rest //= p
            if rest == 1:
                return k
        k += 1


class CanvasDecoder(NoBufferHooks, nn.Module):
    """MLP from z to a canvas, moved by a Fourier phase ramp and cropped; see the module notes.

    Parameters
    ----------
    data_shape : (L,) or (H, W)
        Patch shape in pixels.
    latent_dim : int
        Conventional latents l.
    hidden : tuple of int
        Widths of the MLP from z to the canvas.
    margins : tuple of int
        Pixels added on each side along each axis: at least the largest move expected.
    """

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        hidden: tuple[int, ...],
        margins: tuple[int, ...],
    ):
        super().__init__()
        self.data_shape = tuple(int(n) for n in data_shape)
        self.margins = tuple(max(0, int(m)) for m in margins)
        if len(self.margins) != len(self.data_shape):
            raise ValueError(f"one margin per axis of {self.data_shape}, got {margins!r}")
        self.canvas = canvas_shape(self.data_shape, self.margins)
        self.body, width = tanh_mlp(latent_dim, tuple(hidden))
        self.out = nn.Linear(width, math.prod(self.canvas))
        # frequencies of the real FFT's bins along each axis, in cycles per pixel
        for axis, side in enumerate(self.canvas):
            last = axis == len(self.canvas) - 1
            freq = torch.fft.rfftfreq(side) if last else torch.fft.fftfreq(side)
            self.register_buffer(f"freq{axis}", freq.float(), persistent=False)

    def draw(self, z: torch.Tensor) -> torch.Tensor:
        """The unmoved canvas (B, *C) for latents z (B, l)."""
        return self.out(self.body(z)).view(z.shape[0], *self.canvas)

    def forward(
        self,
        z: torch.Tensor,
        move: Move | None = None,
        pose: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, *data_shape) for latents z (B, l), the pattern moved by ``move``'s pixels
        (B, d), a displacement along (row, col), positive toward increasing index.

        With ``pose`` (B, 2, 2), the map M from patch pixels to canvas pixels (rotation and
        scale, :func:`~shiftvae.model.pose.pose_matrix`), pixel r shows the canvas at
        ``M r - pixels`` (bicubic resampling instead of the phase ramp)."""
        pixels = None if move is None else move.pixels
        canvas = self.draw(z)
        if pose is not None:
            return self.resample(canvas, pose, pixels)
        if pixels is not None:
            canvas = self.move(canvas, pixels)
        crop = tuple(slice(m, m + n) for m, n in zip(self.margins, self.data_shape))
        return canvas[(slice(None), *crop)]

    def move(self, canvas: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
        """``canvas`` (B, *C) moved by ``pixels`` (B, d): out(r) = canvas(r - s), periodic."""
        dims = tuple(range(1, canvas.ndim))
        spectrum = torch.fft.rfftn(canvas, dim=dims)
        for axis in range(len(dims)):  # the ramp is a product of one ramp per axis
            freq = getattr(self, f"freq{axis}")  # (K,) cycles per pixel
            angle = (-2 * math.pi) * pixels[:, axis, None] * freq  # (B, K)
            shape = [angle.shape[0]] + [1] * len(dims)
            shape[1 + axis] = angle.shape[1]
            ramp = torch.polar(torch.ones_like(angle), angle).view(shape)
            spectrum = spectrum * ramp
        return torch.fft.irfftn(spectrum, s=self.canvas, dim=dims)

    def resample(
        self, canvas: torch.Tensor, pose: torch.Tensor, pixels: torch.Tensor | None
    ) -> torch.Tensor:
        """The patch (B, H, W) showing ``canvas`` (B, C0, C1) at M r - s, bicubic."""
        h, w = self.data_shape
        dev, dtype = canvas.device, canvas.dtype
        rows = torch.arange(h, device=dev, dtype=dtype) - (h - 1) / 2
        cols = torch.arange(w, device=dev, dtype=dtype) - (w - 1) / 2
        r = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), -1).reshape(1, -1, 2)
        q = r @ pose.to(dtype).transpose(1, 2)  # (B, P, 2) canvas pixels from its centre
        if pixels is not None:
            q = q - pixels.to(dtype).unsqueeze(1)
        # the patch centre sits where the crop puts it: margin + (n - 1) / 2 on each axis
        centre = [m + (n - 1) / 2 for m, n in zip(self.margins, self.data_shape)]
        centre = torch.tensor(centre, device=dev, dtype=dtype)
        half = torch.tensor([(c - 1) / 2 for c in self.canvas], device=dev, dtype=dtype)
        grid = ((q + centre) / half - 1).flip(-1).reshape(-1, h, w, 2)  # (x = col, y = row)
        out = nn.functional.grid_sample(
            canvas.unsqueeze(1), grid, mode="bicubic", align_corners=True, padding_mode="border"
        )
        return out.squeeze(1)
