"""Generated crystals whose two sublattices look alike in part of the field of view.

Where the B columns become as bright as the A columns, a patch alone cannot tell which
sublattice is which: the cell seen through it may be read half a cell off.  These cases test
that a fit registers the lattice over the whole image instead (the registration family of
:func:`registration_family`).

The crystal is :mod:`shiftvae.synthetic.crystals`' square cell, A at the corners, B at the
centres, with every nuisance of a real image at once: the B/A peak ratio follows a smooth field
up to equal, B columns are wider than A along one axis, the lattice is turned, the background
has a slow gradient, scan lines jitter and drift, and the counts are Poisson.  Optionally the B
columns are displaced in two domains, or the crystal has an antiphase boundary: beyond a wavy
wall every column sits half a cell, (a1 + a2) / 2, further on, so A takes B's place.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from shiftvae.synthetic.crystal_scene import (
    CrystalTruth,
    Microscope,
    _finish,
    _grid,
    _render_columns,
    _scan_offsets,
    _setup,
    _smooth_field,
    _wall,
)

__all__ = ["alike_sublattice_crystal", "half_cell_share", "registration_family"]

GRADIENT = 0.3  # background rise across the image, in units of an A column's peak
B_ASPECT = 1.3  # B columns are this much wider along the rows than along the columns


def alike_sublattice_crystal(
    size: int = 512,
    cell: float = 16.0,
    ratio_range: tuple[float, float] = (0.35, 1.0),
    displacement: float = 0.0,
    antiphase: bool = False,
    rotation_deg: float = 1.0,
    microscope: Microscope | None = None,
    seed: int = 0,
    name: str = "alike",
) -> tuple[np.ndarray, CrystalTruth]:
    """Two sublattices whose B/A peak ratio runs up to ``ratio_range[1]`` (1: equal).

    Parameters
    ----------
    size, cell, rotation_deg, microscope, seed
        As in :func:`shiftvae.synthetic.crystals.intensity_ratio_crystal`; columns are Gaussians
        of std cell / 10 (B: 1.3 times wider along the rows).
    ratio_range : (float, float)
        The B/A peak ratio spans this range over the image (a smooth field).
    displacement : float
        B columns displaced by +- this many px along ``lattice_vectors[0]`` in two domains
        meeting at a wavy wall (0: no domains).
    antiphase : bool
        An antiphase boundary: beyond a second wavy wall every column is moved by half a cell.
    name : str
        Name recorded in ``truth``.

    Returns
    -------
    image : ndarray (size, size), float32 in [0, 1]
    truth : CrystalTruth
        ``field``: the signed B shift (px) with domains, else the B/A ratio (None when it is
        constant); ``label``: the domain (shift > 0), else the side of the antiphase
        boundary, else ratio above its median.  ``sites["A"]`` are the A columns, antiphase
        side included, so the truth's own phase of any patch is where its nearest A column
        sits.

    Examples
    --------
    >>> image, truth = alike_sublattice_crystal(size=128, antiphase=True, seed=0)
    >>> image.shape, sorted(set(truth.label(truth.sites["A"]).tolist()))
    ((128, 128), [0, 1])
    """
    params = dict(locals())  # the call's arguments, recorded in truth
    shape, vectors, _, a, b, microscope, rng = _setup(params)
    unit = _smooth_field(shape, rng)
    lo, hi = ratio_range
    ratio = lambda p: lo + (hi - lo) * unit(p)  # noqa: E731
    median = float(np.median(ratio(_grid(shape))))
    wall = _wall(shape, rng)
    shift = lambda p: displacement * np.tanh(wall(p) / (cell / 2))  # noqa: E731
    heights_b = ratio(b)
    b = b + shift(b)[:, None] * vectors[0] / cell
    apb = _wall(shape, rng) if antiphase else None
    if apb is not None:  # beyond the wall, the whole crystal sits half a cell further on
        half = vectors.sum(axis=0) / 2
        a = np.where((apb(a) > 0)[:, None], a + half, a)
        b = np.where((apb(b) > 0)[:, None], b + half, b)
    width = cell / 10
    drift, offsets = _scan_offsets(shape[0], microscope, rng)
    clean = _render_columns(shape, a, np.ones(len(a)), width, offsets, microscope)
    clean += _render_columns(shape, b, heights_b, (B_ASPECT * width, width), offsets, microscope)
    ramp = np.linspace(0.0, GRADIENT, shape[0])[:, None] + np.linspace(0, GRADIENT, shape[1])
    image = _finish(clean + ramp / 2, microscope, rng)
    sites = {k: _seen(p, drift, shape) for k, p in (("A", a), ("B", b))}
    if displacement:
        field, label = shift, (lambda p: wall(p) > 0)
    elif apb is not None:  # a constant ratio is no field to score
        field, label = (ratio if hi > lo else None), (lambda p: apb(p) > 0)
    else:
        field, label = ratio, (lambda p: ratio(p) > median)
    params["median_ratio"] = median
    return image, CrystalTruth(name, vectors, params, sites, drift, field, label)


def registration_family(
    seed: int = 0, size: int = 512, noise_levels: tuple[float, ...] = (0.08, 0.2)
) -> dict[str, tuple[np.ndarray, CrystalTruth]]:
    """The registration cases, each at every noise level: {name: (image, truth)}.

    * ``alike_ratio``: B/A ratio from 0.35 up to 1.0;
    * ``alike_domains``: B displaced by +-2 px in two domains under that ratio field;
    * ``antiphase`` / ``antiphase_ratio``: an antiphase boundary, with a fixed ratio of 0.5
      or under the ratio field;
    * ``turned``: ratio 0.35-0.6, the lattice turned by 7 degrees.

    Each has a background gradient, scan-line jitter and drift and Poisson noise; names end
    in the noise level (``alike_ratio@0.08``).

    Examples
    --------
    >>> family = registration_family(size=96, noise_levels=(0.1,))
    >>> sorted(family)[0]
    'alike_domains@0.1'
    """
    cases = {
        "alike_ratio": {},
        "alike_domains": {"displacement": 2.0},
        "antiphase": {"antiphase": True, "ratio_range": (0.5, 0.5)},
        "antiphase_ratio": {"antiphase": True},
        "turned": {"ratio_range": (0.35, 0.6), "rotation_deg": 7.0},
    }
    family = {}
    for level in noise_levels:
        scope = dataclasses.replace(Microscope(), noise_level=level)
        for name, options in cases.items():
            key = f"{name}@{level:g}"
            options = {"size": size, "seed": seed, "microscope": scope, "name": key, **options}
            family[key] = alike_sublattice_crystal(**options)
    return family


def half_cell_share(
    shift_px: np.ndarray, centers: np.ndarray, truth: CrystalTruth, window: float = 0.0
) -> float:
    """Share of patches whose position is read half a cell off, against the truth's phase.

    ``shift_px`` (N, 2) is where the model puts a lattice site relative to each patch centre
    (``Encoding.shift_mean``), ``centers`` (N, 2) the centres, both (row, col) px.  The
    truth's own phase is where the nearest A column sits.  The difference, in fractions of the
    true cell, is taken modulo the cell; its circular mean (the model's constant choice of
    origin) is removed, and a patch counts as off when what is left exceeds a quarter cell
    along either cell axis.  With ``window`` (px) and a case with an antiphase boundary, the
    patches whose window straddles the boundary (half A, half B: no right answer) are left
    out: the share outside true antiphase boundaries.

    Examples
    --------
    >>> _, truth = alike_sublattice_crystal(size=128, seed=0)
    >>> a = truth.sites["A"][10:20]
    >>> centers = a + 1.5
    >>> half_cell_share(a - centers, centers, truth)
    0.0
    """
    centers = np.asarray(centers, dtype=float).reshape(-1, 2)
    sites = truth.sites["A"]
    nearest = sites[np.argmin(((centers[:, None] - sites[None]) ** 2).sum(-1), axis=1)]
    inverse = np.linalg.inv(truth.lattice_vectors)
    frac = (np.asarray(shift_px, dtype=float) - (nearest - centers)) @ inverse  # (N, 2)
    turns = np.exp(2j * np.pi * frac)
    residual = np.angle(turns * np.conj(turns.mean(axis=0) / np.abs(turns.mean(axis=0))))
    off = np.abs(residual).max(axis=1) > np.pi / 2
    if window and truth.params.get("antiphase"):
        half = window / 2
        corners = [centers + np.array([dr, dc]) for dr in (-half, half) for dc in (-half, half)]
        sides = np.stack([truth.label(p) for p in corners])
        off = off[(sides == sides[0]).all(axis=0)]
    return float(np.mean(off))


def _seen(points: np.ndarray, drift: np.ndarray, shape) -> np.ndarray:
    """Specimen points as recorded (image coordinates), those inside the image."""
    seen = points.copy()
    seen[:, 1] -= np.interp(points[:, 0], np.arange(shape[0]), drift)
    return seen[np.all((seen >= 0) & (seen <= np.asarray(shape) - 1), axis=1)]
