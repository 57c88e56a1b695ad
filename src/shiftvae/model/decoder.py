"""Coordinate-based ("spatial") decoder p(x | z, s) of the shift-VAE.

The decoder is an MLP evaluated at every pixel coordinate r of the patch, on a grid shifted
by ``k * dr`` and conditioned on the conventional latents z::

    h_1(r) = tanh(W_r (r + k dr) + W_z z + b)
    h_i    = tanh(W_i h_{i-1} + b_i)
    logit(r) = w_out . h_n + b_out

Because ``W_r (r + k dr) = W_r r + k W_r dr``, the shift enters the first layer as a
per-sample bias: the projection ``W_r r`` of the fixed grid is computed once per forward
pass, never a per-sample shifted grid.

A tanh layer on coordinates in [-1, 1] starts with slopes of order one: it represents a
patch that holds two or three unit cells (several sharp atoms per side) only after the
first-layer weights have grown tenfold, and on real images training often settles first
in a blurred mean patch that needs no shift at all.  With ``coord_frequency`` set, the first
layer is a sine layer instead (as in SIREN, Sitzmann et al. 2020)::

    h_1(r) = sin(omega W_r (r + k dr) + W_z z + b),  omega = pi * coord_frequency

with W_r ~ U(-1, 1) and b ~ U(-pi, pi): each unit starts as a plane wave of up to
``coord_frequency`` cycles per patch side in each direction, so the lattice and its first
harmonics are there from the first step.  The shift is still a per-sample bias, now a
phase: ``omega W_r (r + k dr) = omega W_r r + omega k W_r dr``.

Everything after that first projection runs per pixel, as one autograd function
(:class:`_PixelMLP`) with a hand-written backward pass.  Nearly all the training time is
spent on its (B * P, H) tensors, and on the CPU three things decide their cost:

* ``torch.tanh`` is up to ten times slower than ``torch.sigmoid`` on some CPUs (measured on an
  AVX-512 EPYC with torch 2.13), so tanh is evaluated as ``2 * sigmoid(2 a) - 1``: the same
  function, within ~2e-7 in absolute value;
* every large temporary is a fresh ``mmap`` whose pages the kernel faults in and zeroes, so
  each activation is computed in place in one buffer, the backward pass reuses its gradient
  buffers layer after layer, and during training (:meth:`CoordinateDecoder.reuse_buffers`)
  all of them are recycled from one step to the next;
* every pass over memory costs about as much as a small matmul, so ``grad * (1 - h^2)`` is one
  fused pass (``tanh_backward``) and the one-column output layer's backward is a broadcast
  multiply, not a matmul.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from shiftvae.model.position import Move


def pixel_grid(data_shape: tuple[int, ...]) -> torch.Tensor:
    """Pixel coordinates in [-1, 1] along each axis, shape (P, d), axes in (row, col) order."""
    axes = [torch.linspace(-1.0, 1.0, n) for n in data_shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)


class _Buffers:
    """Recycled work buffers of the pixel MLP, keyed by shape, dtype and device.

    A buffer is taken in the forward pass and given back at the end of the backward pass,
    when nothing refers to it any more; a forward pass without a backward pass simply drops
    its buffers.
    """

    def __init__(self) -> None:
        self._free: dict[tuple, list[torch.Tensor]] = {}

    def take(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A buffer of ``shape`` with the dtype and device of ``like`` (contents undefined)."""
        free = self._free.get((tuple(shape), like.dtype, like.device))
        if free:
            return free.pop()
        return torch.empty(shape, dtype=like.dtype, device=like.device)

    def give(self, tensor: torch.Tensor) -> None:
        """Return a buffer that nothing refers to any more."""
        key = (tuple(tensor.shape), tensor.dtype, tensor.device)
        self._free.setdefault(key, []).append(tensor)


def _tanh_(x: torch.Tensor) -> torch.Tensor:
    """``tanh(x / 2)`` in place, as ``2 * sigmoid(x) - 1`` (``x`` holds twice the argument).

    Callers compute the doubled pre-activation directly (doubling is exact in floating
    point), which saves a pass over memory.
    """
    torch.sigmoid(x, out=x)
    return torch.add(x.new_tensor(-1.0), x, alpha=2.0, out=x)


# grad * (1 - h^2), one fused pass, with an out= (``grad_input``) variant
_tanh_backward = torch.ops.aten.tanh_backward.grad_input


def _pixel_mlp_forward(
    grid_proj: torch.Tensor,
    bias: torch.Tensor,
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    w_out: torch.Tensor,
    b_out: torch.Tensor,
    buffers: _Buffers,
    sine: bool = False,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    """Logits (B, P) of the pixel MLP, its activations ``[h_0, ..., h_n]`` (B * P, H_i), and
    for a sine first layer the derivative ``cos(a_0)`` of h_0 (else None).

    h_0 = tanh(a_0) (or sin(a_0)), a_0 = grid_proj + bias, with grid_proj (P, H_0) broadcast
    over the samples and bias (B, H_0) over the pixels; h_i = tanh(h_{i-1} W_i^T + b_i);
    logits = h_n w_out^T + b_out.  Must run without autograd (it writes into its buffers).
    ``dtype`` (default: that of ``grid_proj``) is the dtype of the activations and of the
    matrix products; the weights are expected in it already, ``grid_proj`` and ``bias`` in
    full precision (the sine layer takes its sines there).
    """
    dtype = dtype or grid_proj.dtype
    n_b, n_p = bias.shape[0], grid_proj.shape[0]
    h = buffers.take((n_b * n_p, grid_proj.shape[1]), grid_proj.to(dtype))
    cos_a0 = None
    if sine:
        # sin(g + b) = sin g cos b + cos g sin b: sines of the small (P, H) and (B, H)
        # factors, then two multiply-adds per large (B * P, H) tensor, which costs a quarter
        # of evaluating sin and cos on the large tensors themselves
        sin_g, cos_g = (torch.sin(grid_proj).to(dtype)[None], torch.cos(grid_proj).to(dtype)[None])
        sin_b, cos_b = (torch.sin(bias).to(dtype)[:, None], torch.cos(bias).to(dtype)[:, None])
        h3 = torch.mul(sin_g, cos_b, out=h.view(n_b, n_p, -1))
        h3.addcmul_(cos_g, sin_b)
        cos_a0 = buffers.take(tuple(h.shape), h)
        c3 = torch.mul(cos_g, cos_b, out=cos_a0.view(n_b, n_p, -1))
        c3.addcmul_(sin_g, sin_b, value=-1.0)
        acts = [h]
    else:
        torch.add(
            (2.0 * grid_proj).to(dtype).unsqueeze(0),
            (2.0 * bias).to(dtype).unsqueeze(1),
            out=h.view(n_b, n_p, -1),
        )
        acts = [_tanh_(h)]
    for w, b in zip(weights, biases):
        h = buffers.take((n_b * n_p, w.shape[0]), w)
        torch.addmm(2.0 * b, acts[-1], (2.0 * w).T, out=h)  # 2 (h W^T + b), exactly
        acts.append(_tanh_(h))
    logits = torch.addmm(b_out, acts[-1], w_out.T)  # (B * P, 1)
    return logits.view(n_b, n_p), acts, cos_a0


@dataclass(frozen=True)
class _Run:
    """Settings of one :class:`_PixelMLP` call."""

    pool: _Buffers | None  # recycled work buffers (training) or None
    sine: bool  # sine first layer
    n_layers: int  # hidden layers after the first
    dtype: torch.dtype | None  # of the activations and matrix products (None: full)


class _PixelMLP(torch.autograd.Function):
    """The per-pixel MLP of :class:`CoordinateDecoder` with a hand-written backward pass.

    ``apply(grid_proj, bias, run, W_1..W_n, b_1..b_n, w_out, b_out)``: grid projection
    (P, H_0), per-sample bias (B, H_0), the :class:`_Run` settings, then the parameters of the
    hidden layers after the first and of the output layer.  Returns the logits (B, P) in the
    dtype of ``grid_proj``.  With a buffer pool (the training loop), the activations go back
    to the pool at the end of the backward pass, which may then run only once per graph;
    without one, the function behaves like any autograd function (``retain_graph``,
    ``gradcheck``).  With ``run.dtype = torch.bfloat16`` the activations and every matrix
    product are bf16 (mixed precision): the parameters, their gradients and the logits stay
    in full precision.
    """

    @staticmethod
    def forward(ctx, grid_proj, bias, run, *params):
        dtype = run.dtype or grid_proj.dtype
        params = [p.to(dtype) for p in params]  # no copy in full precision
        n = run.n_layers
        weights, biases = params[:n], params[n : 2 * n]
        w_out, b_out = params[2 * n :]
        pool = run.pool if run.pool is not None else _Buffers()
        logits, acts, cos_a0 = _pixel_mlp_forward(
            grid_proj, bias, weights, biases, w_out, b_out, pool, run.sine, dtype
        )
        ctx.save_for_backward(*weights, w_out)
        ctx.acts = acts  # work buffers, neither inputs nor outputs: kept on ctx
        ctx.cos_a0 = cos_a0
        ctx.pool = run.pool
        ctx.shape = (bias.shape[0], grid_proj.shape[0])
        ctx.dtype = grid_proj.dtype
        return logits.to(grid_proj.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_logits):
        acts = ctx.acts
        if acts is None:
            raise RuntimeError(
                "the shift-VAE decoder recycled the activations of this graph after its "
                "backward pass (CoordinateDecoder.reuse_buffers): retain_graph is not "
                "supported inside that block"
            )
        pool = ctx.pool if ctx.pool is not None else _Buffers()
        *weights, w_out = ctx.saved_tensors
        cos_a0 = ctx.cos_a0

        def to_preactivation(grad: torch.Tensor, i: int) -> None:
            """Gradient w.r.t. h_i -> w.r.t. its pre-activation, in place."""
            if i == 0 and cos_a0 is not None:
                grad.mul_(cos_a0)  # sine layer
            else:
                _tanh_backward(grad, acts[i], grad_input=grad)  # grad * (1 - h_i^2)

        full = ctx.dtype  # of the inputs and parameters; acts may be in a lower precision
        g = grad_logits.reshape(-1, 1).to(acts[-1].dtype)  # (B * P, 1)
        h = acts[-1]
        grad_w_out = g.T @ h  # (1, H_n)
        grad_b_out = g.sum(0)
        delta = pool.take(tuple(h.shape), h)
        torch.mul(g, w_out, out=delta)  # gradient w.r.t. h_n ...
        to_preactivation(delta, len(acts) - 1)  # ... and w.r.t. its pre-activation
        grad_w: list[torch.Tensor] = []
        grad_b: list[torch.Tensor] = []
        for i in range(len(weights) - 1, -1, -1):
            h_prev = acts[i]
            grad_w.append(delta.T @ h_prev)  # (H_{i+1}, H_i)
            grad_b.append(delta.sum(0))
            nxt = pool.take((delta.shape[0], weights[i].shape[1]), delta)
            torch.mm(delta, weights[i], out=nxt)  # gradient w.r.t. h_prev ...
            pool.give(delta)
            to_preactivation(nxt, i)  # ... and its pre-activation
            delta = nxt
        n_b, n_p = ctx.shape
        delta3 = delta.view(n_b, n_p, -1)
        grad_grid_proj = delta3.sum(0)  # (P, H_0)
        grad_bias = delta3.sum(1)  # (B, H_0)
        pool.give(delta)
        if ctx.pool is not None:  # training: the activations serve the next step
            ctx.acts = None
            for a in acts:
                pool.give(a)
            if cos_a0 is not None:
                pool.give(cos_a0)
            ctx.cos_a0 = None
        grads = [*reversed(grad_w), *reversed(grad_b), grad_w_out, grad_b_out]
        return (
            grad_grid_proj.to(full),
            grad_bias.to(full),
            None,
            *(grad.to(full) for grad in grads),
        )


class CoordinateDecoder(nn.Module):
    """MLP over pixel coordinates, conditioned on latents, with an optional grid shift.

    Parameters
    ----------
    data_shape : tuple of int
        ``(L,)`` or ``(H, W)``; the grid has ``d = len(data_shape)`` coordinates.
    latent_dim : int
        Number of conventional latents ``l``.
    hidden : tuple of int
        Widths of the hidden layers (the first is the coordinate/latent projection).
    shift_scale : float
        ``k`` in ``r + k dr``; the shift latents are in units of the prior (N(0, 1)).
    coord_frequency : float, optional
        None: the paper's tanh first layer.  A number: a sine first layer whose units start
        as plane waves of up to this many cycles per patch side (see the module notes).
    """

    def __init__(
        self,
        data_shape: tuple[int, ...],
        latent_dim: int,
        hidden: tuple[int, ...],
        shift_scale: float,
        coord_frequency: float | None = None,
    ):
        super().__init__()
        self.data_shape = tuple(data_shape)
        self.shift_scale = float(shift_scale)
        self.sine = coord_frequency is not None
        # omega: coordinates in [-1, 1] span 2 units, so pi * f gives f cycles per side
        self.omega = math.pi * float(coord_frequency) if self.sine else 1.0
        width = hidden[0]
        self.coord = nn.Linear(len(data_shape), width)  # W_r, b
        if self.sine:
            nn.init.uniform_(self.coord.weight, -1.0, 1.0)
            nn.init.uniform_(self.coord.bias, -math.pi, math.pi)
        self.latent = nn.Linear(latent_dim, width, bias=False)  # W_z
        layers: list[nn.Module] = []
        for h in hidden[1:]:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.body = nn.Sequential(*layers)  # the parameters; forward runs _PixelMLP
        self.out = nn.Linear(width, 1)
        self.register_buffer("grid", pixel_grid(self.data_shape), persistent=False)
        half = torch.tensor([(n - 1) / 2 for n in self.data_shape])  # centre to edge, px
        self.register_buffer("half_side", half, persistent=False)
        self._buffers_pool: _Buffers | None = None
        self._compute_dtype: torch.dtype | None = None

    @contextmanager
    def reuse_buffers(self) -> Iterator[None]:
        """Recycle the large work buffers from one training step to the next.

        Used by the training loop; the buffers are released when the block ends.
        """
        previous = self._buffers_pool
        self._buffers_pool = _Buffers()
        try:
            yield
        finally:
            self._buffers_pool = previous

    @contextmanager
    def compute_dtype(self, dtype: torch.dtype | None) -> Iterator[None]:
        """Run the per-pixel MLP of training steps in ``dtype`` (None: that of the weights).

        ``torch.bfloat16`` is mixed precision: activations and matrix products in bf16 (on
        CPUs with AVX512-BF16 or AMX, and on GPUs, several times the fp32 matmul rate), the
        weights, their gradients, the first layer's sines and the logits in full precision.
        """
        previous = self._compute_dtype
        self._compute_dtype = dtype
        try:
            yield
        finally:
            self._compute_dtype = previous

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_buffers_pool"] = None  # work memory is never pickled or deep-copied
        return state

    def forward(
        self, z: torch.Tensor, move: Move | None, pose: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decoder output (logits or Gaussian means) for latents ``z`` (B, l), the pattern
        moved by ``move``, read as the shift dr in prior units (B, d): the grid moves by k dr.

        ``pose`` (B, 2, 2), square 2D patches only: the grid is mapped by it (rotation and
        scale, :func:`~shiftvae.model.pose.pose_matrix`) before the shift is applied; one grid
        per sample, so the per-pixel fast path is not used.
        Returns a tensor of shape (B, *data_shape).
        """
        shift = None if move is None else move.prior_units(self.shift_scale, self.half_side)
        # (P, H): omega W_r r + b, once per forward pass
        grid_proj = self.coord(self.grid * self.omega if self.sine else self.grid)
        bias = self.latent(z)  # (B, H): W_z z
        if shift is not None:  # (B, H): omega k W_r dr
            bias = bias + (self.omega * self.shift_scale) * (shift @ self.coord.weight.T)
        if pose is not None:  # (B, P, H): one mapped grid per sample
            grid = self.grid.unsqueeze(0) @ pose.transpose(1, 2)
            a0 = self.coord(grid * self.omega if self.sine else grid) + bias.unsqueeze(1)
            return self._plain(a0, z.shape[0])
        if torch.is_autocast_enabled(grid_proj.device.type):
            # mixed precision: plain modules, so that autocast chooses each op's dtype
            return self._plain(grid_proj.unsqueeze(0) + bias.unsqueeze(1), z.shape[0])
        linears = [m for m in self.body if isinstance(m, nn.Linear)]
        weights = [m.weight for m in linears]
        biases = [m.bias for m in linears]
        params = (*weights, *biases, self.out.weight, self.out.bias)
        if torch.is_grad_enabled() and (
            grid_proj.requires_grad or bias.requires_grad or any(p.requires_grad for p in params)
        ):
            run = _Run(self._buffers_pool, self.sine, len(linears), self._compute_dtype)
            out = _PixelMLP.apply(grid_proj, bias, run, *params)
        else:
            with torch.no_grad():
                out, _, _ = _pixel_mlp_forward(
                    grid_proj, bias, weights, biases, *params[-2:], _Buffers(), self.sine
                )
        return out.reshape(z.shape[0], *self.data_shape)

    def _plain(self, a0: torch.Tensor, batch: int) -> torch.Tensor:
        """The per-pixel layers as plain modules, from first-layer pre-activations (B, P, H)."""
        h = torch.sin(a0) if self.sine else torch.tanh(a0)
        out = self.out(self.body(h)).squeeze(-1)  # (B, P)
        return out.reshape(batch, *self.data_shape)
