"""Atomap's positions of the brightest sublattice, for real_images_atomap.py.

Runs in .venv-atomap: local maxima at least ``separation`` px apart, refined by centre of
mass and by a 2D Gaussian per column (Atomap's tutorial).

    .venv-atomap/bin/python benchmarks/atomap_sublattice.py IN.npz OUT.npz
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def main(src: str, dst: str) -> None:
    import atomap.api as am

    data = np.load(src)
    image = data["image"].astype(np.float64)
    image = image - image.min()
    tic = time.perf_counter()
    signal = am.dummy_data.get_simple_cubic_signal()
    signal = type(signal)(image)
    found = am.get_atom_positions(signal, separation=int(data["separation"]))
    a = am.Sublattice(found, image=image)
    a.find_nearest_neighbors()
    a.refine_atom_positions_using_center_of_mass()
    a.refine_atom_positions_using_2d_gaussian()
    np.savez(
        dst,
        a_rowcol=np.column_stack([a.y_position, a.x_position]),
        seconds=time.perf_counter() - tic,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
