"""The scene of the generated benchmark crystals: how columns are placed, rendered and recorded.

:mod:`shiftvae.synthetic.crystals` builds its cases from these parts: :class:`Microscope` (noise
and scan distortions), :class:`CrystalTruth` (the known answer of a case) and the private
helpers that place lattice sites, draw smooth fields and domain walls, render Gaussian columns
and record them through the microscope.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from shiftvae.synthetic.probe import airy_spot

__all__ = ["CrystalTruth", "Microscope"]

PointFn = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Microscope:
    """How the specimen is recorded: noise and scan distortions.

    Attributes
    ----------
    noise : "poisson", "gaussian" or "none"
    noise_level : float
        Noise std relative to an A column's peak (Poisson: a dose of 1 / noise_level**2 counts
        at that peak; Gaussian: this std on a peak of 1).
    scan_jitter : float
        Std (px) of the random horizontal offset of each scan line.
    scan_drift : float
        Slow horizontal drift (px) from the first to the last line, plus a wobble of half that.
    background : float
        Flat background in units of an A column's peak (keeps Poisson noise between columns).
    convergence_mrad : float or None
        The probe's convergence semi-angle: each column is then seen through an
        aberration-free Airy probe (:mod:`.probe`) blurred by the source; None: bare
        Gaussian columns.
    energy_kv, source_pm, pixel_pm : float
        Beam energy, the source's Gaussian std and the pixel size (for the probe and dose).
    dose : float or None
        Electrons per square angstrom; sets the Poisson noise instead of ``noise_level``
        from the counts at an A column's peak, ``dose * pixel area * collection``.
    collection : float
        Share of the probe's electrons that an A column scatters onto the detector at its
        peak (HAADF: a few percent).

    Examples
    --------
    >>> from shiftvae.synthetic.crystals import intensity_ratio_crystal
    >>> image, truth = intensity_ratio_crystal(size=128, microscope=Microscope(noise="none"))
    """

    noise: Literal["poisson", "gaussian", "none"] = "poisson"
    noise_level: float = 0.08
    scan_jitter: float = 0.3
    scan_drift: float = 2.0
    background: float = 0.05
    convergence_mrad: float | None = None
    energy_kv: float = 200.0
    source_pm: float = 25.0
    pixel_pm: float = 14.0
    dose: float | None = None
    collection: float = 0.05

    def peak_counts(self) -> float:
        """Expected counts at an A column's peak: from ``dose`` where given, else
        ``1 / noise_level**2``."""
        if self.dose is None:
            return 1.0 / self.noise_level**2
        return self.dose * (self.pixel_pm / 100) ** 2 * self.collection


@dataclasses.dataclass(frozen=True, eq=False)
class CrystalTruth:
    """The known answer of a generated case, in image coordinates (row, col) px.

    Attributes
    ----------
    name : str
    lattice_vectors : ndarray (2, 2)
        The cell vectors (rows), (row, col) px, before the scan drift's shear.
    params : dict
        Every parameter of the call, ``microscope`` included.
    sites : dict of str to ndarray (M, 2)
        True column positions in the image ("A", "B"; particle centres for particles).
    drift : ndarray (rows,)
        Smooth horizontal scan offset per row: image column = specimen column - drift.
    field_fn, label_fn : callable or None
        The order parameter and label as functions of specimen points; use ``field`` / ``label``.

    Examples
    --------
    >>> from shiftvae.synthetic.crystals import displacement_domain_crystal
    >>> image, truth = displacement_domain_crystal(size=128, seed=0)
    >>> truth.label(truth.sites["B"]).shape == (len(truth.sites["B"]),)
    True
    """

    name: str
    lattice_vectors: np.ndarray
    params: dict[str, Any]
    sites: dict[str, np.ndarray]
    drift: np.ndarray
    field_fn: PointFn | None = None
    label_fn: PointFn | None = None

    def to_specimen(self, points: np.ndarray) -> np.ndarray:
        """Image points (N, 2) to specimen points (N, 2): undo the horizontal drift.

        Examples
        --------
        >>> from shiftvae.synthetic.crystals import two_phase_crystal
        >>> _, truth = two_phase_crystal(size=128, seed=0)
        >>> bool(truth.to_specimen([[0.0, 5.0]])[0, 1] == 5.0 + truth.drift[0])
        True
        """
        p = np.asarray(points, dtype=float).reshape(-1, 2)
        shift = np.interp(p[:, 0], np.arange(self.drift.size), self.drift)
        return np.column_stack([p[:, 0], p[:, 1] + shift])

    def field(self, points: np.ndarray) -> np.ndarray | None:
        """Continuous order parameter (N,) at image points (N, 2); None if the case has none.

        Examples
        --------
        >>> from shiftvae.synthetic.crystals import intensity_ratio_crystal
        >>> _, truth = intensity_ratio_crystal(size=128, seed=0)
        >>> truth.field([[64.0, 64.0], [10.0, 100.0]]).shape
        (2,)
        """
        if self.field_fn is None:
            return None
        return np.asarray(self.field_fn(self.to_specimen(points)), dtype=float)

    def displacement_errors(
        self, found: np.ndarray, moved: np.ndarray, site: str = "B", reach: float = 2.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Errors (px) of measured displacements along a1, for a case whose field is a
        displacement along a1 (the displacement-domain crystal).

        Of the columns ``found`` (N, 2) with a finite displacement ``moved`` (N, 2), those
        within ``reach`` px of a true ``site`` column are kept: returns their rows in
        ``found``, the indices of their true columns, and measured - true along a1.  a1's
        sign is the measurement's choice: the one that agrees with the truth is taken."""
        from scipy.spatial import cKDTree

        found, moved = np.asarray(found, float), np.asarray(moved, float)
        ok = np.isfinite(found).all(1) & np.isfinite(moved).all(1)
        distance, index = cKDTree(self.sites[site]).query(found[ok])
        keep = distance < reach
        expected = self.field(self.sites[site][index[keep]])
        axis = self.lattice_vectors[0] / np.linalg.norm(self.lattice_vectors[0])
        along = moved[ok][keep] @ axis
        along = along * (np.sign(np.sum(along * expected)) or 1.0)
        return np.flatnonzero(ok)[keep], index[keep], along - expected

    def label(self, points: np.ndarray) -> np.ndarray | None:
        """Domain / phase label (N,) in {0, 1} at image points (N, 2); None if none.

        Examples
        --------
        >>> from shiftvae.synthetic.crystals import particles_on_support
        >>> _, truth = particles_on_support(size=256, n_particles=1, seed=0)
        >>> truth.label(truth.sites["particles"]).tolist()
        [1]
        """
        if self.label_fn is None:
            return None
        return np.asarray(self.label_fn(self.to_specimen(points)), dtype=bool).astype(int)


# --- geometry ---------------------------------------------------------------------------


def _cell_vectors(cell: float, rotation_deg: float) -> np.ndarray:
    """Square cell (2, 2): row 0 mostly along columns, row 1 mostly along rows."""
    t = np.deg2rad(rotation_deg)
    return cell * np.array([[np.sin(t), np.cos(t)], [np.cos(t), -np.sin(t)]])


def _sites(shape: tuple[int, int], vectors: np.ndarray, origin: np.ndarray):
    """A (corner) and B (centre) sites covering the image and a margin of one cell."""
    cell = np.linalg.norm(vectors, axis=1).max()
    n = int(np.ceil(np.hypot(*shape) / cell / 2)) + 2
    k = np.arange(-n, n + 1)
    ij = np.stack(np.meshgrid(k, k, indexing="ij"), axis=-1).reshape(-1, 2)
    a = origin + ij @ vectors
    b = a + vectors.sum(axis=0) / 2
    inside = lambda p: np.all((p > -cell) & (p < np.asarray(shape) + cell), axis=1)  # noqa: E731
    return a[inside(a)], b[inside(b)]


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, n_waves: int = 3) -> PointFn:
    """Sum of plane waves of wavelength 0.7-1.4 image, rescaled to [0, 1] over the image."""
    size = max(shape)
    k = 2 * np.pi / (rng.uniform(0.7, 1.4, n_waves) * size)
    theta = rng.uniform(0, np.pi, n_waves)
    kvec = k[:, None] * np.column_stack([np.cos(theta), np.sin(theta)])
    phase = rng.uniform(0, 2 * np.pi, n_waves)
    raw = lambda p: np.cos(p @ kvec.T + phase).sum(axis=1)  # noqa: E731
    values = raw(_grid(shape))
    lo, hi = values.min(), values.max()
    return lambda p: np.clip((raw(np.asarray(p, float)) - lo) / (hi - lo), 0.0, 1.0)


def _wall(shape: tuple[int, int], rng: np.random.Generator) -> PointFn:
    """Signed distance (to first order) to a smooth curved wall near the image centre."""
    size = max(shape)
    angle = rng.uniform(0, np.pi)
    tangent = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-tangent[1], tangent[0]])
    centre = np.asarray(shape) / 2 + rng.uniform(-0.1, 0.1, 2) * size
    amp, k = 0.08 * size, 2 * np.pi / (rng.uniform(0.6, 1.0) * size)
    phi = rng.uniform(0, 2 * np.pi)

    def distance(p: np.ndarray) -> np.ndarray:
        q = np.asarray(p, float) - centre
        t = q @ tangent
        # dividing by the slope's norm turns the offset along the normal into a distance
        return (q @ normal - amp * np.sin(k * t + phi)) / np.hypot(1, amp * k * np.cos(k * t + phi))

    return distance


def _grid(shape: tuple[int, int], step: int = 4) -> np.ndarray:
    """Pixel centres every ``step`` px (M, 2): where image-wide statistics of a field are taken."""
    r, c = np.meshgrid(np.arange(0, shape[0], step), np.arange(0, shape[1], step), indexing="ij")
    return np.column_stack([r.ravel(), c.ravel()]).astype(float)


# --- recording --------------------------------------------------------------------------


def _scan_offsets(rows: int, microscope: Microscope, rng: np.random.Generator):
    """(smooth drift, drift + per-line jitter), each (rows,) px: pixel (r, c) sees c + offset[r]."""
    t = np.arange(rows) / rows
    drift = microscope.scan_drift * (t - 0.5 + 0.5 * np.sin(2 * np.pi * t + rng.uniform(0, 6.3)))
    return drift, drift + microscope.scan_jitter * rng.standard_normal(rows)


def _render_columns(
    shape, positions, heights, width, offsets: np.ndarray, microscope: Microscope | None = None
) -> np.ndarray:
    """Columns, each splatted in its own small window (fast: no full-image sum per atom).

    ``width``: the Gaussian std in px, or a pair (along rows, along columns).  With a
    ``microscope`` that has a convergence angle, each column is that Gaussian seen through
    its probe (peak 1).  Pixel (r, c) sees the specimen at (r, c + offsets[r]), so the
    jitter is exact, not resampled.
    """
    rows, cols = shape
    wr, wc = np.broadcast_to(np.asarray(width, dtype=float), (2,))
    spot = None
    if microscope is not None and microscope.convergence_mrad:
        m = microscope
        spot, half = airy_spot(width, m.convergence_mrad, m.energy_kv, m.source_pm, m.pixel_pm)
    else:
        half = int(np.ceil(4 * max(wr, wc))) + 2
    off = np.arange(-half, half + 1)
    r_idx = np.round(positions[:, 0]).astype(int)[:, None] + off  # (M, K)
    r_safe = np.clip(r_idx, 0, rows - 1)
    c0 = positions[:, 1] - offsets[np.clip(np.round(positions[:, 0]).astype(int), 0, rows - 1)]
    c_idx = np.round(c0).astype(int)[:, None] + off  # (M, K)
    dr = r_idx - positions[:, :1]  # (M, K)
    dc = c_idx[:, None, :] + offsets[r_safe][:, :, None] - positions[:, 1, None, None]
    if spot is None:
        gr = np.exp(-0.5 * (dr / wr) ** 2)
        values = heights[:, None, None] * gr[:, :, None] * np.exp(-0.5 * (dc / wc) ** 2)
    else:
        where = np.stack(np.broadcast_arrays(dr[:, :, None], dc), axis=-1)
        values = heights[:, None, None] * spot(where)
    valid = ((r_idx >= 0) & (r_idx < rows))[:, :, None] & ((c_idx >= 0) & (c_idx < cols))[:, None]
    flat = r_idx[:, :, None] * cols + c_idx[:, None, :]
    image = np.bincount(flat[valid], weights=values[valid], minlength=rows * cols)
    return image.reshape(shape)


def _finish(clean: np.ndarray, microscope: Microscope, rng: np.random.Generator) -> np.ndarray:
    """Add background and noise, then scale to [0, 1] as float32."""
    clean = clean + microscope.background
    if microscope.noise == "poisson":
        dose = microscope.peak_counts()
        clean = rng.poisson(clean * dose) / dose
    elif microscope.noise == "gaussian":
        clean = clean + microscope.noise_level * rng.standard_normal(clean.shape)
    lo, hi = clean.min(), clean.max()
    return ((clean - lo) / (hi - lo)).astype(np.float32)


def _record(shape, columns: dict[str, tuple[np.ndarray, np.ndarray]], width, microscope, rng):
    """Image of the named columns {name: (positions, heights)}, its drift and the sites seen."""
    drift, offsets = _scan_offsets(shape[0], microscope, rng)
    positions = np.vstack([p for p, _ in columns.values()])
    heights = np.concatenate([h for _, h in columns.values()])
    clean = _render_columns(shape, positions, heights, width, offsets, microscope)
    image = _finish(clean, microscope, rng)
    sites = {}
    for name, (p, _) in columns.items():
        seen = p.copy()
        seen[:, 1] -= np.interp(p[:, 0], np.arange(shape[0]), drift)
        sites[name] = seen[np.all((seen >= 0) & (seen <= np.asarray(shape) - 1), axis=1)]
    return image, drift, sites


def _setup(params: dict[str, Any]):
    """Shape, cell vectors, origin, A and B sites, microscope and generator of a crystal.

    ``params`` holds the call's arguments; its microscope becomes a plain dict for the record.
    """
    microscope = params["microscope"] or Microscope()
    params["microscope"] = dataclasses.asdict(microscope)
    rng = np.random.default_rng(params["seed"])
    shape = (int(params["size"]), int(params["size"]))
    vectors = _cell_vectors(params["cell"], params["rotation_deg"])
    origin = np.asarray(shape) / 2 + rng.uniform(0, 1, 2) @ vectors
    a, b = _sites(shape, vectors, origin)
    return shape, vectors, origin, a, b, microscope, rng
