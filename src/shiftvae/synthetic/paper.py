"""The paper's synthetic data: 1D sine segments and 2D square lattices of Gaussians.

All generators take a ``seed`` and return data already scaled to [0, 1] together with the
true factors of variation, so recovery can be measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["DEFAULT_SIGMAS", "lattice_image", "lattice_patches", "sine_waves"]

DEFAULT_SIGMAS = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2)


def sine_waves(
    n: int = 5000,
    length: int = 100,
    x_range: tuple[float, float] = (-10.0, 10.0),
    mu_range: tuple[float, float] = (-3.0, 3.0),
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    noise: tuple[float, float] | float = (0.0, 0.1),
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sine segments y = sin((x - mu) / sigma) + noise on a fixed grid x, scaled to [0, 1].

    Parameters
    ----------
    n, length : int
        Number of signals and samples per signal.
    x_range : (float, float)
        The grid x (``length`` points, ends included).
    mu_range : (float, float)
        mu ~ U[mu_range]: the offset (shift) of each signal in x units.
    sigmas : sequence of float
        sigma is drawn uniformly from this discrete set (the "periodicity").
    noise : (float, float) or float
        Noise amplitude per signal, ~ U[noise] (or fixed); white Gaussian noise of that std.
    seed : int

    Returns
    -------
    X : ndarray (n, length), float32 in [0, 1]
        ``(y + 1) / 2`` clipped to [0, 1]: the clean sine spans exactly [0, 1].
    factors : dict
        ``mu``, ``sigma``, ``noise`` (n,) and ``x`` (length,); ``dx`` the grid spacing.

    Examples
    --------
    >>> X, f = sine_waves(n=10, length=100, seed=0)
    >>> X.shape, f["mu"].shape
    ((10, 100), (10,))
    """
    rng = np.random.default_rng(seed)
    x = np.linspace(x_range[0], x_range[1], length)
    mu = rng.uniform(*mu_range, size=n)
    sigma = rng.choice(np.asarray(sigmas, dtype=float), size=n)
    lo, hi = (noise, noise) if np.isscalar(noise) else noise
    amp = rng.uniform(lo, hi, size=n)
    y = np.sin((x[None, :] - mu[:, None]) / sigma[:, None])
    y += amp[:, None] * rng.standard_normal((n, length))
    X = np.clip((y + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)
    dx = (x_range[1] - x_range[0]) / (length - 1)
    return X, {"mu": mu, "sigma": sigma, "noise": amp, "x": x, "dx": np.float64(dx)}


def _gaussian_sum(rows: np.ndarray, cols: np.ndarray, centers: np.ndarray, width: float):
    """Sum of isotropic Gaussians (std ``width``) at ``centers`` (M, 2) on a pixel grid."""
    out = np.zeros((rows.size, cols.size))
    for r0, c0 in centers:
        gr = np.exp(-0.5 * ((rows - r0) / width) ** 2)
        gc = np.exp(-0.5 * ((cols - c0) / width) ** 2)
        out += np.outer(gr, gc)
    return out


def _lattice_sites(extent: tuple[float, float], period: float, angle: float, offset):
    """Square-lattice sites covering a (rows, cols) region, rotated by ``angle`` (rad)."""
    half = np.hypot(*extent) / 2 + 2 * period
    k = np.arange(-np.ceil(half / period), np.ceil(half / period) + 1)
    a, b = np.meshgrid(k, k, indexing="ij")
    pts = np.stack([a.ravel(), b.ravel()], axis=1) * period + np.asarray(offset)
    c, s = np.cos(angle), np.sin(angle)
    pts = pts @ np.array([[c, -s], [s, c]]).T
    return pts + np.array(extent) / 2


def lattice_image(
    size: int | tuple[int, int] = 256,
    period: float = 10.0,
    atom_width: float | None = None,
    displacement: float = 0.05,
    rotation_deg: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Square lattice of 2D Gaussians with Gaussian positional noise, scaled to [0, 1].

    ``displacement`` is the std of each atom's random displacement in units of the period;
    ``atom_width`` (std of each Gaussian, pixels) defaults to period / 5.
    """
    rng = np.random.default_rng(seed)
    shape = (size, size) if np.isscalar(size) else tuple(size)
    width = period / 5 if atom_width is None else atom_width
    sites = _lattice_sites(shape, period, np.deg2rad(rotation_deg), (0.0, 0.0))
    sites = sites + displacement * period * rng.standard_normal(sites.shape)
    keep = np.all((sites > -3 * width) & (sites < np.array(shape) + 3 * width), axis=1)
    img = _gaussian_sum(np.arange(shape[0]), np.arange(shape[1]), sites[keep], width)
    return (img / img.max()).astype(np.float32)


def lattice_patches(
    n: int = 3000,
    window: int = 24,
    period: float = 10.0,
    max_rotation_deg: float = 2.0,
    displacement: tuple[float, float] = (0.0, 0.1),
    atom_width: float | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Patches of a square lattice sampled at random offsets (the paper's Fig. 4 data).

    Each patch sees the lattice with an offset uniform over one period in both axes, a
    rotation uniform in [-max_rotation_deg, max_rotation_deg], and per-atom Gaussian
    displacements whose std (in periods) is drawn per patch from U[displacement].

    Returns
    -------
    patches : ndarray (n, window, window), float32 in [0, 1]
    factors : dict
        ``offset`` (n, 2) pixels (row, col), ``rotation`` (n,) degrees,
        ``displacement`` (n,) periods.
    """
    rng = np.random.default_rng(seed)
    width = period / 5 if atom_width is None else atom_width
    offsets = rng.uniform(0, period, size=(n, 2))
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, size=n)
    disp = rng.uniform(*displacement, size=n)
    grid = np.arange(window, dtype=float)
    out = np.empty((n, window, window), np.float32)
    for i in range(n):
        sites = _lattice_sites((window, window), period, np.deg2rad(angles[i]), offsets[i])
        sites = sites + disp[i] * period * rng.standard_normal(sites.shape)
        near = np.all((sites > -4 * width) & (sites < window + 4 * width), axis=1)
        out[i] = _gaussian_sum(grid, grid, sites[near], width)
    out /= out.max()
    return out, {"offset": offsets, "rotation": angles, "displacement": disp}
