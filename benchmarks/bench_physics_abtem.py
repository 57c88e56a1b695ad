"""Ti displacement in abTEM (PRISM) images of SrTiO3, beside Atomap, against dose.

The image of ``simulate_abtem_sto.py`` (SrTiO3 [001], 10 x 10 cells two cells thick, Ti
moved by +-25 pm along x in two domains, 200 kV, 21.4 mrad, 70-160 mrad detector, 0.2 A
pixels; shipped in ``benchmarks/data``) is recorded at several doses: each pixel's counts are
Poisson with mean dose (e/A^2) x pixel area x the simulated detector signal (the share of
the probe's electrons scattered onto the detector, 1.6% on a Sr column).  shiftvae measures
each Ti-O column from the centre of its four Sr (``find_columns``, ``cage_displacements``,
the site at the cell's centre); Atomap runs its two-sublattice workflow in its own
environment (``atomap_columns.py``).  Both are scored on each Ti found within 3 px of a true
one: the x displacement against the truth, in pm, over all and over the Ti both measured.

    bash benchmarks/setup_atomap_env.sh                   # once: .venv-atomap
    .venv/bin/python benchmarks/bench_physics_abtem.py    # ~1 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_physics_atomap import PEER, run_peer, side_by_side, summary
from scipy.spatial import cKDTree

from shiftvae.analysis.columns import cage_displacements, find_columns
from shiftvae.lattice.estimate import estimate_lattice

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "abtem_sto_domains.npz"
OUT = Path(__file__).parent / "results" / "bench_physics_abtem.json"
DOSES = (1e4, 3e4, 1e5, 1e6)


def score(found, moved, truth_rowcol, truth_pm, pm_per_px) -> dict[int, float]:
    """{true Ti index: x displacement error (pm)} for each found within 3 px of a true Ti."""
    ok = np.isfinite(found).all(1) & np.isfinite(moved).all(1)
    distance, index = cKDTree(truth_rowcol).query(found[ok])
    keep = distance < 3
    error = moved[ok][keep][:, 1] * pm_per_px - truth_pm[index[keep]]
    return dict(zip(index[keep].tolist(), error.tolist()))


def ours(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    columns = find_columns(image, estimate_lattice(image))
    frac = np.abs((columns.sites + 0.5) % 1 - 0.5)
    site = int(np.argmin(np.abs(frac - 0.5).sum(1)))  # the site at the cell's centre
    return (
        columns.positions[:, :, site].reshape(-1, 2),
        cage_displacements(columns, site).reshape(-1, 2),
    )


def atomap(image: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray, float]:
    peer = run_peer("atomap_columns.py", image=image, spacing=spacing)
    return peer["b_rowcol"], peer["moved_rowcol"], float(peer["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    if not PEER.is_file():
        raise SystemExit("no .venv-atomap: run  bash benchmarks/setup_atomap_env.sh  first")
    data = np.load(DATA)
    clean = data["image"].astype(np.float64)
    step = float(data["pixel_size_A"])
    pm_per_px = 100 * step
    truth_rc, truth_pm = data["ti_rowcol"], data["ti_shift_pm"]
    spacing = 3.905 / step
    rows = []
    for dose in (None, *DOSES):
        for seed in range(1 if dose is None else args.seeds):
            rng = np.random.default_rng(seed)
            counts = clean * (1.0 if dose is None else dose * step**2)
            image = counts if dose is None else rng.poisson(counts).astype(np.float64)
            tic = time.perf_counter()
            ours_e = score(*ours(image), truth_rc, truth_pm, pm_per_px)
            seconds = time.perf_counter() - tic
            b, moved, peer_seconds = atomap(image, spacing)
            theirs = score(b, moved, truth_rc, truth_pm, pm_per_px)
            common = set(ours_e) & set(theirs)
            row = {
                "dose_e_per_A2": dose,
                "seed": seed,
                "sr_peak_counts": None if dose is None else round(float(counts.max()), 1),
                "shiftvae": {**summary(ours_e, common), "seconds": round(seconds, 2)},
                "atomap": {**summary(theirs, common), "seconds": round(peer_seconds, 1)},
            }
            rows.append(row)
            label = f"dose {dose if dose else 'no noise'} seed {seed}"
            print(side_by_side(label, row, "Ti"), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
