"""Generated benchmark crystals whose order parameter is known at every point.

Each case returns ``(image, truth)``: a float32 image in [0, 1] and a :class:`CrystalTruth`
giving the order parameter (``truth.field``) and/or the domain label (``truth.label``) at any
point, so a map found by any method can be scored (:mod:`shiftvae.analysis.scoring`).

The specimen is a square cell with A columns at the corners and B columns at the centres (B
dimmer: a lighter element). The image is what a scanning microscope records: Gaussian
columns, a small rotation, scan distortions (a random horizontal offset of each scan line and a
slow horizontal drift that shears the lattice) and Poisson or Gaussian noise. Coordinates are
(row, col) pixels of the image; a specimen point (r, c) is recorded at column c - drift(r), and
``truth`` undoes this, so its functions and ``sites`` are in image coordinates.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import expit

from shiftvae.synthetic.crystal_scene import (
    CrystalTruth,
    Microscope,
    _finish,
    _grid,
    _record,
    _scan_offsets,
    _setup,
    _sites,
    _smooth_field,
    _wall,
)

__all__ = [
    "CrystalTruth",
    "Microscope",
    "benchmark_family",
    "bfo_like_stripes",
    "displacement_domain_crystal",
    "intensity_ratio_crystal",
    "particles_on_support",
    "sto_like_crystal",
    "two_phase_crystal",
]


# --- cases ------------------------------------------------------------------------------


def intensity_ratio_crystal(
    size: int = 512,
    cell: float = 28.0,
    ratio_range: tuple[float, float] = (0.3, 0.8),
    rotation_deg: float = 3.0,
    microscope: Microscope | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, CrystalTruth]:
    """Case (a): the B/A peak ratio follows a smooth field (a chemical-order parameter).

    Parameters
    ----------
    size : int
        Image side, px.
    cell : float
        Cell side, px; columns are Gaussians of std cell / 10.
    ratio_range : (float, float)
        The B/A ratio spans this range over the image (3 plane waves of wavelength 0.7-1.4
        image, so a correlation length of about a third of the image).
    rotation_deg : float
        Rotation of the lattice.
    microscope : Microscope, optional
        Noise and scan distortions (default ``Microscope()``).
    seed : int

    Returns
    -------
    image : ndarray (size, size), float32 in [0, 1]
    truth : CrystalTruth
        ``field`` = the B/A ratio; ``label`` = ratio above its median over the image.

    Examples
    --------
    >>> image, truth = intensity_ratio_crystal(size=128, seed=0)
    >>> ratio = truth.field(truth.sites["B"])
    >>> bool(0.3 <= ratio.min() and ratio.max() <= 0.8)
    True
    """
    params = dict(locals())  # the call's arguments, recorded in truth
    shape, vectors, _, a, b, microscope, rng = _setup(params)
    unit = _smooth_field(shape, rng)
    lo, hi = ratio_range
    ratio = lambda p: lo + (hi - lo) * unit(p)  # noqa: E731
    median = params["median_ratio"] = float(np.median(ratio(_grid(shape))))
    columns = {"A": (a, np.ones(len(a))), "B": (b, ratio(b))}
    image, drift, sites = _record(shape, columns, cell / 10, microscope, rng)
    label = lambda p: ratio(p) > median  # noqa: E731
    return image, CrystalTruth("intensity_ratio", vectors, params, sites, drift, ratio, label)


def displacement_domain_crystal(
    size: int = 512,
    cell: float = 28.0,
    displacement: float = 2.0,
    b_ratio: float = 0.5,
    rotation_deg: float = 3.0,
    microscope: Microscope | None = None,
    seed: int = 0,
    name: str = "displacement_domain",
) -> tuple[np.ndarray, CrystalTruth]:
    """Case (b): B columns displaced by +d or -d along a cell axis in two domains.

    The domains meet at a smooth curved wall; across it the displacement turns over about one
    cell: shift = d * tanh(distance to the wall / (cell / 2)), along ``lattice_vectors[0]``.

    Parameters
    ----------
    displacement : float
        d, px.
    b_ratio : float
        B / A peak ratio.
    size, cell, rotation_deg, microscope, seed
        As in :func:`intensity_ratio_crystal`.
    name : str
        Name recorded in ``truth``.

    Returns
    -------
    image : ndarray (size, size), float32 in [0, 1]
    truth : CrystalTruth
        ``field`` = the signed B shift (px); ``label`` = domain (1 where the shift is positive).

    Examples
    --------
    >>> image, truth = displacement_domain_crystal(size=128, displacement=2.0, seed=0)
    >>> sorted(set(truth.label(truth.sites["B"]).tolist()))
    [0, 1]
    """
    params = dict(locals())  # the call's arguments, recorded in truth
    shape, vectors, _, a, b, microscope, rng = _setup(params)
    wall = _wall(shape, rng)
    shift = lambda p: displacement * np.tanh(wall(p) / (cell / 2))  # noqa: E731
    b = b + shift(b)[:, None] * vectors[0] / cell
    columns = {"A": (a, np.ones(len(a))), "B": (b, np.full(len(b), b_ratio))}
    image, drift, sites = _record(shape, columns, cell / 10, microscope, rng)
    label = lambda p: wall(p) > 0  # noqa: E731
    return image, CrystalTruth(name, vectors, params, sites, drift, shift, label)


def sto_like_crystal(
    size: int = 512, cell: float = 24.0, microscope: Microscope | None = None, seed: int = 0
) -> tuple[np.ndarray, CrystalTruth]:
    """SrTiO3-like: bright Sr corners, Ti centres at 0.35 of Sr, Ti displaced by +-1 px.

    A harder :func:`displacement_domain_crystal` (smaller shift, dimmer B, smaller cell).

    Examples
    --------
    >>> image, truth = sto_like_crystal(size=128, seed=0)
    >>> truth.name, truth.params["displacement"]
    ('sto_like', 1.0)
    """
    return displacement_domain_crystal(
        size,
        cell,
        displacement=1.0,
        b_ratio=0.35,
        rotation_deg=2.0,
        microscope=microscope,
        seed=seed,
        name="sto_like",
    )


def bfo_like_stripes(
    size: int = 512,
    cell: float = 24.0,
    displacement: float = 1.5,
    stripe_period: float | None = None,
    b_ratio: float = 0.45,
    rotation_deg: float = 2.0,
    microscope: Microscope | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, CrystalTruth]:
    """BiFeO3-like stripe domains: B shifted diagonally, the diagonal alternating band to band.

    Bands run at 45 degrees to the cell axes; B moves by ``displacement`` along (u0 + u1) / sqrt 2
    in one band and (u0 - u1) / sqrt 2 in the next (u: unit cell axes), turning over about one
    cell at each wall, so only the component along u1 changes sign.

    Parameters
    ----------
    displacement : float
        Size of the diagonal shift, px.
    stripe_period : float, optional
        Period of the band pattern (two bands), px; default 5 cells.
    b_ratio : float
        B / A peak ratio.
    size, cell, rotation_deg, microscope, seed
        As in :func:`intensity_ratio_crystal`.

    Returns
    -------
    image : ndarray (size, size), float32 in [0, 1]
    truth : CrystalTruth
        ``field`` = the B shift along u1 (px, +-displacement / sqrt 2); ``label`` = band.

    Examples
    --------
    >>> image, truth = bfo_like_stripes(size=128, seed=0)
    >>> bool(np.abs(truth.field(truth.sites["B"])).max() <= 1.5 / np.sqrt(2))
    True
    """
    params = dict(locals())  # the call's arguments, recorded in truth
    shape, vectors, origin, a, b, microscope, rng = _setup(params)
    period = params["stripe_period"] = 5 * cell if stripe_period is None else stripe_period
    units = vectors / cell
    normal = units.sum(axis=0) / np.sqrt(2)
    phase = lambda p: 2 * np.pi * ((np.asarray(p, float) - origin) @ normal) / period  # noqa: E731
    # arcsin(sin(.)) is a triangle wave: this is the signed distance to the nearest wall
    wall = lambda p: period / (2 * np.pi) * np.arcsin(np.sin(phase(p)))  # noqa: E731
    band = lambda p: np.tanh(wall(p) / (cell / 2))  # noqa: E731
    step = displacement / np.sqrt(2)
    b = b + step * (units[0] + band(b)[:, None] * units[1])
    columns = {"A": (a, np.ones(len(a))), "B": (b, np.full(len(b), b_ratio))}
    image, drift, sites = _record(shape, columns, cell / 10, microscope, rng)
    field = lambda p: step * band(p)  # noqa: E731
    label = lambda p: wall(p) > 0  # noqa: E731
    return image, CrystalTruth("bfo_like_stripes", vectors, params, sites, drift, field, label)


def two_phase_crystal(
    size: int = 512,
    cell: float = 28.0,
    b_ratio: float = 0.6,
    b_ratio_other: float = 0.0,
    mismatch: float = 0.0,
    rotation_deg: float = 3.0,
    microscope: Microscope | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, CrystalTruth]:
    """Case (c): two phases meeting at a smooth curved interface.

    Phase 1 has B columns at ``b_ratio`` of A; phase 0 has them at ``b_ratio_other`` (0: none)
    and a cell larger by the factor 1 + ``mismatch`` (0: a coherent interface).

    Parameters
    ----------
    b_ratio, b_ratio_other : float
        B / A peak ratio in phase 1 and in phase 0.
    mismatch : float
        Relative lattice mismatch of phase 0.
    size, cell, rotation_deg, microscope, seed
        As in :func:`intensity_ratio_crystal`.

    Returns
    -------
    image : ndarray (size, size), float32 in [0, 1]
    truth : CrystalTruth
        ``label`` = phase; no ``field``. ``sites`` lists both phases' columns.

    Examples
    --------
    >>> image, truth = two_phase_crystal(size=128, seed=0)
    >>> truth.field(truth.sites["A"]) is None
    True
    """
    params = dict(locals())  # the call's arguments, recorded in truth
    shape, vectors, origin, a, b, microscope, rng = _setup(params)
    wall = _wall(shape, rng)
    a0, b0 = _sites(shape, vectors * (1 + mismatch), origin)
    a = np.vstack([a[wall(a) > 0], a0[wall(a0) <= 0]])
    b1, b0 = b[wall(b) > 0], b0[wall(b0) <= 0]
    heights = np.concatenate([np.full(len(b1), b_ratio), np.full(len(b0), b_ratio_other)])
    b = np.vstack([b1, b0])[heights > 0]
    columns = {"A": (a, np.ones(len(a))), "B": (b, heights[heights > 0])}
    image, drift, sites = _record(shape, columns, cell / 10, microscope, rng)
    label = lambda p: wall(p) > 0  # noqa: E731
    return image, CrystalTruth("two_phase", vectors, params, sites, drift, None, label)


def _place_discs(size: int, n: int, radius: tuple[float, float], rng: np.random.Generator):
    """Up to ``n`` non-overlapping disc centres (n, 2) and radii (n,) inside the image."""
    centres, radii = [], []
    for _ in range(200 * n):
        r = rng.uniform(*radius)
        c = rng.uniform(r, size - r, 2)
        if all(np.hypot(*(c - c2)) > r + r2 + 4 for c2, r2 in zip(centres, radii)):
            centres.append(c)
            radii.append(r)
        if len(radii) == n:
            break
    return np.array(centres).reshape(-1, 2), np.array(radii)


def particles_on_support(
    size: int = 512,
    n_particles: int = 6,
    radius: tuple[float, float] = (40.0, 80.0),
    fringe_period: float = 10.0,
    fringe_contrast: float = 0.15,
    support_level: float = 0.35,
    microscope: Microscope | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, CrystalTruth]:
    """Case (d): bright metal particles with faint lattice fringes on an amorphous support.

    Each particle is an ellipse (axes ``radius`` x 0.75-1 of it, random orientation) with a
    soft edge, a slightly domed HAADF intensity, and a square lattice of period
    ``fringe_period`` at its own random angle that modulates it by ``fringe_contrast``. The
    support is a random texture of 3 px correlation around ``support_level`` of a particle.

    Parameters
    ----------
    n_particles : int
        Particles wanted (fewer if they do not fit without overlap).
    radius : (float, float)
        Range of the long semi-axis, px.
    fringe_period, fringe_contrast : float
        Lattice period (px) and its modulation depth (fraction of the particle intensity).
    support_level : float
        Mean support intensity relative to a particle's centre.
    size, microscope, seed
        As in :func:`intensity_ratio_crystal`.

    Returns
    -------
    image : ndarray (size, size), float32 in [0, 1]
    truth : CrystalTruth
        ``label`` = inside a particle; ``sites["particles"]`` their centres; ``lattice_vectors``
        = ``fringe_period`` * identity (the angles of each particle are in ``params``).

    Examples
    --------
    >>> image, truth = particles_on_support(size=256, n_particles=2, seed=0)
    >>> int(truth.label(truth.sites["particles"]).sum())
    2
    """
    params = dict(locals())  # the call's arguments, recorded in truth
    microscope = microscope or Microscope()
    params["microscope"] = dataclasses.asdict(microscope)
    rng = np.random.default_rng(seed)
    centres, radii = _place_discs(size, n_particles, radius, rng)
    aspect = rng.uniform(0.75, 1.0, len(radii))
    angles = rng.uniform(0, np.pi, (len(radii), 2))  # ellipse axis, fringe lattice
    drift, offsets = _scan_offsets(size, microscope, rng)
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    points = np.column_stack([rows.ravel(), (cols + offsets[:, None]).ravel()]).astype(float)
    support = gaussian_filter(rng.standard_normal((size, size)), 3.0)
    clean = support_level * (1 + 0.3 * support / support.std()).ravel()
    for centre, r, asp, (t_axis, t_fringe) in zip(centres, radii, aspect, angles):
        rho = _ellipse_radius(points - centre, r, asp, t_axis)
        dome = 0.75 + 0.25 * np.sqrt(np.clip(1 - rho**2, 0, 1))
        g = 2 * np.pi / fringe_period * np.array([[np.cos(t_fringe), np.sin(t_fringe)]])
        g = np.vstack([g, g[:, ::-1] * [-1, 1]])  # two perpendicular fringe directions
        fringes = np.prod((1 + np.cos((points - centre) @ g.T)) / 2, axis=1)
        edge = expit((1 - rho) * r / 1.5)  # a soft edge of ~1.5 px
        clean = clean + edge * dome * (1 - fringe_contrast + fringe_contrast * fringes)
    image = _finish(np.clip(clean, 0, None).reshape(size, size), microscope, rng)

    def inside(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, float)
        rho = [
            _ellipse_radius(p - c, r, s, t)
            for c, r, s, (t, _) in zip(centres, radii, aspect, angles)
        ]
        return np.min(rho, axis=0) < 1 if rho else np.zeros(len(p), bool)

    params.update(radii=radii.tolist(), fringe_angles_deg=np.rad2deg(angles[:, 1]).tolist())
    vectors = fringe_period * np.eye(2)
    sites = {"particles": centres}
    return image, CrystalTruth("particles_on_support", vectors, params, sites, drift, None, inside)


def _ellipse_radius(q: np.ndarray, r: float, aspect: float, angle: float) -> np.ndarray:
    """Normalised radius of points q (N, 2) relative to an ellipse's centre: 1 on its edge."""
    u = np.array([np.cos(angle), np.sin(angle)])
    v = np.array([-u[1], u[0]])
    return np.hypot(q @ u / r, q @ v / (aspect * r))


def benchmark_family(
    seed: int = 0, microscope: Microscope | None = None
) -> dict[str, tuple[np.ndarray, CrystalTruth]]:
    """Every case with its default parameters: {name: (image, truth)}.

    ``microscope`` replaces the default recording of every case (e.g. a higher
    ``noise_level`` for a harder family).

    Examples
    --------
    >>> family = benchmark_family(seed=0)
    >>> sorted(family)[:2]
    ['bfo_like_stripes', 'displacement_domain']
    """
    cases = [
        intensity_ratio_crystal,
        displacement_domain_crystal,
        two_phase_crystal,
        particles_on_support,
        sto_like_crystal,
        bfo_like_stripes,
    ]
    family = {}
    for case in cases:
        image, truth = case(seed=seed, microscope=microscope)
        family[truth.name] = (image, truth)
    return family
