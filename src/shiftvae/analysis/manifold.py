"""Decoding a regular grid of latent points: the paper's latent manifold pictures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shiftvae.errors import InputError


@dataclass
class LatentTraversal:
    """Decoded grid of latent points.

    Attributes
    ----------
    images : ndarray (n, n, *data_shape)
        ``images[i, j]`` decodes ``z[dims[0]] = values[0][i]``, ``z[dims[1]] = values[1][j]``.
    values : ndarray (2, n)
        Grid values along the two traversed latents.
    dims : (int, int)
        Indices of the traversed conventional latents.
    """

    images: np.ndarray
    values: np.ndarray
    dims: tuple[int, int]


def latent_traversal(
    model,
    n: int = 10,
    limits: tuple[float, float] | np.ndarray = (-2.0, 2.0),
    dims: tuple[int, int] = (0, 1),
    base: np.ndarray | None = None,
    shift: np.ndarray | None = None,
) -> LatentTraversal:
    """Decode an ``n x n`` grid of points in the plane of two conventional latents.

    Parameters
    ----------
    model : ShiftVAE
    n : int
        Grid points per axis.
    limits : (low, high) or array (2, 2)
        Range of both latents (prior units), or one (low, high) row per latent, e.g. the
        1st and 99th percentiles of the encoded means.
    dims : (int, int)
        Which conventional latents to traverse (the others stay at ``base``).
    base : array (l,), optional
        Value of the other latents (default 0, the prior mean).
    shift : array (d,), optional
        Shift in pixels applied to every decoded point (default none).

    Examples
    --------
    >>> t = latent_traversal(model, n=8)  # doctest: +SKIP
    >>> t.images.shape  # (8, 8, *model.data_shape)  # doctest: +SKIP
    """
    l = model.config.latent_dim
    if n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    if l == 1:
        dims = (0, 0)
    elif len(set(dims)) != 2 or max(dims) >= l or min(dims) < 0:
        raise InputError(f"dims must be two different latents in 0..{l - 1}, got {dims!r}")
    lim = np.broadcast_to(np.asarray(limits, dtype=float), (2, 2))
    values = np.stack([np.linspace(lo, hi, n) for lo, hi in lim])
    z = np.tile(np.zeros(l) if base is None else np.asarray(base, float), (n * n, 1))
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    z[:, dims[0]] = values[0][ii.ravel()]
    if l > 1:
        z[:, dims[1]] = values[1][jj.ravel()]
    s = None
    if shift is not None and model.shift_dim:
        s = np.tile(np.asarray(shift, float), (n * n, 1))
    images = model.decode(z, shift=s)
    return LatentTraversal(images.reshape(n, n, *model.data_shape), values, tuple(dims))
