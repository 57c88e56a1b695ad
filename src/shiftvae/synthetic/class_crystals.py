"""Generated crystals whose cells fall into known classes: the benchmark of ``--classes``.

Each case returns ``(image, truth)``: a float32 image in [0, 1] and a :class:`ClassTruth`
that gives the class at any image point, recorded through the same microscope as
:mod:`shiftvae.synthetic.crystals` (Gaussian columns, scan jitter and drift, Poisson noise).

* :func:`polarisation_variants`: B displaced along +a1, -a1, +a2 or -a2 in domains (four
  polarisation variants, 90 and 180 degree walls);
* :func:`interface_phases`: two phases meeting at a curved interface;
* :func:`honeycomb_defects`: a graphene-like lattice with vacancies, substitutions and
  adatoms (three defect kinds and the pristine cells).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from shiftvae.synthetic.crystal_scene import Microscope, _record, _setup, _wall

__all__ = ["ClassTruth", "honeycomb_defects", "interface_phases", "polarisation_variants"]

VARIANTS = ("+a1", "-a1", "+a2", "-a2")
DEFECTS = ("pristine", "vacancy", "substitution", "adatom")


@dataclasses.dataclass(frozen=True, eq=False)
class ClassTruth:
    """The known classes of a generated case, in image coordinates (row, col) px.

    Attributes
    ----------
    name : str
    names : tuple of str
        The classes, in the order of their indices.
    lattice_vectors : ndarray (2, 2)
    params : dict
        Every parameter of the call, ``microscope`` included.
    sites : dict of str to ndarray (M, 2)
        Column positions in the image.
    drift : ndarray (rows,)
        Horizontal scan offset per row (image column = specimen column - drift).
    class_fn : callable
        Class index of specimen points; use :meth:`classes`.
    """

    name: str
    names: tuple[str, ...]
    lattice_vectors: np.ndarray
    params: dict
    sites: dict[str, np.ndarray]
    drift: np.ndarray
    class_fn: Callable[[np.ndarray], np.ndarray]

    def classes(self, points: np.ndarray) -> np.ndarray:
        """Class index (N,) at image points (N, 2).

        Examples
        --------
        >>> image, truth = polarisation_variants(size=128, seed=0)
        >>> truth.classes([[64.0, 64.0]]).shape
        (1,)
        """
        p = np.asarray(points, dtype=float).reshape(-1, 2)
        shift = np.interp(p[:, 0], np.arange(self.drift.size), self.drift)
        return np.asarray(self.class_fn(np.column_stack([p[:, 0], p[:, 1] + shift])), int)


def _domains(shape, n_domains: int, k: int, rng: np.random.Generator):
    """Voronoi domains of ``n_domains`` random seeds, each given one of ``k`` classes (every
    class used at least once): a function from points (N, 2) to classes (N,)."""
    seeds = rng.uniform(0.1, 0.9, (n_domains, 2)) * np.asarray(shape)
    kinds = rng.permutation(np.resize(np.arange(k), n_domains))

    def classify(p: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(np.asarray(p, float)[:, None] - seeds[None], axis=-1)
        return kinds[d.argmin(1)]

    return classify


def polarisation_variants(
    size: int = 512,
    cell: float = 16.0,
    displacement: float = 1.5,
    b_ratio: float = 0.5,
    n_domains: int = 6,
    rotation_deg: float = 3.0,
    microscope: Microscope | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, ClassTruth]:
    """B columns displaced by ``displacement`` px along +a1, -a1, +a2 or -a2 (classes 0-3),
    in Voronoi domains of ``n_domains`` seeds: 90 and 180 degree walls.

    Examples
    --------
    >>> image, truth = polarisation_variants(size=128, seed=0)
    >>> truth.names
    ('+a1', '-a1', '+a2', '-a2')
    """
    params = dict(locals())
    shape, vectors, _, a, b, microscope, rng = _setup(params)
    classify = _domains(shape, n_domains, 4, rng)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    moves = displacement * np.stack([unit[0], -unit[0], unit[1], -unit[1]])
    b = b + moves[classify(b)]
    columns = {"A": (a, np.ones(len(a))), "B": (b, np.full(len(b), b_ratio))}
    image, drift, sites = _record(shape, columns, cell / 10, microscope, rng)
    return image, ClassTruth("variants", VARIANTS, vectors, params, sites, drift, classify)


def interface_phases(
    size: int = 384,
    cell: float = 16.0,
    b_ratio: float = 0.6,
    b_ratio_other: float = 0.25,
    rotation_deg: float = 3.0,
    microscope: Microscope | None = None,
    seed: int = 0,
    advance: float = 0.0,
) -> tuple[np.ndarray, ClassTruth]:
    """Two phases (classes 0, 1) on one lattice, B at ``b_ratio_other`` and ``b_ratio`` of
    A, meeting at a smooth curved interface; ``advance`` (px) moves the interface into
    phase 0 (frames of a series in which phase 1 grows: the same seed, a growing advance).

    Examples
    --------
    >>> image, truth = interface_phases(size=128, seed=0)
    >>> sorted(set(truth.classes(truth.sites["A"]).tolist()))
    [0, 1]
    """
    params = dict(locals())
    shape, vectors, _, a, b, microscope, rng = _setup(params)
    wall = _wall(shape, rng)
    classify = lambda p: (wall(p) > -advance).astype(int)  # noqa: E731
    heights = np.where(classify(b) == 1, b_ratio, b_ratio_other)
    columns = {"A": (a, np.ones(len(a))), "B": (b, heights)}
    image, drift, sites = _record(shape, columns, cell / 10, microscope, rng)
    names = ("phase 0", "phase 1")
    return image, ClassTruth("interface", names, vectors, params, sites, drift, classify)


def honeycomb_defects(
    size: int = 384,
    bond: float = 9.0,
    n_defects: tuple[int, int, int] = (30, 30, 30),
    substitution: float = 2.0,
    adatom: float = 1.5,
    rotation_deg: float = 3.0,
    microscope: Microscope | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, ClassTruth]:
    """A honeycomb of equal atoms (bond length ``bond`` px) with point defects of three kinds:
    vacancies (an atom missing), substitutions (an atom ``substitution`` times as bright)
    and adatoms (an atom ``adatom`` times as bright at a hexagon's centre).

    Defects are kept at least 2.5 bonds apart.  The class of a point is the kind of the
    defect within 1.2 bonds of it (1 vacancy, 2 substitution, 3 adatom), else 0 (pristine).

    Examples
    --------
    >>> image, truth = honeycomb_defects(size=128, n_defects=(2, 2, 2), seed=0)
    >>> truth.names
    ('pristine', 'vacancy', 'substitution', 'adatom')
    """
    params = dict(locals())
    mic = microscope or Microscope()
    params["microscope"] = dataclasses.asdict(mic)
    rng = np.random.default_rng(seed)
    shape = (size, size)
    t = np.deg2rad(rotation_deg)
    a = np.sqrt(3) * bond  # the hexagonal cell
    vectors = a * np.array([[np.sin(t), np.cos(t)], [np.sin(t + np.pi / 3), np.cos(t + np.pi / 3)]])
    n = int(np.ceil(size / a * 1.6)) + 2
    ij = np.stack(np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij"), -1)
    origin = np.asarray(shape) / 2 + rng.uniform(0, 1, 2) @ vectors
    cells = origin + ij.reshape(-1, 2) @ vectors
    second = (vectors[0] + vectors[1]) / 3
    atoms = np.vstack([cells, cells + second])
    hollows = cells + 2 * second
    inside = lambda p: np.all((p > -a) & (p < np.asarray(shape) + a), axis=1)  # noqa: E731
    atoms, hollows = atoms[inside(atoms)], hollows[inside(hollows)]
    heights = np.ones(len(atoms))
    centres, kinds = [], []
    chosen = rng.permutation(len(atoms))
    for kind, count in zip((1, 2, 3), n_defects):
        placed = 0
        for i in chosen:
            if placed == count:
                break
            p = hollows[i % len(hollows)] if kind == 3 else atoms[i]
            if not np.all((p > bond * 2) & (p < np.asarray(shape) - bond * 2)):
                continue
            if centres and np.min(np.linalg.norm(np.asarray(centres) - p, axis=1)) < 2.5 * bond:
                continue
            centres.append(p)
            kinds.append(kind)
            placed += 1
        chosen = rng.permutation(len(atoms))
    centres_arr, kinds_arr = np.asarray(centres), np.asarray(kinds)
    extra = []
    for p, kind in zip(centres_arr, kinds_arr):
        j = int(np.argmin(np.linalg.norm(atoms - p, axis=1)))
        if kind == 1:
            heights[j] = 0.0
        elif kind == 2:
            heights[j] = substitution
        else:
            extra.append(p)
    positions = np.vstack([atoms, *(np.asarray(extra)[None] if extra else [])])
    heights = np.concatenate([heights, np.full(len(extra), adatom)])
    keep = heights > 0
    columns = {"C": (positions[keep], heights[keep])}
    image, drift, sites = _record(shape, columns, bond / 5, mic, rng)
    sites["defects"] = centres_arr

    def classify(p: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(np.asarray(p, float)[:, None] - centres_arr[None], axis=-1)
        near = d.argmin(1)
        return np.where(d[np.arange(len(d)), near] < 1.2 * bond, kinds_arr[near], 0)

    return image, ClassTruth("defects", DEFECTS, vectors, params, sites, drift, classify)
