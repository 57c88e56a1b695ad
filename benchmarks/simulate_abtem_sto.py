"""HAADF-STEM images of SrTiO3 with Ti displaced in two domains, simulated with abTEM (PRISM).

Run in its own environment (abTEM from PyPI, as a user installs it):

    python3 -m venv .venv-abtem && .venv-abtem/bin/pip install abtem
    .venv-abtem/bin/python benchmarks/simulate_abtem_sto.py     # ~10 min on 2 cores

SrTiO3 [001], 10 x 10 cells, two cells thick; every Ti (with its column's O) moved by
+25 pm along x in the left half and -25 pm in the right half (a 180-degree wall); 200 kV,
21.4 mrad, annular detector 70-160 mrad, PRISM with interpolation 4, scan sampling 0.2 A.
Writes ``benchmarks/data/abtem_sto_domains.npz``: the noise-free image (rows = y), the
pixel size in A, the true Sr and Ti column positions (row, col) px and each Ti's
displacement along x (pm).  The benchmark adds Poisson noise at chosen doses.
"""

from __future__ import annotations

import time
from pathlib import Path

import abtem
import numpy as np
from ase import Atoms

A = 3.905  # SrTiO3, A
CELLS, THICK = 10, 2
SHIFT = 0.25  # A
OUT = Path(__file__).parent / "data" / "abtem_sto_domains.npz"


def crystal() -> tuple[Atoms, np.ndarray]:
    cell = Atoms(
        "SrTiO3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=[A, A, A],
        pbc=True,
    )
    atoms = cell * (CELLS, CELLS, THICK)
    pos = atoms.get_positions()
    ti_column = np.isclose(pos[:, 0] % A, A / 2) & np.isclose(pos[:, 1] % A, A / 2)
    left = pos[:, 0] < CELLS * A / 2
    pos[ti_column, 0] += np.where(left[ti_column], SHIFT, -SHIFT)
    atoms.set_positions(pos)
    return atoms, ti_column


def main() -> None:
    atoms, _ = crystal()
    abtem.config.set({"device": "cpu"})
    potential = abtem.Potential(atoms, sampling=0.05, slice_thickness=1.0, projection="infinite")
    smatrix = abtem.SMatrix(
        potential=potential, energy=200e3, semiangle_cutoff=21.4, interpolation=4
    )
    scan = abtem.GridScan(start=(0, 0), end=(CELLS * A, CELLS * A), sampling=0.2)
    detector = abtem.AnnularDetector(inner=70, outer=160)
    tic = time.time()
    measured = smatrix.scan(scan=scan, detectors=detector).compute()
    print(f"PRISM {time.time() - tic:.0f} s")
    image = np.asarray(measured.array, dtype=np.float64).T  # (x, y) -> rows = y, cols = x
    step = scan.sampling[0]
    n = np.arange(CELLS)
    sr = np.stack(np.meshgrid(n, n, indexing="ij"), -1).reshape(-1, 2) * A  # (y, x)
    ti = sr + A / 2
    moved = np.where(ti[:, 1] < CELLS * A / 2, SHIFT, -SHIFT)
    ti_seen = ti.copy()
    ti_seen[:, 1] += moved
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        image=image.astype(np.float32),
        pixel_size_A=step,
        sr_rowcol=sr / step,
        ti_rowcol=ti_seen / step,
        ti_shift_pm=moved * 100,
    )
    print(f"written {OUT}: {image.shape} px of {step:.3f} A")


if __name__ == "__main__":
    main()
