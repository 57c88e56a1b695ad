"""Generated images of edge dislocations with known cores and Burgers vectors.

Each dislocation moves the lattice sites by the isotropic elastic field of an edge
dislocation (Hirth and Lothe, eq. 3-45), with the glide plane along b::

    u_x = b / 2 pi (theta + x y / (2 (1 - nu) r^2))
    u_y = -b / 2 pi ((1 - 2 nu) / (4 (1 - nu)) ln(r^2 / c^2) + (x^2 - y^2) / (4 (1 - nu) r^2))

in display axes (x right, y up) turned so that b lies along x.  theta's jump along the
negative x axis is the cut where the extra half plane ends; sites that land closer than
0.35 cell to a kept one are dropped (the core's crowding).  The Burgers vector is the
closure failure of u on a counter-clockwise circuit as displayed, the convention of
:func:`shiftvae.analysis.dislocations.find_dislocations`.

Examples
--------
>>> image, truth = edge_dislocations(size=128, cores=1, seed=0)
>>> image.shape, truth.cores.shape, truth.burgers.shape
((128, 128), (1, 2), (1, 2))
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

from shiftvae.synthetic.crystal_scene import Microscope, _finish, _render_columns, _scan_offsets
from shiftvae.synthetic.grains import _lattice_vectors, _sites

__all__ = ["DislocationTruth", "edge_dislocations"]

POISSON = 0.3


@dataclasses.dataclass(frozen=True, eq=False)
class DislocationTruth:
    """The known answer: cores (N, 2) (row, col) px, Burgers vectors (N, 2) (row, col) px,
    and the lattice vectors (2, 2) (rows a1, a2)."""

    cores: np.ndarray
    burgers: np.ndarray
    vectors: np.ndarray


def edge_field(points: np.ndarray, core: np.ndarray, burgers: np.ndarray, cell: float):
    """Displacement (M, 2) (row, col) px of ``points`` by one edge dislocation at ``core``
    with Burgers vector ``burgers`` (row, col) px."""
    d = np.asarray(points, float) - core
    x, y = d[:, 1], -d[:, 0]  # display axes
    bx, by = burgers[1], -burgers[0]
    length = float(np.hypot(bx, by))
    cos, sin = bx / length, by / length
    xp, yp = x * cos + y * sin, -x * sin + y * cos
    r2 = np.maximum(xp**2 + yp**2, 1e-6)
    nu = POISSON
    ux = length / (2 * np.pi) * (np.arctan2(yp, xp) + xp * yp / (2 * (1 - nu) * r2))
    uy = (
        -length
        / (2 * np.pi)
        * (
            (1 - 2 * nu) / (4 * (1 - nu)) * np.log(r2 / cell**2)
            + (xp**2 - yp**2) / (4 * (1 - nu) * r2)
        )
    )
    dx, dy = ux * cos - uy * sin, ux * sin + uy * cos
    return np.column_stack([-dy, dx])


def edge_dislocations(
    size: int = 256,
    cell: float = 10.0,
    cores: int = 2,
    width: float = 1.4,
    seed: int = 0,
    microscope: Microscope | None = None,
) -> tuple[np.ndarray, DislocationTruth]:
    """A square lattice, turned by a random angle, with ``cores`` edge dislocations.

    The cores lie at least a quarter of the image from its edges and from each other; each
    Burgers vector is one lattice vector (+-a1 or +-a2, chosen at random).
    """
    rng = np.random.default_rng(seed)
    microscope = microscope or Microscope()
    shape = (size, size)
    vectors = _lattice_vectors(4, cell, rng.uniform(0, 90))
    sites = _sites(shape, vectors, np.asarray(shape) / 2 + rng.uniform(0, 1, 2) @ vectors)
    centres, burgers = [], []
    while len(centres) < cores:
        c = rng.uniform(0.25, 0.75, 2) * size
        if all(np.linalg.norm(c - o) > size / 4 for o in centres):
            centres.append(c)
            burgers.append(vectors[rng.integers(2)] * rng.choice([-1, 1]))
    moved = sites.copy()
    for c, b in zip(centres, burgers):
        moved += edge_field(sites, c, b, cell)
    moved = _thinned(moved, 0.35 * cell)
    drift, offsets = _scan_offsets(size, microscope, rng)
    clean = _render_columns(shape, moved, np.ones(len(moved)), width, offsets, microscope)
    image = _finish(clean, microscope, rng)
    seen = np.array(centres).reshape(-1, 2)
    seen[:, 1] -= np.interp(seen[:, 0], np.arange(size), drift)  # where the scan shows them
    truth = DislocationTruth(seen, np.array(burgers).reshape(-1, 2), vectors)
    return image, truth


def _thinned(points: np.ndarray, distance: float) -> np.ndarray:
    """``points`` less each one closer than ``distance`` to an earlier kept one."""
    keep = np.ones(len(points), dtype=bool)
    for i, j in sorted(cKDTree(points).query_pairs(distance)):
        if keep[i] and keep[j]:
            keep[j] = False
    return points[keep]
