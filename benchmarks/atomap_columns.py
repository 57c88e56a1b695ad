"""Atomap's two-sublattice workflow on images saved by bench_physics_atomap.py.

Runs in .venv-atomap (``bash benchmarks/setup_atomap_env.sh``), which has Atomap and
HyperSpy but not shiftvae.  For each image: the bright sublattice (A) from local maxima at
least 0.8 of the A-A distance apart, refined by centre of mass and by a 2D Gaussian per
column; each B started at the centre of its four nearest A, refined the same way on the
image with the A columns subtracted (Atomap's ``remove_atoms_from_image_using_2d_gaussian``),
as in Atomap's perovskite tutorial.  Each B is then measured from the centre of its four A.

    .venv-atomap/bin/python benchmarks/atomap_columns.py IN.npz OUT.npz
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def main(src: str, dst: str) -> None:
    import atomap.api as am
    from atomap.tools import remove_atoms_from_image_using_2d_gaussian
    from scipy.spatial import cKDTree

    data = np.load(src)
    image, spacing = data["image"].astype(np.float64), float(data["spacing"])
    image = image - image.min()  # Atomap wants no negative pixels
    tic = time.perf_counter()
    signal = am.dummy_data.get_simple_cubic_signal()  # any signal: replaced below
    signal = type(signal)(image)
    found = am.get_atom_positions(signal, separation=max(2, int(0.8 * spacing)))
    a = am.Sublattice(found, image=image)
    a.find_nearest_neighbors()
    a.refine_atom_positions_using_center_of_mass()
    a.refine_atom_positions_using_2d_gaussian()
    a_xy = np.column_stack([a.x_position, a.y_position])  # (x, y) = (col, row)
    tree = cKDTree(a_xy)
    # B starts at the centre of each square of four A: the lattice vectors are the medians
    # of the neighbour vectors, folded into two directions 90 degrees apart
    _, index = tree.query(a_xy, k=5)
    steps = (a_xy[index[:, 1:]] - a_xy[:, None]).reshape(-1, 2)
    steps = steps[np.abs(np.linalg.norm(steps, axis=1) - spacing) < 0.3 * spacing]
    angle = np.degrees(np.arctan2(steps[:, 1], steps[:, 0])) % 180
    steps[np.degrees(np.arctan2(steps[:, 1], steps[:, 0])) % 360 >= 180] *= -1
    first = np.median(angle)
    near = np.abs(((angle - first + 90) % 180) - 90) < 45
    v1, v2 = np.median(steps[near], axis=0), np.median(steps[~near], axis=0)
    starts = a_xy + (v1 + v2) / 2
    inside = (
        (starts[:, 0] > 3) & (starts[:, 1] > 3)
        & (starts[:, 0] < image.shape[1] - 4) & (starts[:, 1] < image.shape[0] - 4)
    )  # fmt: skip
    without_a = remove_atoms_from_image_using_2d_gaussian(a.image, a, show_progressbar=False)
    b = am.Sublattice(starts[inside], image=without_a)
    b.find_nearest_neighbors()
    b.refine_atom_positions_using_center_of_mass()
    b.refine_atom_positions_using_2d_gaussian()
    b_xy = np.column_stack([b.x_position, b.y_position])
    distance, index = tree.query(b_xy, k=4)
    cage = a_xy[index].mean(axis=1)
    # an edge B whose four nearest A do not surround it has no cage
    cage[distance[:, -1] > 0.85 * spacing] = np.nan
    seconds = time.perf_counter() - tic
    np.savez(
        dst,
        b_rowcol=b_xy[:, ::-1],
        moved_rowcol=(b_xy - cage)[:, ::-1],
        a_rowcol=a_xy[:, ::-1],
        seconds=seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
