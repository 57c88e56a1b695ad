"""Latent maps: per-patch latent means placed back on the patch grid, and their phases.

A conventional latent of a shift-VAE should vary like an order parameter (smooth maps,
phases, domains); the shift latents show the moire between sampling grid and lattice.
Phases are found by a Gaussian mixture on the conventional latents, its number of components
chosen by the Bayesian information criterion.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from shiftvae.analysis.mixture import fit_mixture
from shiftvae.errors import InputError
from shiftvae.types import Encoding, LatentMaps, Patches

__all__ = ["geometric_phase", "latent_maps", "phase_fractions"]

logger = logging.getLogger(__name__)

MAX_PHASES = 6  # components tried by phases="auto"
MAX_GMM_SAMPLES = 20_000  # phases are fitted on at most this many patches, then predicted


def _latent_array(values: np.ndarray, name: str, n: int) -> np.ndarray:
    """``values`` as a finite float (n, k) array, or an InputError naming it."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1 and n > 0 and arr.size == n:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InputError(f"encoding.{name} must have shape ({n}, k), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"encoding.{name} contains NaN or infinite values")
    return arr


def latent_maps(
    encoding: Encoding,
    patches: Patches,
    phases: Literal["auto"] | int | None = "auto",
    seed: int = 0,
) -> LatentMaps:
    """Place the latent means of each patch on the patch grid.

    Parameters
    ----------
    encoding : Encoding
        ``z_mean`` (N, l) and ``shift_mean`` (N, d) of the N patches, in patch order.
    patches : Patches
        The patches that were encoded (gives the grid, centres and calibration).
    phases : "auto", int or None
        Label phases with a Gaussian mixture on the standardised conventional latents:
        "auto" picks the number of components in 1..6 with the lowest BIC, an int fixes it,
        None skips.  Labels are ordered by phase size (0 = largest).  Above 20,000 patches the
        mixture is fitted on a random subset of 20,000 (drawn with ``seed``) and then
        predicted for every patch.
    seed : int
        Random state of the mixture (and of the subset): same seed, same phases.

    Returns
    -------
    LatentMaps
        ``z`` (l, rows, cols), ``shift`` (d, rows, cols) (``(0, rows, cols)`` for a plain
        VAE), ``phases`` (rows, cols) or None, ``centers`` (rows, cols, 2), and the grid step
        and calibration of the patches.

    Raises
    ------
    InputError
        The encoding and the patches differ in length, or the latents are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftvae.types import Encoding, Patches
    >>> p = Patches(np.zeros((6, 8, 8), np.float32), np.zeros((6, 2)), (2, 3), step=4)
    >>> z = np.arange(6.0)[:, None]
    >>> enc = Encoding(z, np.ones_like(z), np.zeros((6, 2)), np.ones((6, 2)))
    >>> latent_maps(enc, p, phases=None).z[0]
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
    n = len(patches)
    if len(encoding) != n:
        raise InputError(
            f"the encoding has {len(encoding)} samples but there are {n} patches: "
            "encode exactly the patches whose grid you pass"
        )
    rows, cols = (int(v) for v in patches.grid_shape)
    if rows * cols != n:
        raise InputError(f"patch grid {rows} x {cols} does not hold the {n} patches")
    z = _latent_array(encoding.z_mean, "z_mean", n)
    shift = _latent_array(encoding.shift_mean, "shift_mean", n)
    labels = None if phases is None else _phase_labels(z, phases, seed).reshape(rows, cols)
    lattice_phase = None
    if encoding.phase_mean is not None:
        angle = _latent_array(encoding.phase_mean, "phase_mean", n)
        lattice_phase = angle.T.reshape(angle.shape[1], rows, cols)
    orientation = scale = None
    if encoding.orientation_mean is not None:
        angle = _latent_array(np.reshape(encoding.orientation_mean, (n, 1)), "orientation", n)
        orientation = angle[:, 0].reshape(rows, cols)
    if encoding.scale_mean is not None:
        rel = _latent_array(encoding.scale_mean, "scale_mean", n)
        scale = rel.T.reshape(rel.shape[1], rows, cols)
    return LatentMaps(
        z=z.T.reshape(z.shape[1], rows, cols),
        shift=shift.T.reshape(shift.shape[1], rows, cols),
        phases=labels,
        centers=np.asarray(patches.centers, dtype=np.float64).reshape(rows, cols, 2),
        step=int(patches.step) if patches.step else 1,
        pixel_size=patches.pixel_size,
        unit=patches.unit,
        lattice_phase=lattice_phase,
        orientation=orientation,
        scale=scale,
    )


def geometric_phase(phase_mean: np.ndarray, centers: np.ndarray, vectors: np.ndarray):
    """Lattice phase of each patch relative to one perfect lattice: (N, 2) radians.

    A patch centred at c sees the lattice at the position angles theta = 2 pi g . (o - c + u)
    (o a site of the perfect lattice, u the local displacement, g1, g2 the reciprocal
    vectors), up to the constant of the model's motif frame; theta + 2 pi g . c keeps
    2 pi g . u only: the geometric phase of geometric phase analysis, whose gradients are
    strain and rotation and whose steps are domain walls.  Wrapped to (-pi, pi] and centred
    on its circular mean.

    Examples
    --------
    >>> c = np.array([[0.0, 0.0], [0.0, 5.0], [7.0, 3.0]])
    >>> theta = -2 * np.pi * c @ np.linalg.inv(np.eye(2) * 10).T  # a perfect lattice
    >>> bool(np.abs(geometric_phase(theta, c, np.eye(2) * 10)).max() < 1e-12)
    True
    """
    recip = np.linalg.inv(np.asarray(vectors, dtype=np.float64)).T  # rows g1, g2
    total = np.exp(1j * (np.asarray(phase_mean) + 2 * np.pi * np.asarray(centers) @ recip.T))
    return np.angle(total * np.exp(-1j * np.angle(total.mean(axis=0))))


def _phase_labels(z: np.ndarray, phases: Literal["auto"] | int, seed: int) -> np.ndarray:
    """Gaussian-mixture labels (N,) of the latents ``z`` (N, l), 0 = largest phase."""
    if phases == "auto":
        candidates = range(1, MAX_PHASES + 1)
    elif isinstance(phases, (int, np.integer)) and not isinstance(phases, bool) and phases > 0:
        candidates = range(int(phases), int(phases) + 1)
    else:
        raise InputError(f"phases must be 'auto', a positive int or None, got {phases!r}")
    n = z.shape[0]
    scale = z.std(axis=0)
    varying = scale > 1e-12 * max(1.0, float(np.abs(z).max(initial=0.0)))
    if not varying.any():  # no conventional latents, or all of them constant: one phase
        return np.zeros(n, dtype=np.int64)
    x = (z[:, varying] - z[:, varying].mean(axis=0)) / scale[varying]
    rng = np.random.default_rng(seed)
    fit_x = x if n <= MAX_GMM_SAMPLES else x[rng.choice(n, MAX_GMM_SAMPLES, replace=False)]
    distinct = len(np.unique(fit_x, axis=0))
    counts = [k for k in candidates if k <= distinct] or [distinct]
    # a handful of latent dimensions: BLAS threads only add overhead (30x slower on 2 cores)
    from threadpoolctl import threadpool_limits  # with sklearn: imported only when needed

    with threadpool_limits(limits=1, user_api="blas"):
        fits = [fit_mixture(fit_x, k, seed) for k in counts]
        best = min(fits, key=lambda m: m.bic(fit_x))
        labels = best.predict(x)
    if phases != "auto" and best.n_components != int(phases):
        logger.warning(
            "only %d distinct latent points: %d phases instead of %s",
            distinct,
            best.n_components,
            phases,
        )
    order = np.argsort(-np.bincount(labels, minlength=best.n_components), kind="stable")
    return np.argsort(order)[labels].astype(np.int64)


def phase_fractions(maps: LatentMaps) -> dict[int, float]:
    """Share of the grid cells in each phase.

    Parameters
    ----------
    maps : LatentMaps
        Maps computed with ``phases`` not None.

    Returns
    -------
    dict
        ``{label: fraction}`` for every label present, fractions summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftvae.types import LatentMaps
    >>> m = LatentMaps(np.zeros((1, 2, 2)), np.zeros((0, 2, 2)), phases=np.array([[0, 0], [0, 1]]))
    >>> phase_fractions(m)
    {0: 0.75, 1: 0.25}
    """
    if maps.phases is None:
        raise InputError("these maps have no phases: compute them with latent_maps(phases='auto')")
    labels = np.asarray(maps.phases).ravel()
    if labels.size == 0:
        raise InputError("these maps are empty: no phases to count")
    values, counts = np.unique(labels, return_counts=True)
    return {int(v): float(c / labels.size) for v, c in zip(values, counts)}
