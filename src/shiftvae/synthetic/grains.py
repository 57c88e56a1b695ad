"""Generated images with known orientation and strain: grains, a strained film, and both.

Each function returns the image and a :class:`GrainTruth`, whose fields give the true
orientation (degrees, counter-clockwise as displayed) and the relative lattice parameter at
any point of the image, so maps made at patch centres can be scored.

* :func:`polycrystal`: Voronoi grains of a square (n = 4) or hexagonal (n = 6) lattice, each
  turned by its own angle;
* :func:`strained_film`: one lattice whose parameter varies smoothly by a few percent: the
  sites are moved by the gradient of a smooth potential, so the local deformation is a pure
  stretch (no local rotation) whose size is ``sqrt(det(I + grad D))``;
* ``polycrystal(..., strain=0.03)``: both;
* ``polycrystal(..., order=0.3)``: grains whose column brightness follows a smooth field
  across the image, an order parameter that does not depend on orientation (it tells
  whether the conventional latents still carry the physics once the pose is taken out).

Examples
--------
>>> image, truth = polycrystal(size=128, grains=4, seed=0)
>>> image.shape, truth.orientation(np.array([[64.0, 64.0]])).shape
((128, 128), (1,))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from shiftvae.synthetic.crystal_scene import Microscope, _finish, _render_columns

__all__ = ["GrainTruth", "polycrystal", "strained_film"]

PointFn = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True, eq=False)
class GrainTruth:
    """The known answer of a generated grain or strain image.

    Attributes
    ----------
    symmetry : int
        Rotational symmetry order n of the lattice (4 square, 6 hexagonal).
    cell : float
        Nominal lattice parameter in pixels.
    orientation : callable
        (M, 2) points (row, col) px -> (M,) orientation in degrees, in [0, 360 / n).
    scale : callable
        (M, 2) points -> (M,) relative lattice parameter (1 = ``cell``).
    grain : callable
        (M, 2) points -> (M,) grain index.
    order : callable
        (M, 2) points -> (M,) relative column brightness minus 1 (all 0 without ``order``).
    """

    symmetry: int
    cell: float
    orientation: PointFn
    scale: PointFn
    grain: PointFn
    order: PointFn = lambda q: np.zeros(len(q))

    def interior(self, shape: tuple[int, int], margin: float) -> np.ndarray:
        """(H, W) bool: the pixels more than ``margin`` px from a boundary between grains
        (where a measurement averaged over ``margin`` sees one grain only)."""
        from scipy import ndimage

        rows, cols = np.mgrid[: shape[0], : shape[1]]
        points = np.column_stack([rows.ravel(), cols.ravel()]).astype(float)
        grain = self.grain(points).reshape(shape)
        edge = np.zeros(shape, bool)
        edge[:-1] |= grain[:-1] != grain[1:]
        edge[:, :-1] |= grain[:, :-1] != grain[:, 1:]
        return ndimage.distance_transform_edt(~edge) > margin


def _lattice_vectors(symmetry: int, cell: float, angle_deg: float) -> np.ndarray:
    """(2, 2) rows a1, a2 in (row, col): square or hexagonal, a1 at ``angle_deg`` ccw."""
    t = np.deg2rad(angle_deg + np.array([0.0, 90.0 if symmetry == 4 else 60.0]))
    return cell * np.column_stack([-np.sin(t), np.cos(t)])  # display angle -> (row, col)


def _sites(shape, vectors: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Lattice sites covering the image and a margin of two cells."""
    cell = float(np.linalg.norm(vectors, axis=1).min())
    n = int(np.ceil(np.hypot(*shape) / cell)) + 2
    k = np.arange(-n, n + 1)
    ij = np.stack(np.meshgrid(k, k, indexing="ij"), -1).reshape(-1, 2)
    p = origin + ij @ vectors
    keep = np.all((p > -2 * cell) & (p < np.asarray(shape) + 2 * cell), axis=1)
    return p[keep]


def _displacement(shape, amplitude: float, rng: np.random.Generator):
    """Smooth displacement D = grad(phi) (a pure stretch field) and its relative scale.

    phi is a sum of three cosines of wavelength 0.8-1.5 image; the local relative lattice
    parameter sqrt(det(I + grad D)) stays within about +-``amplitude``.
    """
    size = max(shape)
    k = 2 * np.pi / (rng.uniform(0.8, 1.5, 3) * size)
    theta = rng.uniform(0, np.pi, 3)
    kv = k[:, None] * np.column_stack([np.cos(theta), np.sin(theta)])  # (3, 2)
    phase = rng.uniform(0, 2 * np.pi, 3)
    c = amplitude * 2 / (3 * k**2)  # each wave's trace(grad D) is c |k|^2 cos(...)

    def move(p: np.ndarray) -> np.ndarray:
        arg = np.asarray(p, float) @ kv.T + phase  # (M, 3)
        return -(np.sin(arg) * c) @ kv  # grad of sum c cos(k.p + phase)

    def scale(p: np.ndarray) -> np.ndarray:
        arg = np.asarray(p, float) @ kv.T + phase
        hess = -np.einsum("mw,w,wi,wj->mij", np.cos(arg), c, kv, kv)  # grad D (M, 2, 2)
        return np.sqrt(np.linalg.det(np.eye(2) + hess))

    return move, scale


def _brightness(shape, amplitude: float, rng: np.random.Generator) -> PointFn:
    """A smooth field within +-``amplitude``: one cosine of wavelength 1.2-2 images."""
    size = max(shape)
    theta = rng.uniform(0, np.pi)
    k = 2 * np.pi / (rng.uniform(1.2, 2.0) * size) * np.array([np.cos(theta), np.sin(theta)])
    phase = rng.uniform(0, 2 * np.pi)
    return lambda p: amplitude * np.cos(np.asarray(p, float) @ k + phase)


def polycrystal(
    size: int = 256,
    cell: float = 8.0,
    grains: int = 6,
    symmetry: int = 4,
    strain: float = 0.0,
    width: float | None = None,
    seed: int = 0,
    microscope: Microscope | None = None,
    order: float = 0.0,
) -> tuple[np.ndarray, GrainTruth]:
    """Voronoi grains of one lattice at random orientations; optional smooth strain and
    column brightness.

    Parameters
    ----------
    size : int
        Image side in pixels.
    cell : float
        Lattice parameter in pixels.
    grains : int
        Number of grains (Voronoi cells of random seeds).
    symmetry : {4, 6}
        Square or hexagonal lattice.
    strain : float
        Amplitude of the smooth relative change of the lattice parameter (0: none).
    width : float, optional
        Gaussian column width in pixels (default: cell / 6).
    seed : int
    microscope : Microscope, optional
        Noise (default: Poisson at the benchmark's level, no scan distortion).
    order : float
        Amplitude of a smooth relative change of the columns' brightness (0: none), drawn
        after the grains and the strain so that it leaves them as they were.
    """
    if symmetry not in (4, 6):
        raise ValueError(f"symmetry must be 4 or 6, got {symmetry}")
    rng = np.random.default_rng(seed)
    microscope = microscope or Microscope(scan_jitter=0.0, scan_drift=0.0)
    shape = (int(size), int(size))
    seeds = rng.uniform(0, size, (grains, 2))
    angles = rng.uniform(0, 360 / symmetry, grains)

    def grain(p: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(np.asarray(p, float)[:, None] - seeds[None], axis=-1)
        return d.argmin(1)

    move, scale = _displacement(shape, strain, rng) if strain else (None, None)
    positions = []
    for g, angle in enumerate(angles):
        vectors = _lattice_vectors(symmetry, cell, angle)
        p = _sites(shape, vectors, seeds[g] + rng.uniform(0, 1, 2) @ vectors)
        p = p[grain(p) == g]  # the grain's own sites, before the strain moves them
        positions.append(p + move(p) if move else p)
    p = np.vstack(positions)
    brightness = _brightness(shape, order, rng) if order else (lambda q: np.zeros(len(q)))
    w = cell / 6 if width is None else width
    clean = _render_columns(shape, p, 1 + brightness(p), w, np.zeros(shape[0]), microscope)
    image = _finish(clean, microscope, rng)
    truth = GrainTruth(
        symmetry=symmetry,
        cell=float(cell),
        orientation=lambda q: angles[grain(q)],
        scale=(lambda q: scale(q)) if scale else (lambda q: np.ones(len(q))),
        grain=grain,
        order=brightness,
    )
    return image, truth


def strained_film(
    size: int = 256,
    cell: float = 8.0,
    strain: float = 0.05,
    symmetry: int = 4,
    seed: int = 0,
    microscope: Microscope | None = None,
) -> tuple[np.ndarray, GrainTruth]:
    """One lattice (one grain at a random orientation) whose parameter varies smoothly within
    about +-``strain``."""
    return polycrystal(size, cell, 1, symmetry, strain, None, seed, microscope)
