"""Dislocations and their Burgers vectors, from the phases of geometric phase analysis.

Around a dislocation the displacement field u does not close: a circuit around the core
gains the Burgers vector b.  GPA's phase of reflection g is ``P_g = -2 pi g.u``, so on a
circuit it winds by a whole number of turns, ``w_g = -g.b`` (Hytch, Putaux and Penisson,
Nature 423, 2003).  With two independent reflections (rows of G), ``b = -G^-1 w``: a
lattice vector, found without unwrapping any phase.

How cores are found: every pixel plaquette around which a filtered field's phase winds is a
candidate; candidates closer than the circuit's radius are one core, and the core is kept
only where a circle of that radius around it, lying on clear fringes, winds.  A pair of
noise vortices (low fringe amplitude, in holes or at defects) winds by nothing on such a
circle and is dropped.  Two dislocations closer than the radius are seen as one, with their
summed Burgers vector (none for a dipole).

Convention: b is the closure failure of the displacement on a counter-clockwise circuit as
displayed, ``b = loop-integral du``, in (row, col) pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shiftvae.analysis.columns import to_picometres

__all__ = ["TABLE", "Dislocation", "describe_dislocations", "find_dislocations"]

RADII = (3.0, 2.0)  # the circuit's radius in resolutions (the GPA mask's std in real
# space): the smaller where the larger leaves the clear fringes (near the image's edge)
CLEAR_SHARE = 1.0  # a circuit counts only where all of its points are on clear fringes


@dataclass(frozen=True)
class Dislocation:
    """One dislocation core.

    Attributes
    ----------
    row, col : float
        The core, px: the mean of the phase vortices that make it.
    burgers : ndarray (2,)
        The Burgers vector b (row, col) px, ``-G^-1 w`` for the refined reflections G.
    cells : ndarray (2,)
        b in units of the lattice vectors a1, a2 (b = cells @ vectors), rounded to 0.01.
    windings : tuple of int
        How many turns each reflection's phase makes on the circuit.
    """

    row: float
    col: float
    burgers: np.ndarray
    cells: np.ndarray
    windings: tuple[int, int]

    def as_dict(self, image=None) -> dict:
        """A JSON-ready record; the vector also in pm where ``image`` is calibrated."""
        out = {
            "row_px": round(self.row, 1),
            "col_px": round(self.col, 1),
            "burgers_px": [round(float(v), 3) for v in self.burgers],
            "burgers_length_px": round(float(np.linalg.norm(self.burgers)), 3),
            "burgers_cells": [round(float(v), 2) for v in self.cells],
        }
        pm, unit = to_picometres(self.burgers, image)
        if unit == "pm":
            out["burgers_pm"] = [round(float(v), 1) for v in pm]
            out["burgers_length_pm"] = round(float(np.linalg.norm(pm)), 1)
        return out

    def as_row(self) -> np.ndarray:
        """The values of :data:`TABLE` (a row of ``results.h5``'s table)."""
        return np.array([self.row, self.col, *self.burgers, *self.cells, *self.windings])

    @classmethod
    def from_row(cls, row) -> Dislocation:
        row = np.asarray(row, dtype=np.float64)
        return cls(float(row[0]), float(row[1]), row[2:4], row[4:6], (int(row[6]), int(row[7])))


TABLE = (
    "row_px",
    "col_px",
    "burgers_row_px",
    "burgers_col_px",
    "burgers_a1",
    "burgers_a2",
    "winding_g1",
    "winding_g2",
)


def find_dislocations(
    fields, g: np.ndarray, clear: np.ndarray, resolution: float, vectors: np.ndarray
) -> list[Dislocation]:
    """Dislocation cores of the filtered GPA fields.

    Parameters
    ----------
    fields : sequence of two complex ndarrays (H, W)
        The image demodulated by each reflection and averaged over the mask (any smooth
        reference phase: a gradient field winds by nothing on a closed circuit).
    g : ndarray (2, 2)
        The two reflections (rows, (row, col) cycles per pixel) that the phases measure.
    clear : ndarray (H, W) bool
        Where the fringes are clear (the circuits must run there).
    resolution : float
        The mask's std in real space, px.
    vectors : ndarray (2, 2)
        The lattice vectors (rows a1, a2), to express b in cells.

    Examples
    --------
    >>> rows, cols = np.mgrid[:96, :96].astype(float)
    >>> e = (cols - 48.3) + 1j * (rows - 47.6)  # its phase turns once around (47.6, 48.3)
    >>> found = find_dislocations([e, np.ones_like(e)], np.eye(2) / 8, np.ones((96, 96), bool),
    ...                           4.0, np.eye(2) * 8)
    >>> len(found), found[0].cells.tolist()
    (1, [1.0, 0.0])
    """
    g = np.asarray(g, dtype=np.float64)
    radii = [k * resolution for k in RADII]
    vortices = np.vstack([_vortices(e) for e in fields])
    if not len(vortices):
        return []
    found = []
    for centre in _clusters(vortices, radii[0]):
        for r in radii:
            windings = [_winding(e, centre, r, clear) for e in fields]
            if not any(w is None for w in windings):
                break
        if any(w is None for w in windings) or not any(windings):
            continue
        w = np.array(windings, dtype=np.float64)
        burgers = -np.linalg.solve(g, w)
        cells = np.round(burgers @ np.linalg.inv(np.asarray(vectors, float)), 2) + 0.0
        found.append(Dislocation(*map(float, centre), burgers, cells, tuple(windings)))
    return found


def describe_dislocations(records: list[dict]) -> str:
    """One line from the :meth:`Dislocation.as_dict` records: each core, its Burgers
    vector in cells and its length (pm where calibrated), or that none was found."""
    if not records:
        return "none found: the phases wind around no core"
    parts = []
    for r in records:
        a1, a2 = r["burgers_cells"]
        pm = r.get("burgers_length_pm")
        length = f"{pm:.0f} pm" if pm is not None else f"{r['burgers_length_px']:.2f} px"
        where = f"({r['row_px']:.0f}, {r['col_px']:.0f}) px"
        parts.append(f"b = {a1:+.2f} a1 {a2:+.2f} a2 ({length}) at {where}")
    return f"{len(records)}: " + "; ".join(parts)


def _vortices(e: np.ndarray) -> np.ndarray:
    """(N, 2) centres (row, col) of the pixel plaquettes around which arg(e) winds."""
    phase = np.angle(e)
    steps = (
        _wrap(phase[:-1, 1:] - phase[:-1, :-1])
        + _wrap(phase[1:, 1:] - phase[:-1, 1:])
        + _wrap(phase[1:, :-1] - phase[1:, 1:])
        + _wrap(phase[:-1, :-1] - phase[1:, :-1])
    )
    turns = np.round(steps / (2 * np.pi))
    return np.argwhere(turns != 0) + 0.5


def _clusters(points: np.ndarray, radius: float) -> list[np.ndarray]:
    """The mean of each group of points linked by steps shorter than ``radius``."""
    grid = np.zeros(np.ceil(points.max(0) + 2).astype(int), dtype=bool)
    grid[tuple(np.floor(points).astype(int).T)] = True
    near = ndimage.binary_dilation(grid, iterations=max(int(radius / 2), 1))
    labels, n = ndimage.label(near)
    owner = labels[tuple(np.floor(points).astype(int).T)]
    return [points[owner == k].mean(0) for k in range(1, n + 1)]


def _winding(e: np.ndarray, centre: np.ndarray, radius: float, clear: np.ndarray):
    """Turns of arg(e) on the counter-clockwise circle (as displayed) around ``centre``;
    None where the circle leaves the image or the clear fringes."""
    n = max(int(np.ceil(4 * np.pi * radius)), 16)  # steps of half a pixel
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    path = np.stack([centre[0] - radius * np.sin(t), centre[1] + radius * np.cos(t)])
    if (path < 0).any() or (path[0] > e.shape[0] - 1).any() or (path[1] > e.shape[1] - 1).any():
        return None
    if ndimage.map_coordinates(clear.astype(float), path, order=0).mean() < CLEAR_SHARE:
        return None
    values = ndimage.map_coordinates(e.real, path, order=1) + 1j * ndimage.map_coordinates(
        e.imag, path, order=1
    )
    phase = np.angle(values)
    return int(np.round(_wrap(np.diff(np.append(phase, phase[0]))).sum() / (2 * np.pi)))


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi
