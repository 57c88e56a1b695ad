"""One lattice registration of the whole image: which sublattice is which, decided once.

A patch's position anchor is the phase of its lattice's fundamental reflections g1, g2
(:meth:`shiftvae.model.lattice_fit.LatticeFit.anchor`).  Where two sublattices related by a
half-cell translation t look alike (the B/A ratio of a perovskite near 1), the fundamentals
fade and a patch alone cannot tell A from B: it picks a branch, and blocks of cells are read
half a cell off.  The whole image can tell them apart, because the lattice is continuous and
the sublattices differ elsewhere.  :func:`register` does that, as geometric phase analysis
does, on the least-squares Fourier coefficients of every patch:

1. **Image frame.**  Each patch's coefficient of reflection G, times exp(2 pi i G.c) for its
   centre c, has the geometric phase P_G = 2 pi G.u of the displacement u: smooth over the
   image, whatever the patch.
2. **The translation t.**  Of the half-cell translations (1/2, 0), (0, 1/2), (1/2, 1/2), the
   one that leaves the patches most nearly unchanged (least power in the reflections with
   G.t half-integer, the "weak" ones); the others, G.t integer, are "strong".
3. **A continuous reference.**  Two strong reflections s1, s2 spanning the strong sublattice
   (index 2) give the fundamentals' phases up to the flip by t: P* = M^-1 (P_s - kappa), M
   the integer matrix of s in (g1, g2), kappa their phase in the motif (found from all
   patches, weighted by the fundamentals' strength).  The flip's sign is made continuous
   across the grid along a maximum spanning tree of the neighbour pairs, so P* is one smooth
   field: strong reflections are clear everywhere.
4. **The branch, decided once.**  Each patch votes with its weak fundamentals projected on
   P*: + where its A sits at P*'s origin, - where B does.  The votes are smoothed over one
   cell; cells whose vote is clear (4 noise sigmas, the noise from neighbour differences) form
   connected regions, and regions of fewer than ``MIN_SUPPORT`` cells are dropped.  A real
   antiphase boundary is a step between two large clear regions and stays; every unclear cell
   takes the branch of the nearest clear one.  Without any clear cell the sublattices are
   alike everywhere: the true cell is the smaller one (one log line says so).

The anchor is then P* plus the branch, taken back to each patch's frame, for every patch:
the mean position of both sublattices, which the strong reflections give reliably.  A
patch's own fundamentals are not kept even where they agree: where B is nearly as bright as
A and displaced, their phase moves by a large part of the displacement (measured: up to a
fifth of the cell for B moved by an eighth), the strong reflections' by much less.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

__all__ = ["MIN_SUPPORT", "Registration", "register"]

logger = logging.getLogger(__name__)

MIN_SUPPORT = 8  # cells: a clear region smaller than this is noise, not a domain of its own
CLEAR_SIGMAS = 4.0  # a smoothed vote this many noise sigmas from 0 decides its cell
MAX_WEAK_SHARE = 0.35  # above, even the most alike patches differ: no branch to choose
MIN_BOUNDARY = 4  # cells: an antiphase boundary shorter than this is not trusted
_SMOOTH_CELLS = 1.0  # Gaussian std (cells) of the vote's smoothing
_REACH = 0.2  # cells: how far from the reference a column's peak is looked for
_TRANSLATIONS = np.array([[0.5, 0.0], [0.0, 0.5], [0.5, 0.5]])
_STRONG_BASES = {0: ((2, 0), (0, 1)), 1: ((1, 0), (0, 2)), 2: ((1, 1), (1, -1))}


@dataclass
class Registration:
    """The registration of one image's patches.

    Attributes
    ----------
    angles : ndarray (N, 2)
        Position anchor of each patch, radians: the phase of g1, g2 in the patch's frame.
    displacement : ndarray (N, 2)
        Displacement field u (row, col) in patch pixels, from the unwrapped strong phases plus
        the branch's half cell; its mean is removed.
    branch : ndarray (N,) int
        0 or 1: 1 where the other sublattice sits at the reference origin (moved by t):
        beyond an antiphase boundary, 0 being the branch of most cells.
    clear : ndarray (N,) bool
        Cells whose own vote decided the branch.
    flipped : ndarray (N,) bool
        Cells whose own phase (the patch alone) was on the other branch.
    translation : ndarray (2,) or None
        The half-cell translation t in fractions of (a1, a2); None when the fundamentals are
        not ambiguous anywhere (no strong sublattice to refer to).
    note : str
        One line for the log and the report.
    """

    angles: np.ndarray
    displacement: np.ndarray
    branch: np.ndarray
    clear: np.ndarray
    flipped: np.ndarray
    translation: np.ndarray | None
    note: str

    @property
    def n_flipped(self) -> int:
        """Cells the registration moved by half a cell from their own reading."""
        return int(self.flipped.sum())


def register(
    coefficients: np.ndarray,
    hk: np.ndarray,
    centers: np.ndarray,
    grid_shape: tuple[int, int],
    vectors: np.ndarray,
) -> Registration:
    """Register the patches of one image (method in the module notes).

    Parameters
    ----------
    coefficients : ndarray (N, n) complex
        a_G + i b_G of each patch's least-squares fit, for the n harmonics ``hk``.
    hk : ndarray (n, 2) int
        Harmonic indices (h, k) of G = h g1 + k g2; must hold (1, 0) and (0, 1).
    centers : ndarray (N, 2)
        Patch centres (row, col) in patch pixels.
    grid_shape : (rows, cols)
        Patch i sits at grid cell divmod(i, cols).
    vectors : ndarray (2, 2)
        Rows a1, a2 in patch pixels.

    Examples
    --------
    >>> hk = np.array([[1, 0], [0, 1], [1, 1], [1, -1]])
    >>> rows, cols = np.mgrid[0:6, 0:6] * 10.0
    >>> centers = np.stack([rows.ravel(), cols.ravel()], 1)
    >>> coef = np.ones((36, 4), complex)  # every patch sees A at its centre
    >>> reg = register(coef, hk, centers, (6, 6), np.eye(2) * 10)
    >>> reg.n_flipped, bool(np.allclose(reg.angles, 0))
    (0, True)
    """
    coef = np.asarray(coefficients, dtype=np.complex128)
    hk = np.asarray(hk, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float64)
    freqs = hk @ np.linalg.inv(vectors).T  # cycles/px
    image = coef * np.exp(2j * np.pi * np.asarray(centers, np.float64) @ freqs.T)
    fund = [_index(hk, (1, 0)), _index(hk, (0, 1))]
    local = np.angle(coef[:, fund])  # (N, 2): each patch's own anchor
    choice = _translation(coef, hk)
    if choice is None:
        return _unregistered(local, image[:, fund], centers, vectors, grid_shape)
    t, basis = choice
    m = hk[basis].astype(np.float64)  # rows s1, s2 in (h, k)
    own = np.angle(image[:, fund])  # geometric phases of the fundamentals, own branch
    weight = np.abs(image[:, fund]).prod(axis=1)
    kappa = np.angle((weight[:, None] * image[:, basis] * np.exp(-1j * own @ m.T)).sum(0))
    reference = np.angle(image[:, basis] * np.exp(-1j * kappa)) @ np.linalg.inv(m).T  # (N, 2)
    flip = 2 * np.pi * t  # what the other branch adds to (P1, P2)
    reference = _continuous(reference, flip, np.abs(image[:, basis]).min(axis=1), grid_shape)
    weak = np.abs(t) > 0  # the fundamentals the flip changes
    frame = -2 * np.pi * np.asarray(centers, np.float64) @ np.linalg.inv(vectors)  # (N, 2)
    scale = _cells_per_step(centers, grid_shape, vectors)
    vote = _peak_difference(coef, hk, reference + frame, t)
    branch, clear = _decide(vote, grid_shape, scale)
    if branch.mean() > 0.5:  # the reference is the branch of most cells: 1 is the minority
        reference, branch = reference + flip, 1 - branch
    registered = reference + branch[:, None] * flip
    sign = 1 - 2 * branch[:, None]
    votes = np.real(image[:, fund] * np.exp(-1j * reference))[:, weak]  # (N, 1 or 2)
    flipped = (votes * sign < 0).any(axis=1)  # the patch alone is off along some axis
    angles = _wrap(registered + frame)
    unwrapped = _unwrap_on_tree(reference, np.abs(image[:, basis]).min(axis=1), grid_shape)
    displacement = ((unwrapped + branch[:, None] * flip) / (2 * np.pi)) @ vectors
    displacement -= displacement.mean(axis=0)
    note = _note(branch, clear, flipped, t)
    logger.info("registration: %s", note)
    return Registration(angles, displacement, branch, clear, flipped, t, note)


def _index(hk: np.ndarray, target: tuple[int, int]) -> int:
    hit = np.flatnonzero((hk == target).all(axis=1))
    if not hit.size:
        raise ValueError(f"harmonic {target} is not among the lattice fit's harmonics")
    return int(hit[0])


def _translation(coef: np.ndarray, hk: np.ndarray):
    """(t, indices of the strong basis s1, s2) of the half-cell translation that leaves the
    patches most nearly unchanged, or None when none is available or even the patches nearest
    to alike keep more than ``MAX_WEAK_SHARE`` of their power in the reflections it changes
    (then the cell holds no pair of alike sublattices: it is the smallest that repeats)."""
    power = np.abs(coef) ** 2
    total = power.sum(axis=1) + 1e-300
    best = None
    for k, t in enumerate(_TRANSLATIONS):
        basis = [np.flatnonzero((hk == s).all(axis=1)) for s in _STRONG_BASES[k]]
        if not all(b.size for b in basis):
            continue
        weak = np.abs((hk @ t) % 1.0 - 0.5) < 1e-9
        share = power[:, weak].sum(axis=1) / total  # per patch: what the flip changes
        score = float(np.quantile(share, 0.1))  # the patches nearest to alike decide
        if best is None or score < best[0]:
            best = (score, t, [int(b[0]) for b in basis])
    if best is None or best[0] > MAX_WEAK_SHARE:
        return None
    return best[1], best[2]


def _peak_difference(coef, hk, angles, t) -> np.ndarray:
    """(N,) brightest value near the reference's site minus that near the site moved by t,
    both on each patch's Fourier series: which sublattice is the brighter one.  "Near":
    within ``_REACH`` of the cell along each axis, so a column displaced from the reference
    (the strong reflections' mean of both sublattices) is still found at its peak."""
    steps = np.linspace(-_REACH, _REACH, 5)
    offsets = np.stack(np.meshgrid(steps, steps, indexing="ij"), -1).reshape(-1, 2)  # (K, 2)
    tops = []
    for shift in (np.zeros(2), np.asarray(t, dtype=np.float64)):
        # phase of G at the site: h theta1 + k theta2 + 2 pi G.(shift + offset), cell units
        phase = (angles @ hk.T)[:, None, :] + 2 * np.pi * ((shift + offsets) @ hk.T)[None]
        values = np.real(coef[:, None, :] * np.exp(-1j * phase)).sum(-1)  # (N, K)
        tops.append(values.max(axis=1))
    return tops[0] - tops[1]


def _grid_edges(grid_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of horizontally and vertically neighbouring grid cells."""
    rows, cols = grid_shape
    idx = np.arange(rows * cols).reshape(rows, cols)
    i = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    j = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return i, j


def _tree_order(quality: np.ndarray, grid_shape: tuple[int, int]):
    """Breadth-first order and predecessors of a maximum spanning tree of the grid, edges
    weighted by the smaller ``quality`` of their two cells."""
    n = int(np.prod(grid_shape))
    i, j = _grid_edges(grid_shape)
    q = np.minimum(quality[i], quality[j])
    cost = q.max() - q + 1e-9 * (q.max() + 1.0)  # strictly positive: every edge is kept
    tree = minimum_spanning_tree(coo_matrix((cost, (i, j)), shape=(n, n)).tocsr())
    root = int(np.argmax(quality))
    return breadth_first_order(tree + tree.T, root, directed=False)


def _continuous(reference: np.ndarray, flip: np.ndarray, quality, grid_shape) -> np.ndarray:
    """The reference with the flip's sign made continuous across the grid."""
    order, parent = _tree_order(quality, grid_shape)
    out = reference.copy()
    for node in order[1:]:
        prev = out[parent[node]]
        here = out[node]
        if np.cos(here - prev).sum() < np.cos(here + flip - prev).sum():
            out[node] = here + flip
    return out


def _unwrap_on_tree(phase: np.ndarray, quality, grid_shape) -> np.ndarray:
    """Phases (N, 2) unwrapped along the maximum spanning tree of the grid."""
    order, parent = _tree_order(quality, grid_shape)
    out = phase.copy()
    for node in order[1:]:
        prev = out[parent[node]]
        out[node] = prev + _wrap(phase[node] - prev)
    return out


def _cells_per_step(centers, grid_shape, vectors) -> float:
    """Grid steps per lattice cell along a line: 1 for patches on the cells, about 2 for
    the paper's grid at half a 1.5-cell window."""
    c = np.asarray(centers, np.float64).reshape(*grid_shape, 2)
    steps = np.concatenate(
        [
            np.linalg.norm(np.diff(c, axis=0), axis=-1).ravel(),
            np.linalg.norm(np.diff(c, axis=1), axis=-1).ravel(),
        ]
    )
    cell = np.sqrt(abs(np.linalg.det(vectors)))
    return float(max(cell / max(np.median(steps), 1e-9), 1.0))


def _decide(vote: np.ndarray, grid_shape: tuple[int, int], scale: float = 1.0):
    """Branch (N,) and clear (N,) from the votes (see the module notes, step 4); ``scale``:
    grid steps per lattice cell, so that sizes and smoothing count lattice cells."""
    v = vote.reshape(grid_shape)
    diffs = np.concatenate([np.diff(v, axis=0).ravel(), np.diff(v, axis=1).ravel()])
    sigma = 1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2) + 1e-300
    kernel = np.zeros((4 * round(2 * scale) + 1,) * 2)
    kernel[(len(kernel) // 2,) * 2] = 1.0
    kernel = ndimage.gaussian_filter(kernel, _SMOOTH_CELLS * scale)
    smooth = ndimage.gaussian_filter(v, _SMOOTH_CELLS * scale, mode="nearest")
    clear = np.abs(smooth) > CLEAR_SIGMAS * sigma * np.sqrt((kernel**2).sum())
    labels = np.zeros(grid_shape, dtype=int)
    for sign in (1, -1):
        part, _ = ndimage.label(clear & (np.sign(smooth) == sign))
        sizes = np.bincount(part.ravel())
        big = np.flatnonzero(sizes >= MIN_SUPPORT * scale**2)
        big = big[big > 0]
        for k in big:
            labels[part == k] = (labels.max() + 1) * sign
    clear = labels != 0
    if not clear.any():
        return np.zeros(v.size, dtype=int), clear.ravel()
    _, nearest = ndimage.distance_transform_edt(~clear, return_indices=True)
    region = labels[nearest[0], nearest[1]]  # every cell joins its nearest clear region
    flips = _joined_regions(region, MIN_BOUNDARY * scale)
    branch = ((region < 0) ^ np.isin(region, flips)).astype(int)
    return branch.ravel(), clear.ravel()


def _joined_regions(region: np.ndarray, min_boundary: float) -> list[int]:
    """Regions whose own reading is on the other branch: those that meet a region of the
    opposite reading along fewer than ``min_boundary`` grid edges (no supported antiphase
    boundary between them), reached from the largest region along a maximum spanning tree of
    the regions weighted by their common boundary."""
    sizes = {int(k): int((region == k).sum()) for k in np.unique(region)}
    i, j = _grid_edges(region.shape)
    a, b = region.ravel()[i], region.ravel()[j]
    across = a != b
    pairs: dict[tuple[int, int], int] = {}
    for p, q in zip(a[across], b[across]):
        key = (int(min(p, q)), int(max(p, q)))
        pairs[key] = pairs.get(key, 0) + 1
    edges = sorted(pairs.items(), key=lambda e: -e[1])
    reversed_, done = set(), {max(sizes, key=sizes.get)}
    while len(done) < len(sizes):  # Prim's tree over the regions, longest boundary first
        step = next(((p, q), n) for (p, q), n in edges if (p in done) != (q in done))
        (p, q), n = step
        old, new = (p, q) if p in done else (q, p)
        supported = n >= min_boundary or (old < 0) == (new < 0)
        if (old in reversed_) != (not supported):
            reversed_.add(new)
        done.add(new)
    return sorted(reversed_)


def _unregistered(local, fundamentals, centers, vectors, grid_shape) -> Registration:
    """No half-cell ambiguity to resolve: each patch's own anchor, its unwrapped field."""
    n = len(local)
    quality = np.abs(fundamentals).min(axis=1)
    frame = 2 * np.pi * np.asarray(centers, np.float64) @ np.linalg.inv(vectors)
    unwrapped = _unwrap_on_tree(_wrap(local + frame), quality, grid_shape)
    displacement = (unwrapped / (2 * np.pi)) @ vectors
    zeros = np.zeros(n, dtype=bool)
    note = (
        "no half-cell translation to resolve (no two sublattices alike anywhere, or the cell "
        "is the smallest that repeats): each patch's own lattice phase is its anchor"
    )
    return Registration(
        local, displacement - displacement.mean(0), zeros.astype(int), ~zeros, zeros, None, note
    )


def _note(branch, clear, flipped, t) -> str:
    if not clear.any():
        return (
            "the two sublattices look alike everywhere: the smaller cell (moved by "
            f"{t.tolist()} of the cell) is the true one"
        )
    n = branch.size
    parts = [f"{int(flipped.sum())} of {n} cells moved by half a cell to the registered branch"]
    if 0 < branch.sum() < n:
        parts.append(f"{int(branch.sum())} cells beyond an antiphase boundary")
    parts.append(f"{int((~clear).sum())} cells decided by their neighbours")
    return "; ".join(parts)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return np.remainder(angle + np.pi, 2 * np.pi) - np.pi
